/**
 * Typed errors with stable, machine-readable codes.
 *
 * Every failure latchkey reports on purpose is a {@link LatchkeyError}; its `code` is part of the
 * public contract (HTTP layers and the service map codes to status codes, clients branch on them).
 * Programmer misuse (a bad option, a wrong argument type) is a plain `TypeError` instead, so that it
 * is never mistaken for a property of the request.
 *
 * No message ever contains a token, a key or a secret: messages say what was wrong, never what was
 * presented.
 */

/**
 * Every code the engine and its building blocks report. Stable across minor versions. The layers
 * above have codes of their own, in unions of their own: the HTTP layer's `HttpErrorCode`
 * (`INVALID_REQUEST`, `CSRF_REJECTED`; `latchkey/http`) and the service's `ServiceErrorCode`
 * (`latchkey/service`). The one table that maps all of them to HTTP answers is `http/errors.ts`.
 */
export type LatchkeyErrorCode =
  | 'TRY_REFRESH_TOKEN'
  | 'UNAUTHORISED'
  | 'TOKEN_THEFT_DETECTED'
  | 'INVALID_CLAIMS'
  | 'NOT_FOUND'
  | 'STORE_UNAVAILABLE'
  | 'INSUFFICIENT_FRESHNESS'
  | 'MISSING_DEPENDENCY'
  | 'SECRET_MISMATCH'
  | 'INSUFFICIENT_SCOPE'
  | 'INVALID_DPOP_PROOF'
  | 'USE_DPOP_NONCE'
  | 'INVALID_DBSC_PROOF'
  | 'SESSION_REFUSED'
  | 'HOOK_FAILED';

export interface LatchkeyErrorOptions {
  cause?: unknown;
}

/**
 * Base class of every error latchkey throws on purpose. Branch on `code`, not on `instanceof` chains.
 * `Code` is the union the code comes from: the engine's by default, the HTTP layer's for its own
 * refusals (`HttpError`), so that one `catch` handles both while the engine's union stays its own.
 */
export class LatchkeyError<Code extends string = LatchkeyErrorCode> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: LatchkeyErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The access token was well formed and correctly signed by one of our keys, but it has expired.
 * The client should refresh and retry; nothing else about the token was wrong.
 */
export class TryRefreshError extends LatchkeyError {
  constructor(message = 'access token expired; refresh and retry') {
    super('TRY_REFRESH_TOKEN', message);
  }
}

/** Why a token or a session was refused. Kept coarse on the wire, precise here for logs and tests. */
export type UnauthorisedReason =
  | 'malformed'
  | 'too_large'
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_type'
  | 'wrong_algorithm'
  | 'claim_invalid'
  | 'not_yet_valid'
  | 'revoked'
  | 'session_expired'
  | 'unknown_token'
  | 'missing'
  /** An API key past its expiry (or past the overlap its rotation gave it). */
  | 'expired';

/** The credential is not acceptable for a reason that refreshing cannot fix. */
export class UnauthorisedError extends LatchkeyError {
  readonly reason: UnauthorisedReason;
  /** For `claim_invalid`: which claim failed. */
  readonly claim: string | undefined;

  constructor(reason: UnauthorisedReason, message: string, options?: LatchkeyErrorOptions & { claim?: string }) {
    super('UNAUTHORISED', message, options);
    this.reason = reason;
    this.claim = options?.claim;
  }
}

/**
 * Why a request was refused as theft (see refresh/decide.ts for the rules).
 * - `parent-after-grace`: the immediate parent of the current refresh token, whose derived successor
 *   was never used, presented after the grace window. Either a thief replaying a copied token while
 *   the user is idle, or a client retrying a lost answer too late: `msSinceRotation` says how late.
 * - `rotated-out-replay`: any other rotated-out token (an older ancestor, or a parent whose successor
 *   has been used since): two holders of one chain, which no honest client produces.
 * - `revoked-for-theft`: a later request with any token (access or refresh) of a session that was
 *   already revoked for theft: how the victim's other tabs and devices learn what happened.
 */
export type TheftReason = 'parent-after-grace' | 'rotated-out-replay' | 'revoked-for-theft';

/**
 * A refresh token that had already been rotated out was presented outside the grace rules, or a
 * token of a session revoked for that reason was presented later. Someone holds a copy of an old
 * token: the whole session has been revoked.
 */
export class TokenTheftError extends LatchkeyError {
  readonly sessionId: string;
  readonly userId: string;
  /** What was detected; see {@link TheftReason}. */
  readonly reason: TheftReason;

