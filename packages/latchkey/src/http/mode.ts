/**
 * The transport of a request: cookie mode (browser, httpOnly cookies, CSRF checks) or header mode
 * (bearer tokens, no ambient credential), as the request asks with `X-Latchkey-Mode` and within what
 * the server allows.
 */
import { invalidRequest } from './errors.js';
import type { ResolvedHttpSettings, TransportMode } from './options.js';
import type { HttpRequest } from './request.js';

export const MODE_HEADER = 'x-latchkey-mode';

/** The request's transport; throws INVALID_REQUEST for a mode that is unknown or not enabled. */
export function modeOf(settings: ResolvedHttpSettings, request: HttpRequest): TransportMode {
  const asked = request.headers.get(MODE_HEADER);
  const { modes } = settings;
  if (asked === null) return modes.cookie ? 'cookie' : 'header';
  const value = asked.trim().toLowerCase();
  if (value === 'header' || value === 'cookie') {
    if (!modes[value]) throw invalidRequest(`${value} mode is not enabled on this server`);
    return value;
  }
  throw invalidRequest('X-Latchkey-Mode must be header or cookie');
}

/** {@link modeOf}, or undefined when the request names no valid mode (for answering an error, which must not throw). */
export function modeIfValid(settings: ResolvedHttpSettings, request: HttpRequest): TransportMode | undefined {
  try {
    return modeOf(settings, request);
  } catch {
    return undefined;
  }
}
