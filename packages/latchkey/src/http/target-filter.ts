/**
 * A cheap pre-check of the raw request target against the auth routes, so that the routes handler
 * every request passes through can say "not mine" without parsing a URL. It may answer "maybe" for a
 * target that is not an auth route (the full match on the parsed path then decides); it must never
 * answer "no" for one that is, or an auth route would fall through to the app.
 *
 * The routes match the WHATWG-parsed path (`new URL(...)`). For a target without backslashes,
 * whitespace or control characters, dot segments (`/.`, and their encoded form `%2e`), that parse only
 * percent-encodes characters that the base path and JWKS path cannot contain (options.ts allows
 * `[A-Za-z0-9._~-]` and `/`), so the parsed path has one of those prefixes only if the raw one has.
 * Anything else (`/a/../auth/refresh`, `/auth\refresh`, an absolute-form target from a proxy) goes to
 * the full match.
 */

// What the URL parser would rewrite: `\` (a slash in special URLs), whitespace and controls (stripped
// or encoded), dot segments in either spelling.
// eslint-disable-next-line no-control-regex -- control characters are what this test looks for.
const NEEDS_PARSING = /[\\\x00-\x20\x7f]|\/\.|%2e/i;

/** Returns a test that is false only when `target` certainly names none of the auth routes. */
export function authTargetFilter(basePath: string, jwksPath: string | undefined): (target: string) => boolean {
  const prefix = `${basePath}/`;
  return (target) => {
    // Origin-form only; absolute-form and `*` are rare enough to parse.
    if (target.charCodeAt(0) !== 0x2f /* / */) return true;
    const end = pathEnd(target);
    const path = end === target.length ? target : target.slice(0, end);
    if (NEEDS_PARSING.test(path)) return true;
    return path.startsWith(prefix) || path === jwksPath;
  };
}

function pathEnd(target: string): number {
  const query = target.indexOf('?');
  const fragment = target.indexOf('#');
  if (query === -1) return fragment === -1 ? target.length : fragment;
  return fragment === -1 || query < fragment ? query : fragment;
}