  constructor(sessionId: string, userId: string, reason: TheftReason = 'rotated-out-replay') {
    super(
      'TOKEN_THEFT_DETECTED',
      reason === 'revoked-for-theft'
        ? 'this session was revoked because a copy of one of its refresh tokens was used; sign in again'
        : 'a rotated-out refresh token was replayed; the session has been revoked',
    );
    this.sessionId = sessionId;
    this.userId = userId;
    this.reason = reason;
  }
}

/**
 * The master secret cannot decrypt a signing key in the store: the instance was started with another
 * secret than the one that made the keys (usually `LATCHKEY_SECRET` unset or a secret file read from
 * another working directory), or the stored key was altered. Thrown at start-up by
 * `createLatchkey()`, and by any later call that would need such a key, always before anything is
 * written.
 */
export class SecretMismatchError extends LatchkeyError {
  /** The key that could not be decrypted. */
  readonly kid: string;

  constructor(kid: string, message: string, options?: LatchkeyErrorOptions) {
    super('SECRET_MISMATCH', message, options);
    this.kid = kid;
  }
}

/** App-supplied claims were refused (a reserved name, a value that is not JSON, too large). */
export class InvalidClaimsError extends LatchkeyError {
  readonly claim: string | undefined;

  constructor(message: string, claim?: string) {
    super('INVALID_CLAIMS', message);
    this.claim = claim;
  }
}

/** The session (or other record) does not exist. */
export class NotFoundError extends LatchkeyError {
  constructor(message = 'not found') {
    super('NOT_FOUND', message);
  }
}

/** The store could not be reached in time. Nothing was written; the call can be retried. */
export class StoreUnavailableError extends LatchkeyError {
  constructor(message = 'the session store is unavailable', options?: LatchkeyErrorOptions) {
    super('STORE_UNAVAILABLE', message, options);
  }
}

/** The session is valid but authenticated too long ago for this action; re-authenticate. */
export class InsufficientFreshnessError extends LatchkeyError {
  readonly maxAgeSeconds: number;

  constructor(maxAgeSeconds: number) {
    super('INSUFFICIENT_FRESHNESS', `this action needs an authentication within the last ${maxAgeSeconds} s`);
    this.maxAgeSeconds = maxAgeSeconds;
  }
}

/**
 * A package that this part of latchkey needs is not installed, or its native part did not build.
 * Drivers, frameworks and the service's packages are optional peer dependencies, so an app installs
 * only what it uses; this error names the package and the command that installs it, instead of a raw
 * `ERR_MODULE_NOT_FOUND` from deep inside latchkey.
 */
export class MissingDependencyError extends LatchkeyError {
  /** The npm package that is missing or broken, e.g. `pg`. */
  readonly dependency: string;
  /** What needs it, e.g. `latchkey/stores/postgres`. */
  readonly feature: string;

  constructor(dependency: string, feature: string, message: string, options?: LatchkeyErrorOptions) {
    super('MISSING_DEPENDENCY', message, options);
    this.dependency = dependency;
    this.feature = feature;
  }
}

/**
 * The credential is valid but lacks scopes the operation needs (RFC 6750 §3.1 `insufficient_scope`).
 * `missingScopes` names them, so a client can ask its owner for a key that has them.
 */
export class InsufficientScopeError extends LatchkeyError {
  readonly missingScopes: readonly string[];

  constructor(missingScopes: readonly string[]) {
    super('INSUFFICIENT_SCOPE', `missing scope${missingScopes.length === 1 ? '' : 's'}: ${missingScopes.join(' ')}`);
    this.missingScopes = Object.freeze([...missingScopes]);
  }
}

/**
 * Why a DPoP proof (RFC 9449) or a device binding was refused. Precise here for logs, events and tests;
 * on the wire every one of them is `invalid_dpop_proof` (RFC 9449 §7.1), as the RFC wants.
 */
export type DpopProofFailure =
  /** No proof where one is required (a bound token or session). */
  | 'missing'
  /** Not a compact JWS, or its header or claims have the wrong shape. */
  | 'malformed'
  /** `typ` is not `dpop+jwt`. */
  | 'wrong_type'
  /** `alg` is not on the allow-list: `none`, HMAC, or an asymmetric one the server does not accept. */
  | 'algorithm'
  /** The `jwk` header is missing or is not a usable public key. */
  | 'key'
  /** The `jwk` header holds private key material. */
  | 'private_key'
  | 'signature'
  | 'htm'
  | 'htu'
  /** `iat` outside the accepted window. */
  | 'iat'
  /** `ath` missing, or not the hash of the access token presented. */
  | 'ath'
  /** This proof (`jti`) was seen before within its window. */
  | 'replay'
  /** The server's nonce is required and the proof has another (or none). */
  | 'nonce'
  /** The proof is valid but made with another key than the one the token or session is bound to. */
  | 'key_mismatch'
  /** A bound access token presented with the `Bearer` scheme. */
  | 'bearer_scheme'
  /** The in-memory replay cache is full of live entries: refused rather than forgetting one. */
  | 'replay_cache_full';

