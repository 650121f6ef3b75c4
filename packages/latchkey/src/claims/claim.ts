/**
 * Session claims: facts about a user that change while a session lives (roles, a verified email, a
 * completed MFA factor), each with where it is kept, how its value is fetched from the app, and how
 * stale it may become before it is fetched again.
 *
 * A claim kept in the token (`where: 'token'`, the default) is checked on every request with no store
 * lookup; it is written to both the access token and the ID token, so that the browser SDK can run the
 * same validators (checks.ts) before it calls the API. A claim kept in the session (`'session'`) never
 * leaves the server: checking it costs a store read, and the SDK cannot see it.
 */
import type { JsonObject, JsonValue } from '../types.js';
import {
  booleanClaimChecks,
  CLAIM_KEYS,
  listClaimChecks,
  mfaClaimChecks,
  type BooleanClaimChecks,
  type ClaimEntry,
  type ListClaimChecks,
  type MfaClaimChecks,
} from './checks.js';

/** Where a claim's value is kept: the tokens (checked without a lookup, visible to the SDK) or the server-side session data. */
export type ClaimLocation = 'token' | 'session';

/** What a claim's fetch is told about the session it fetches for. */
export interface ClaimFetchContext {
  sessionId: string;
  userId: string;
  /** The session's access claims and data as they are now (at creation: as the app passed them). */
  accessClaims: Readonly<JsonObject>;
  data: Readonly<JsonObject>;
}

/** Fetches a claim's current value from the app; `undefined` means "no value" (the claim is left out). */
export type ClaimFetch<T extends JsonValue> = (userId: string, session: ClaimFetchContext) => T | undefined | Promise<T | undefined>;

export interface ClaimDefinition<T extends JsonValue> {
  /** The key under which the value is kept. Must not be a reserved claim name. */
  key: string;
  /** How to fetch the value. Without one, the value is only ever set by `setClaimValue`. */
  fetch?: ClaimFetch<T> | undefined;
  /** Default `'token'`: checked with no lookup, and visible to the SDK. */
  where?: ClaimLocation | undefined;
  /**
   * Past this age, seconds, the value is fetched again: on the session's next refresh, and before a
   * validator that finds it stale fails. Default: never stale (it changes only by `setClaimValue`).
   */
  maxAgeSeconds?: number | undefined;
}

/** A claim type. Register it with `createLatchkey({ claims: [...] })` to have it fetched and refetched. */
export interface SessionClaim<T extends JsonValue = JsonValue> {
  readonly key: string;
  readonly where: ClaimLocation;
  readonly maxAgeSeconds: number | undefined;
  readonly fetch: ClaimFetch<T> | undefined;
  /** The same claim (and its validators) with other settings, e.g. the app's fetch for a built-in. */
  with(changes: Partial<Omit<ClaimDefinition<T>, 'key'>>): this;
  /** The kept form of a value fetched at `now`. */
  entry(value: T, now: number): ClaimEntry & JsonObject;
}

function checkDefinition(definition: ClaimDefinition<JsonValue>): void {
  if (typeof definition.key !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(definition.key)) {
    throw new TypeError('a claim key must be 1 to 64 characters of letters, digits and _ . : -');
  }
  if (definition.where !== undefined && definition.where !== 'token' && definition.where !== 'session') {
    throw new TypeError("a claim's where must be 'token' or 'session'");
  }
  const maxAge = definition.maxAgeSeconds;
  if (maxAge !== undefined && !(Number.isFinite(maxAge) && maxAge > 0))
    throw new TypeError("a claim's maxAgeSeconds must be a positive number");
  if (definition.fetch !== undefined && typeof definition.fetch !== 'function') throw new TypeError("a claim's fetch must be a function");
}

function makeClaim<T extends JsonValue, Extra extends object>(definition: ClaimDefinition<T>, extra: Extra): SessionClaim<T> & Extra {
  checkDefinition(definition as ClaimDefinition<JsonValue>);
  const claim = {
    ...extra,
    key: definition.key,
    where: definition.where ?? 'token',
    maxAgeSeconds: definition.maxAgeSeconds,
    fetch: definition.fetch,
    with(changes: Partial<Omit<ClaimDefinition<T>, 'key'>>) {
      return makeClaim({ ...definition, ...changes, key: definition.key }, extra);
    },
    entry: (value: T, now: number) => ({ v: value, t: now }),
  };
  return Object.freeze(claim) as SessionClaim<T> & Extra;
}

/** Defines a claim type of the app's own. Validators for it: `listClaimChecks(key)`, `booleanClaimChecks(key)`, or your own. */
export function defineClaim<T extends JsonValue>(definition: ClaimDefinition<T>): SessionClaim<T> {
  return makeClaim(definition, {});
}

/** The user's roles (the app supplies them: `RolesClaim.with({ fetch })`). `RolesClaim.includes('admin')`. */
export const RolesClaim: SessionClaim<string[]> & ListClaimChecks = makeClaim<string[], ListClaimChecks>(
  { key: CLAIM_KEYS.roles },
  listClaimChecks(CLAIM_KEYS.roles),
);

/** The user's permissions (the app supplies them). `PermissionsClaim.includes('invoices:write')`. */
export const PermissionsClaim: SessionClaim<string[]> & ListClaimChecks = makeClaim<string[], ListClaimChecks>(
  { key: CLAIM_KEYS.permissions },
  listClaimChecks(CLAIM_KEYS.permissions),
);

/** Whether the user's email is verified; the app says how to know (`EmailVerifiedClaim.with({ fetch })`). `isTrue()`. */
export const EmailVerifiedClaim: SessionClaim<boolean> & BooleanClaimChecks = makeClaim<boolean, BooleanClaimChecks>(
  { key: CLAIM_KEYS.emailVerified },
  booleanClaimChecks(CLAIM_KEYS.emailVerified),
);

/**
 * The MFA factors completed in this session, each with when (ms since the epoch): `{ totp: 1767225600000 }`.
 * Set it with `setClaimValue` when the user completes a factor; `MfaClaim.completedWithin('totp', 600)`
 * asks for a step-up within ten minutes, beside `auth_time` (which dates the first factor).
 */
export const MfaClaim: SessionClaim<Record<string, number>> & MfaClaimChecks = makeClaim<Record<string, number>, MfaClaimChecks>(
  { key: CLAIM_KEYS.mfa },
  mfaClaimChecks(CLAIM_KEYS.mfa),
);
