/**
 * The Fetch API types that the SDK's public signatures mention, declared without the DOM library.
 *
 * Where the global types exist (the DOM library in a browser project, or @types/node, which declares
 * fetch globally) each alias is exactly the global type, so `latchkey.fetch()` returns the app's own
 * `Response`. Where they do not (React Native, a project with `lib: ["ES2023"]` only), the aliases
 * fall back to the minimal shapes below, so the SDK's declarations still type-check instead of
 * failing on `Cannot find name 'RequestInfo'`.
 */

interface MinimalHeaders {
  get(name: string): string | null;
  has(name: string): boolean;
  set(name: string, value: string): void;
  delete(name: string): void;
}

interface MinimalResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: MinimalHeaders;
  clone(): MinimalResponse;
  json(): Promise<unknown>;
  text(): Promise<string>;
}

interface MinimalRequestInit {
  method?: string;
  headers?: Record<string, string> | [string, string][] | MinimalHeaders;
  body?: unknown;
  credentials?: 'omit' | 'same-origin' | 'include';
  signal?: unknown;
}

type Globals = typeof globalThis;

/** The global `Response`, or a minimal stand-in without the DOM library. */
export type FetchResponse = Globals extends { Response: { prototype: infer R } } ? R : MinimalResponse;

/** The global `Headers`, or a minimal stand-in without the DOM library. */
export type FetchHeaders = Globals extends { Headers: { prototype: infer H } } ? H : MinimalHeaders;

/** The global `fetch`'s type, or a minimal stand-in without the DOM library. */
export type FetchFunction = Globals extends { fetch: infer F } ? F : (input: string | { readonly href: string }, init?: MinimalRequestInit) => Promise<MinimalResponse>;

/** What `fetch` accepts as its first argument (`RequestInfo | URL` with the DOM library). */
export type FetchInput = FetchFunction extends (input: infer I, ...rest: never[]) => unknown ? I : never;

/** What `fetch` accepts as its second argument (`RequestInit` with the DOM library). */
export type FetchInit = FetchFunction extends (input: never, init?: infer N) => unknown ? NonNullable<N> : never;
