/**
 * Claim checks: the validators both sides run, the server in `requireSession({ validators })` and the
 * browser SDK in `client.validateClaims(...)`, so that a UI can send the user to "verify your email"
 * before the API refuses, by the same rule the API applies.
 *
 * This file exists twice, byte for byte: `packages/latchkey/src/claims/checks.ts` and
 * `packages/client/src/claim-checks.ts` (the SDK imports nothing of the server package).
 * `packages/latchkey/test/tooling/claim-checks.test.ts` fails when they differ, so the two sides
 * cannot drift. It imports nothing and uses nothing Node-only.
 *
 * A claim's value is kept as `{ v, t }`: the value and when it was fetched (ms since the epoch), so
 * that any reader can tell how stale it is without a store lookup.
 */

/** A claim's value as kept in a token or in the session data. */
export interface ClaimEntry {
  v: unknown;
  /** When the value was fetched, ms since the epoch. */
  t: number;
}

/** One failed check, as it travels in a 403's `claimValidationErrors`. */
export interface ClaimValidationError {
  /** The validator's id, e.g. `lk-roles.includes:admin`. Stable: clients branch on it. */
  id: string;
  /** Why it failed, for people: `missing`, `stale`, or what the value lacked. */
  reason: string;
}

/** A check of one claim. Plain data and a pure function: it runs on the server and in the browser. */
export interface ClaimValidator {
  readonly id: string;
  /** The claim's key in the token (or the session data). */
  readonly key: string;
  /**
   * How old the value may be, seconds; past that the server refetches it before judging, and the SDK
   * reports it `stale`. Undefined: any age.
   */
  readonly maxAgeSeconds: number | undefined;
  /** Undefined when the value passes; otherwise the reason it fails. */
  check(value: unknown, now: number): string | undefined;
}

/** The entry under `key`, or undefined when there is none or it is not of the `{ v, t }` shape. */
export function readClaimEntry(source: Readonly<Record<string, unknown>>, key: string): ClaimEntry | undefined {
  const raw = Object.prototype.hasOwnProperty.call(source, key) ? source[key] : undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { v, t } = raw as { v?: unknown; t?: unknown };
  if (typeof t !== 'number' || !Number.isFinite(t) || v === undefined) return undefined;
  return { v, t };
}

/** True when the entry is older than the validator allows. */
export function isStale(entry: ClaimEntry, maxAgeSeconds: number | undefined, now: number): boolean {
  return maxAgeSeconds !== undefined && now - entry.t > maxAgeSeconds * 1000;
}

/** Runs the validators over the claims in `source`; an empty list means every one passed. */
export function validateClaimEntries(
  source: Readonly<Record<string, unknown>>,
  validators: readonly ClaimValidator[],
  now: number,
): ClaimValidationError[] {
  const errors: ClaimValidationError[] = [];
  for (const validator of validators) {
    const entry = readClaimEntry(source, validator.key);
    const reason = entry === undefined ? 'missing' : isStale(entry, validator.maxAgeSeconds, now) ? 'stale' : validator.check(entry.v, now);
    if (reason !== undefined) errors.push({ id: validator.id, reason });
  }
  return errors;
}

function validator(key: string, name: string, maxAgeSeconds: number | undefined, check: ClaimValidator['check']): ClaimValidator {
  if (maxAgeSeconds !== undefined && !(Number.isFinite(maxAgeSeconds) && maxAgeSeconds > 0)) {
    throw new TypeError('a claim validator maxAgeSeconds must be a positive number');
  }
  return Object.freeze({ id: `${key}.${name}`, key, maxAgeSeconds, check });
}

const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');

/** Validators of a claim whose value is a list of strings (roles, permissions). */
export interface ListClaimChecks {
  includes(item: string, maxAgeSeconds?: number): ClaimValidator;
  excludes(item: string, maxAgeSeconds?: number): ClaimValidator;
  includesAll(items: readonly string[], maxAgeSeconds?: number): ClaimValidator;
  includesAny(items: readonly string[], maxAgeSeconds?: number): ClaimValidator;
}

