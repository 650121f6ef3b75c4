/**
 * Claim validators on a route (`requireSession({ validators })`): each validator's claim is read from
 * the access token (no lookup) or, for a claim kept in the session, from the store. A value that is
 * missing or older than allowed is fetched again first, with the claim's registered fetch, and written
 * back (a token claim also reissues this request's tokens, so the client carries the fresh value); only
 * then does a failing check refuse, 403 `CLAIM_VALIDATION_FAILED` with `claimValidationErrors`.
 */
import { isStale, readClaimEntry, validateClaimEntries, type ClaimEntry, type ClaimValidator } from '../claims/checks.js';
import type { Latchkey } from '../engine.js';
import type { JsonObject } from '../types.js';
import { ClaimValidationFailedError } from './errors.js';
import type { LatchkeySession } from './session.js';

export async function checkClaimValidators(
  engine: Latchkey,
  session: LatchkeySession,
  validators: readonly ClaimValidator[],
): Promise<void> {
  const now = engine.clock.now();
  const entries = new Map<string, ClaimEntry | undefined>();
  const tokenMerge: JsonObject = {};
  const dataMerge: JsonObject = {};
  let data: JsonObject | undefined;
  for (const validator of validators) {
    if (entries.has(validator.key)) continue;
    const claim = engine.registeredClaim(validator.key);
    const inToken = (claim?.where ?? 'token') === 'token';
    const source: Readonly<Record<string, unknown>> = inToken ? session.claims : (data ??= await session.data());
    let entry = readClaimEntry(source, validator.key);
    const maxAge = validator.maxAgeSeconds ?? claim?.maxAgeSeconds;
    if (claim?.fetch !== undefined && (entry === undefined || isStale(entry, maxAge, now))) {
      const fetched = await engine.fetchClaimEntry(session.sessionId, claim);
      (inToken ? tokenMerge : dataMerge)[validator.key] = fetched ?? null;
      entry = fetched === undefined ? undefined : readClaimEntry({ [validator.key]: fetched }, validator.key);
    }
    entries.set(validator.key, entry);
  }
  // One write for every refetched value; a token claim reissues this request's tokens.
  if (Object.keys(tokenMerge).length > 0) await session.update({ mergeAccessClaims: tokenMerge, mergeIdClaims: tokenMerge });
  if (Object.keys(dataMerge).length > 0) await engine.updateSession(session.sessionId, { mergeData: dataMerge });
  const current: Record<string, unknown> = {};
  for (const [key, entry] of entries) if (entry !== undefined) current[key] = entry;
  const errors = validateClaimEntries(current, validators, now);
  if (errors.length > 0) throw new ClaimValidationFailedError(errors);
}
