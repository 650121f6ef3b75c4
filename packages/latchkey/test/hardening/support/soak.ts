/**
 * Scale of the hardening battery. `npm test` runs the short form; `npm run test:soak` sets
 * LATCHKEY_SOAK=1 for the full form (more runs, longer load, more faults), still bounded in time.
 */
export const SOAK = process.env.LATCHKEY_SOAK === '1';

/** `short` under `npm test`, `soak` under `npm run test:soak`. */
export function scale<T>(short: T, soak: T): T {
  return SOAK ? soak : short;
}

/** Store methods that change state: a rejected request must call none of them. */
export const STORE_WRITES: ReadonlySet<string> = new Set([
  'createSession', 'updateSession', 'rotateRefreshToken', 'revokeSession', 'revokeUserSessions',
  'insertSigningKey', 'deleteSigningKeys', 'insertServiceKey', 'revokeServiceKey', 'deleteExpired', 'migrate',
  'insertApiKey', 'revokeApiKey', 'rotateApiKey', 'touchApiKeys',
]);

/** Sum of the calls to write methods in a `countingStore`'s call map. */
export function writeCount(calls: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const [method, count] of calls) if (STORE_WRITES.has(method)) total += count;
  return total;
}

/** Prints one summary line the battery's readers (and CI logs) can find: `[hardening] name k=v ...`. */
export function report(name: string, counts: Record<string, number | string>): void {
  const text = Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(' ');
  console.log(`[hardening] ${name}${SOAK ? ' (soak)' : ''}: ${text}`);
}