export function listClaimChecks(key: string): ListClaimChecks {
  const of = (value: unknown): string[] | undefined => (isStringList(value) ? value : undefined);
  return {
    includes: (item, maxAge) =>
      validator(key, `includes:${item}`, maxAge, (value) => (of(value)?.includes(item) ? undefined : `does not include ${item}`)),
    excludes: (item, maxAge) =>
      validator(key, `excludes:${item}`, maxAge, (value) => {
        const list = of(value);
        return list === undefined ? 'not a list' : list.includes(item) ? `includes ${item}` : undefined;
      }),
    includesAll: (items, maxAge) =>
      validator(key, `includesAll:${items.join(',')}`, maxAge, (value) => {
        const list = of(value) ?? [];
        const lacking = items.filter((item) => !list.includes(item));
        return lacking.length === 0 ? undefined : `does not include ${lacking.join(', ')}`;
      }),
    includesAny: (items, maxAge) =>
      validator(key, `includesAny:${items.join(',')}`, maxAge, (value) =>
        items.some((item) => of(value)?.includes(item)) ? undefined : `includes none of ${items.join(', ')}`,
      ),
  };
}

/** Validators of a claim whose value is a boolean (email verified). */
export interface BooleanClaimChecks {
  isTrue(maxAgeSeconds?: number): ClaimValidator;
  isFalse(maxAgeSeconds?: number): ClaimValidator;
}

export function booleanClaimChecks(key: string): BooleanClaimChecks {
  return {
    isTrue: (maxAge) => validator(key, 'isTrue', maxAge, (value) => (value === true ? undefined : 'is not true')),
    isFalse: (maxAge) => validator(key, 'isFalse', maxAge, (value) => (value === false ? undefined : 'is not false')),
  };
}

/**
 * Validators of the MFA claim, whose value maps each completed factor to when it was completed (ms
 * since the epoch), e.g. `{ "totp": 1767225600000 }`: step-up for this session, beside `auth_time`.
 */
export interface MfaClaimChecks {
  completed(factor: string, maxAgeSeconds?: number): ClaimValidator;
  /** The factor was completed at most `seconds` ago (and not in the future, beyond a minute of skew). */
  completedWithin(factor: string, seconds: number, maxAgeSeconds?: number): ClaimValidator;
}

const completedAt = (value: unknown, factor: string): number | undefined => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const at = Object.prototype.hasOwnProperty.call(value, factor) ? (value as Record<string, unknown>)[factor] : undefined;
  return typeof at === 'number' && Number.isFinite(at) ? at : undefined;
};

export function mfaClaimChecks(key: string): MfaClaimChecks {
  return {
    completed: (factor, maxAge) =>
      validator(key, `completed:${factor}`, maxAge, (value) =>
        completedAt(value, factor) === undefined ? `${factor} not completed` : undefined,
      ),
    completedWithin: (factor, seconds, maxAge) => {
      if (!(Number.isFinite(seconds) && seconds > 0)) throw new TypeError('completedWithin needs a positive number of seconds');
      return validator(key, `completedWithin:${factor}:${seconds}`, maxAge, (value, now) => {
        const at = completedAt(value, factor);
        if (at === undefined) return `${factor} not completed`;
        // A time in the future (beyond clock skew) is not a completion: a forged or broken value.
        if (at > now + 60_000 || now - at > seconds * 1000) return `${factor} not completed within ${seconds} s`;
        return undefined;
      });
    },
  };
}

/** The built-in claims' keys, the same on both sides. Prefixed so that they never meet an app's own claims. */
export const CLAIM_KEYS = Object.freeze({
  roles: 'lk-roles',
  permissions: 'lk-perms',
  emailVerified: 'lk-ev',
  mfa: 'lk-mfa',
});
