/**
 * The SDK's typed errors, with stable codes to branch on. Messages never contain a token.
 * Note what is NOT an error: having no session, or a refresh token the server refuses; those are
 * "signed out" (an event and a `false`), because they are the normal end of every session.
 */
export type LatchkeyClientErrorCode =
  /** The refresh endpoint could not be reached or failed with 5xx; the session may still be valid. */
  | 'REFRESH_UNAVAILABLE'
  /** The refresh succeeded but the browser did not store the new cookies (third-party cookie blocking, ITP). */
  | 'COOKIE_BLOCKED'
  /** The sign-out request did not reach the server; local state is cleared anyway. */
  | 'SIGN_OUT_FAILED'
  /**
   * DPoP: the key this session is bound to is no longer in the key store (signed out in another tab
   * sharing it, or site data cleared). The session cannot be used from here: sign in again.
   */
  | 'DPOP_KEY_MISSING';

export class LatchkeyClientError extends Error {
  readonly code: LatchkeyClientErrorCode;
  /** HTTP status when the server answered, else undefined. */
  readonly status: number | undefined;

  constructor(code: LatchkeyClientErrorCode, message: string, options?: { status?: number; cause?: unknown }) {
    super(message, options); // `cause` when given; `status` is ours (below)
    this.name = 'LatchkeyClientError';
    this.code = code;
    this.status = options?.status;
  }
}