/**
 * A DPoP proof was refused, or a request to a device-bound session did not prove possession of its
 * key (`INVALID_DPOP_PROOF`). Nothing was written; a bound refresh token is not rotated and its session
 * is not revoked, so that a thief without the key can neither use nor burn the victim's session.
 */
export class InvalidDpopProofError extends LatchkeyError {
  readonly reason: DpopProofFailure;

  constructor(reason: DpopProofFailure, message: string, options?: LatchkeyErrorOptions) {
    super('INVALID_DPOP_PROOF', message, options);
    this.reason = reason;
  }
}

/**
 * The server requires a DPoP nonce and the proof did not carry the current one (RFC 9449 §8,
 * `use_dpop_nonce`). `nonce` is the value to put in the next proof; HTTP layers send it as `DPoP-Nonce`.
 */
export class UseDpopNonceError extends LatchkeyError {
  readonly nonce: string;

  constructor(nonce: string) {
    super('USE_DPOP_NONCE', 'a DPoP nonce from the server is required; retry with the nonce given');
    this.nonce = nonce;
  }
}

/**
 * Why a DBSC proof (W3C Device Bound Session Credentials) was refused. Precise here for logs, events
 * and tests; on the wire every one is `INVALID_DBSC_PROOF`.
 */
export type DbscProofFailure =
  /** No `Secure-Session-Response` where the session's key must be proven. */
  | 'missing'
  /** Not a compact JWS, or its header or claims have the wrong shape. */
  | 'malformed'
  /** `typ` is not `dbsc+jwt`. */
  | 'wrong_type'
  /** `alg` is not ES256 or RS256 (the algorithms the registration header offers). */
  | 'algorithm'
  /** The registration proof's `jwk` is missing or not a usable public key. */
  | 'key'
  /** The registration proof's `jwk` holds private key material. */
  | 'private_key'
  | 'signature'
  /** `jti` is not a challenge this server issued for this session, or it has expired. */
  | 'challenge'
  /** The challenge was answered before: challenges are single-use. */
  | 'replay'
  /** The session registered another key before: a session is bound once. */
  | 'already_bound'
  /** The proof is valid but made with another key than the session's. */
  | 'key_mismatch'
  /** The in-memory replay cache is full of live entries: refused rather than forgetting one. */
  | 'replay_cache_full';

/**
 * A DBSC proof was refused, or a DBSC-bound session was to be refreshed without one
 * (`INVALID_DBSC_PROOF`). Nothing was written: the refresh token is not rotated and the session is
 * not revoked, so that a copied cookie jar without the browser's key can neither use nor burn the
 * session.
 */
export class InvalidDbscProofError extends LatchkeyError {
  readonly reason: DbscProofFailure;

  constructor(reason: DbscProofFailure, message: string, options?: LatchkeyErrorOptions) {
    super('INVALID_DBSC_PROOF', message, options);
    this.reason = reason;
  }
}

/**
 * True when `err` is a latchkey error, optionally with one of the given codes: the engine's
 * ({@link LatchkeyErrorCode}) or the HTTP layer's (`HttpErrorCode`, such as `CSRF_REJECTED`).
 */
export function isLatchkeyError<Code extends string = LatchkeyErrorCode>(err: unknown, ...codes: Code[]): err is LatchkeyError<Code> {
  return err instanceof LatchkeyError && (codes.length === 0 || codes.includes(err.code as Code));
}

/**
 * The app's `beforeCreate` hook refused the session (a banned user, say). Nothing was written. Throw
 * it from the hook; the HTTP layer answers 403 with the message, which is the app's to word.
 */
export class SessionRefusedError extends LatchkeyError {
  constructor(message = 'session refused') {
    super('SESSION_REFUSED', message);
  }
}

/** Which lifecycle hook (or claim fetch) failed. */
export type HookName = 'beforeCreate' | 'afterRefresh' | 'onRevoke' | 'onTheft' | 'claimFetch';

/**
 * An app hook (or a claim's fetch) threw. The cause is kept for the app's logs; the HTTP layer answers
 * a generic 500 and reports it to `onError`. A hook that runs before a write (`beforeCreate`, a claim
 * fetch at creation) leaves nothing written; one that runs after a commit is reported as an `error`
 * event with this error, and the operation's own result stands (see docs/http.md, "Hooks").
 */
export class HookError extends LatchkeyError {
  readonly hook: HookName;

  constructor(hook: HookName, options?: LatchkeyErrorOptions) {
    super('HOOK_FAILED', `the ${hook} hook failed`, options);
    this.hook = hook;
  }
}
