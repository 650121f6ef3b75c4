/**
 * Claim validation in the browser: the same validators the server runs in
 * `requireSession({ validators })` (claim-checks.ts is the server's file, byte for byte), run over the
 * session's ID-token claims, so that a UI can send the user to "verify your email" before the API
 * refuses; and the server's refusal, 403 `CLAIM_VALIDATION_FAILED`, read into a typed error and an
 * event. Display and routing only: the server decides, on every request.
 *
 * A separate entry (`@latchkey/client/claims`): an app that uses no claims ships none of this.
 */
import type { LatchkeyClient, LatchkeyEvents } from '../client.js';
import { validateClaimEntries, type ClaimValidationError, type ClaimValidator } from '../claim-checks.js';
import { createEmitter } from '../emitter.js';
import type { FetchInit, FetchInput, FetchResponse } from '../web-types.js';

/** The server's code for a route whose claim validators failed. */
export const CLAIM_VALIDATION_FAILED = 'CLAIM_VALIDATION_FAILED';

/** A route refused the session's claims: every failed validator, as the server (or `requireClaims`) judged. */
export class ClaimValidationFailedError extends Error {
  readonly code = CLAIM_VALIDATION_FAILED;
  /** 403 from the server, or from `requireClaims` the status the server would answer. */
  readonly status = 403;
  readonly claimValidationErrors: ClaimValidationError[];

  constructor(claimValidationErrors: ClaimValidationError[]) {
    super(`session claims not satisfied: ${claimValidationErrors.map((e) => e.id).join(', ')}`);
    this.name = 'ClaimValidationFailedError';
    this.claimValidationErrors = claimValidationErrors;
  }
}

const isFailure = (item: unknown): item is ClaimValidationError =>
  typeof (item as ClaimValidationError | null)?.id === 'string' && typeof (item as ClaimValidationError).reason === 'string';

/**
 * The failures of a 403 `CLAIM_VALIDATION_FAILED`, or `null` for any other answer. Takes a fetch
 * `Response` (read from a clone: the caller's body is left unread) or an already parsed body (axios's
 * `error.response.data`).
 */
export async function readClaimValidationErrors(from: FetchResponse | unknown): Promise<ClaimValidationError[] | null> {
  let body = from;
  const response = from as FetchResponse | null;
  // A response by its shape: outside browsers there may be no global `Response` to test against.
  if (typeof response?.clone === 'function' && typeof response.status === 'number') {
    if (response.status !== 403 || !(response.headers.get('content-type') ?? '').includes('json')) return null;
    try {
      body = await response.clone().json();
    } catch {
      return null;
    }
  }
  // The server's shape: `{ "error": { "code", "message" }, "claimValidationErrors": [{ "id", "reason" }] }`.
  const parsed = body as { error?: { code?: unknown }; claimValidationErrors?: unknown } | null;
  const list = parsed?.error?.code === CLAIM_VALIDATION_FAILED ? parsed.claimValidationErrors : undefined;
  return Array.isArray(list) ? list.filter(isFailure).map(({ id, reason }) => ({ id, reason })) : null;
}

export interface ClaimsEvents extends LatchkeyEvents {
  /** A request through this client's `fetch` was refused 403 `CLAIM_VALIDATION_FAILED`. */
  claimValidationFailed: { url: string; claimValidationErrors: ClaimValidationError[] };
}

/** A client with claim validation: see {@link withClaims}. */
export interface ClaimsClient extends Omit<LatchkeyClient, 'on'> {
  /**
   * Runs the validators over this session's claims (the ID token's: claims kept `where: 'token'`).
   * Resolves the failures, `[]` when every one passes; without a session every validator fails `missing`.
   * A value older than a validator's `maxAgeSeconds` fails `stale` (judged in server time): the server
   * would fetch it again before judging, so treat `stale` as "ask the server", not as a refusal.
   */
  validateClaims(validators: readonly ClaimValidator[]): Promise<ClaimValidationError[]>;
  /** The same, rejecting with {@link ClaimValidationFailedError} when any validator fails. */
  requireClaims(validators: readonly ClaimValidator[]): Promise<void>;
  on<K extends keyof ClaimsEvents>(event: K, listener: (payload: ClaimsEvents[K]) => void): () => void;
}

/**
 * Adds claim validation to a client. Its `fetch` is the client's, also emitting
 * `claimValidationFailed` when a route refuses the session's claims (the response is returned as
 * it came: a 403 is an answer, not an exception).
 *
 * ```ts
 * import { createLatchkeyClient } from '@latchkey/client';
 * import { EmailVerifiedClaim, withClaims } from '@latchkey/client/claims';
 * const latchkey = withClaims(createLatchkeyClient());
 * if ((await latchkey.validateClaims([EmailVerifiedClaim.isTrue()])).length > 0) showVerifyEmailBanner();
 * latchkey.on('claimValidationFailed', ({ claimValidationErrors }) => console.log(claimValidationErrors));
 * ```
 */
export function withClaims(client: LatchkeyClient): ClaimsClient {
  const events = createEmitter<Pick<ClaimsEvents, 'claimValidationFailed'>>();
  const validateClaims = async (validators: readonly ClaimValidator[]): Promise<ClaimValidationError[]> => {
    const claims = (await client.getClaims()) ?? {};
    // Server time, to judge `maxAgeSeconds` by the clock that wrote `t`: the ID token's `exp` (server,
    // seconds) against the same expiry in this device's time (to within the second `exp` rounds to).
    const expiry = await client.getAccessTokenExpiry();
    const skew = typeof claims.exp === 'number' && expiry ? claims.exp * 1000 - expiry.getTime() : 0;
    return validateClaimEntries(claims, validators, Date.now() + skew);
  };
  return {
    ...client,
    async fetch(input: FetchInput, init?: FetchInit): Promise<FetchResponse> {
      const response = await client.fetch(input, init);
      const failures = response.status === 403 ? await readClaimValidationErrors(response) : null;
      if (failures) events.emit('claimValidationFailed', { url: response.url, claimValidationErrors: failures });
      return response;
    },
    validateClaims,
    async requireClaims(validators) {
      const failures = await validateClaims(validators);
      if (failures.length > 0) throw new ClaimValidationFailedError(failures);
    },
    on: (event, listener) =>
      event === 'claimValidationFailed'
        ? events.on('claimValidationFailed', listener as (payload: ClaimsEvents['claimValidationFailed']) => void)
        : client.on(event as keyof LatchkeyEvents, listener as (payload: unknown) => void),
  };
}
