/**
 * What a transport (the fetch wrapper, the axios interceptor) needs from the client: one interface,
 * so both follow exactly the same rules: credentials only to the API, one refresh, one retry.
 */
import type { Credentials } from './credentials.js';
import type { LatchkeyMode } from './options.js';
import type { ServerError } from './protocol.js';
import type { FetchResponse } from './web-types.js';

export interface TransportHooks {
  /** True for URLs under apiBase (or the auth routes): only these get credentials. */
  isApi(url: string): boolean;
  mode: LatchkeyMode;
  credentials: Credentials;
  /** Learns from an API response (server time, tokens issued by a sign-in). `before`: the marker when sent. */
  observe(response: FetchResponse, before: string | null): Promise<void>;
  /** Whether a 401 with this error is worth one refresh (and handles theft). */
  refreshable(error: ServerError | null, marker: string | null): Promise<boolean>;
  /**
   * Runs (or joins) the refresh; true when the request should be retried, once. Rejects with
   * `REFRESH_UNAVAILABLE` when the server gave no verdict (unreachable, 5xx).
   */
  recover(marker: string | null): Promise<boolean>;
  /** Reports a request's final 401. */
  unauthorised(url: string, code: string | null): void;
}
