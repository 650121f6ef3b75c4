/**
 * The invariant load test (support/load.ts) on one deployment topology (PgBouncer, a failing-over
 * PostgreSQL pair, Sentinel, TLS, ten instances): runs the load with the topology's faults, then the
 * final sweep, the end-state check read from the store (through `snapshotUrl`, the server that is
 * the primary at the end), and the secrets check over every log line, metric and error body.
 * Returns the violations of each kind so the calling test asserts them and prints its own figures.
 */
import { randomBytes } from 'node:crypto';
import { pgExec } from '../../helpers/postgres.js';
import type { Fleet } from './fleet.js';
import { checkStore, finalSweep, findSecrets, runLoad, type LoadOptions, type LoadResult, type StoreSnapshot } from './load.js';
import { report } from './soak.js';

export const TOPOLOGY_API_KEY = `lksk_${randomBytes(32).toString('base64url')}`;

export interface TopologyRun {
  result: LoadResult;
  sweepViolations: string[];
  storeViolations: string[];
  leaks: string[];
  exitCodes: Array<number | null>;
}

/** The environment every instance of a topology shares, plus the topology's own variables. */
export function topologyEnv(extra: Record<string, string>): { env: Record<string, string>; secret: string } {
  const secret = randomBytes(32).toString('base64url');
  return {
    secret,
    env: { LATCHKEY_SECRET: secret, LATCHKEY_API_KEYS: TOPOLOGY_API_KEY, LATCHKEY_ISSUER: 'https://fleets.latchkey.test', LATCHKEY_REFRESH_GRACE: '30', ...extra },
  };
}

export async function runTopology(
  name: string,
  fleet: Fleet,
  options: { secret: string; snapshotUrl: string; clients: number; durationMs: number; faults: LoadOptions['faults']; fanoutBoundMs?: number; degradedBoundMs?: number; extra?: () => Record<string, number | string> },
): Promise<TopologyRun> {
  const result = await runLoad({
    fleet, apiKey: TOPOLOGY_API_KEY, clients: options.clients, durationMs: options.durationMs, faults: options.faults,
    fanoutBoundMs: options.fanoutBoundMs ?? 1_000, degradedBoundMs: options.degradedBoundMs ?? 6_500,
  });
  const sweep = await finalSweep(fleet, TOPOLOGY_API_KEY, result.sessions);
  const snapshot: StoreSnapshot = {
    sessions: (await pgExec('SELECT id, user_id, revoked_at, revoked_reason, current_refresh_hash, previous_refresh_hash, generation FROM latchkey_sessions', [], options.snapshotUrl)) as StoreSnapshot['sessions'],
    tokens: (await pgExec('SELECT hash, session_id, generation FROM latchkey_refresh_tokens', [], options.snapshotUrl)) as StoreSnapshot['tokens'],
  };
  const storeViolations = checkStore(snapshot, result.sessions);
  const exitCodes = await fleet.stopAll();
  const leaks = findSecrets([fleet.output(), ...result.errorBodies].join('\n'), result.sessions, [TOPOLOGY_API_KEY, options.secret]);
  report(`topology ${name}`, {
    ...result.counts, instances: fleet.instances.length, sessionsInStore: snapshot.sessions.length, sweepChecks: sweep.checked,
    invariantViolations: result.violations.length, storeViolations: storeViolations.length, leaks: leaks.length, ...(options.extra?.() ?? {}),
  });
  for (const line of result.faultLog) console.log(`[hardening]   fault ${line}`);
  for (const v of [...result.violations, ...sweep.violations, ...storeViolations].slice(0, 30)) console.log(`[hardening]   VIOLATION ${v}`);
  return { result, sweepViolations: sweep.violations, storeViolations, leaks, exitCodes };
}

/** Nearest-rank percentile of `values` (ms). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
