/**
 * Turns an error into the response every adapter sends, with everything the protocol puts on it:
 * the status and typed body (from the error table), the RFC 6750 `WWW-Authenticate` challenge in
 * header mode, `Cache-Control: no-store`, and cleared cookies where the session ends on the client.
 *
 * The challenge depends on the request's transport. Errors the core throws from a request it has
 * already classified (sign-in, sign-out, `getSession`) remember that transport here, so an app's
 * error handler that has only the error (Hono's `app.onError`, node's `sendError(res, error)`)
 * answers exactly as one that also has the request. That is what keeps the four adapters alike.
 */
import type { HttpContext } from './context.js';
import { CookieConflictError, mapError } from './errors.js';
import { modeIfValid } from './mode.js';
import type { TransportMode } from './options.js';
import type { HttpRequest } from './request.js';
import { jsonResponse, type HttpResponse } from './response.js';

/** The transport of the request each error was thrown for; weak, so an error is never kept alive by it. */
const THROWN_IN = new WeakMap<object, TransportMode>();

/** Remembers that `error` was thrown while serving a request in `mode`; returns it, for `throw rememberMode(...)`. */
export function rememberMode(error: unknown, mode: TransportMode): unknown {
  if (typeof error === 'object' && error !== null && !THROWN_IN.has(error)) THROWN_IN.set(error, mode);
  return error;
}

/** Runs `work`, remembering the transport of whatever it throws. */
export async function inMode<T>(mode: TransportMode, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw rememberMode(error, mode);
  }
}

/**
 * Where the transport of a failed request comes from: the mode itself, the request (its
 * `X-Latchkey-Mode`), or nothing, in which case the transport the error was thrown in, if known.
 */
export type ErrorContext = TransportMode | HttpRequest | undefined;

function modeFor(ctx: HttpContext, error: unknown, context: ErrorContext): TransportMode | undefined {
  if (context === 'cookie' || context === 'header') return context;
  const remembered = typeof error === 'object' && error !== null ? THROWN_IN.get(error) : undefined;
  if (remembered !== undefined || context === undefined) return remembered;
  return modeIfValid(ctx.settings, context);
}

/** The response for an error (typed codes; a generic 500 for anything unexpected, which is reported to `onError`). */
export function errorResponse(
  ctx: HttpContext,
  error: unknown,
  context?: ErrorContext,
  options?: { clearCookies?: boolean; request?: HttpRequest },
): HttpResponse {
  const mode = modeFor(ctx, error, context);
  const mapped = mapError(error, mode);
  if (!mapped.expected) ctx.settings.onError(error);
  const headers: [string, string][] = [...mapped.headers, ['cache-control', 'no-store']];
  if (options?.clearCookies || error instanceof CookieConflictError) {
    headers.push(...ctx.clearing);
  }
  const { renderError } = ctx.settings;
  if (renderError !== undefined) {
    const request = options?.request ?? (typeof context === 'object' ? context : undefined);
    try {
      const rendered = renderError({ error, status: mapped.status, body: mapped.body, request, mode });
      // The challenge, no-store and cleared cookies stay: they are the protocol, not the rendering.
      if (rendered !== undefined)
        return {
          status: rendered.status ?? mapped.status,
          headers: [['content-type', rendered.contentType], ...headers],
          body: rendered.body,
        };
    } catch (renderFailure) {
      // A broken renderer must not turn a refusal into a crash: the default JSON is sent.
      ctx.settings.onError(renderFailure);
    }
  }
  return jsonResponse(mapped.status, mapped.body, headers);
}
