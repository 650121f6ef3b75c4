/**
 * What one `LatchkeyHttp` shares with the internal steps of the protocol (authentication, token
 * issuing, the auth routes, error responses): the engine, the resolved settings, and what is derived
 * from them once rather than per request. Internal: apps hold a `LatchkeyHttp`, never this.
 *
 * It exists so that the steps are plain functions over a context, in modules of their own, and the
 * routes never import the class that dispatches to them (no core ↔ routes cycle).
 */
import type { Latchkey } from '../engine.js';
import { resolveApiKeyAuthSettings, type ApiKeyAuthSettings } from './api-key-auth.js';
import { clearingCookies } from './cookies.js';
import { resolveHttpSettings, type LatchkeyHttpOptions, type ResolvedHttpSettings } from './options.js';
import { authTargetFilter } from './target-filter.js';

export interface HttpContext {
  readonly engine: Latchkey;
  readonly settings: ResolvedHttpSettings;
  /** The `set-cookie` headers that expire every session cookie. */
  readonly clearing: readonly [string, string][];
  /** The cookies an authenticated request may carry, built once rather than per request. */
  readonly sessionCookies: ReadonlySet<string>;
  readonly apiKeyAuth: ApiKeyAuthSettings;
  /** False when a raw request target certainly names no auth route (see target-filter.ts). */
  readonly mayBeAuthTarget: (target: string) => boolean;
}

export function createHttpContext(engine: Latchkey, options: LatchkeyHttpOptions | undefined): HttpContext {
  const settings = resolveHttpSettings(options);
  const { names } = settings;
  return {
    engine,
    settings,
    // Depends on settings alone, which never change: built once, reused by every sign-out and failure.
    clearing: clearingCookies(settings).map((value): [string, string] => ['set-cookie', value]),
    sessionCookies: new Set([names.access, names.front, names.csrf]),
    apiKeyAuth: resolveApiKeyAuthSettings(options ?? {}),
    mayBeAuthTarget: authTargetFilter(settings.basePath, settings.jwksPath),
  };
}
