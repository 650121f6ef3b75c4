/**
 * The session cookies: reading them (refusing duplicates) and writing them with exactly the
 * attributes the protocol fixes. Parsing and serialising are the `cookie` package's.
 */
import { parse, serialize } from 'cookie';
import { CookieConflictError } from './errors.js';
import type { ResolvedHttpSettings } from './options.js';

/** RFC 6265 §6.1 minimum, and the ASVS V3.3 bound on name plus value. */
export const MAX_COOKIE_BYTES = 4096;

const identity = (value: string): string => value;
const PARSE_OPTIONS = { decode: identity };

/**
 * Reads the named cookies from a `Cookie` header. Two cookies with the same name are refused: a
 * sibling host (or an old `Domain` setting) can plant a second copy that the browser sends alongside
 * ours ("cookie tossing"), and whichever copy a parser picks, the attacker may choose which session
 * the user acts in. The header is split into pairs at `;` (RFC 6265 §4.2.1); each pair is parsed by
 * `cookie`.
 *
 * A pair whose text does not contain a wanted name cannot set that cookie (the parsed name is a
 * trimmed substring of the pair), so it is skipped unparsed: the other cookies of a site (analytics,
 * preferences) are most of a typical header. Pass a Set to save building one per call.
 */
export function readCookies(header: string | null, names: readonly string[] | ReadonlySet<string>): Map<string, string> {
  const found = new Map<string, string>();
  if (!header) return found;
  const wanted: ReadonlySet<string> = names instanceof Set ? names : new Set(names as readonly string[]);
  for (const pair of header.split(';')) {
    if (!mentionsAny(pair, wanted)) continue;
    const parsed = parse(pair, PARSE_OPTIONS);
    for (const name of Object.keys(parsed)) {
      if (!wanted.has(name)) continue;
      if (found.has(name)) throw new CookieConflictError();
      found.set(name, parsed[name] ?? '');
    }
  }
  return found;
}

function mentionsAny(pair: string, names: ReadonlySet<string>): boolean {
  for (const name of names) if (pair.includes(name)) return true;
  return false;
}

export interface CookieSpec {
  name: string;
  value: string;
  httpOnly: boolean;
  sameSite: 'lax' | 'strict';
  path: string;
  /** Seconds; 0 clears. */
  maxAge: number;
}

function cookieBytes(name: string, value: string): number {
  return new TextEncoder().encode(name).byteLength + new TextEncoder().encode(value).byteLength;
}

/** True when a cookie of this name and value fits the 4096-byte bound. */
export function cookieFits(name: string, value: string): boolean {
  return cookieBytes(name, value) <= MAX_COOKIE_BYTES;
}

/** One `Set-Cookie` value. Always `Secure`: localhost is a secure context, so this works in development too. */
export function setCookieHeader(spec: CookieSpec, domain: string | undefined): string {
  return serialize(spec.name, spec.value, {
    encode: identity,
    maxAge: spec.maxAge,
    ...(spec.maxAge === 0 ? { expires: new Date(0) } : {}),
    ...(domain === undefined ? {} : { domain }),
    path: spec.path,
    httpOnly: spec.httpOnly,
    secure: true,
    sameSite: spec.sameSite,
  });
}

/** The three (four in token-CSRF mode) cookie specs of the protocol, without values. */
export function cookieShapes(settings: ResolvedHttpSettings): { access: Omit<CookieSpec, 'value' | 'maxAge'>; refresh: Omit<CookieSpec, 'value' | 'maxAge'>; front: Omit<CookieSpec, 'value' | 'maxAge'>; csrf: Omit<CookieSpec, 'value' | 'maxAge'> } {
  const { names, sameSite } = settings;
  return {
    access: { name: names.access, httpOnly: true, sameSite, path: '/' },
    refresh: { name: names.refresh, httpOnly: true, sameSite: 'strict', path: settings.refreshPath },
    // Readable by the page on purpose: it holds only the ID token, which the UI may show.
    front: { name: names.front, httpOnly: false, sameSite, path: '/' },
    // Readable so that the page can echo it in X-Latchkey-CSRF (double submit, bound to the session).
    csrf: { name: names.csrf, httpOnly: false, sameSite, path: '/' },
  };
}

/**
 * `Set-Cookie` values that expire every session cookie, on the current host (or configured domain)
 * and on every stale domain.
 */
export function clearingCookies(settings: ResolvedHttpSettings): string[] {
  const shapes = cookieShapes(settings);
  const list = [shapes.access, shapes.refresh, shapes.front, ...(settings.csrf.mode === 'token' ? [shapes.csrf] : [])];
  const headers: string[] = [];
  for (const shape of list) {
    headers.push(setCookieHeader({ ...shape, value: '', maxAge: 0 }, settings.cookieDomain));
    for (const domain of settings.staleDomains) {
      // `__Host-` cookies can never carry a Domain, so a stale Domain copy of the access cookie can
      // only exist under the `__Secure-` name a shared-domain configuration used.
      const name = shape.name.startsWith('__Host-') ? `__Secure-${shape.name.slice('__Host-'.length)}` : shape.name;
      headers.push(setCookieHeader({ ...shape, name, value: '', maxAge: 0 }, domain));
    }
  }
  return headers;
}
