/**
 * The invariant load test, with faults, against the real `latchkey serve` binary over HTTP:
 * - on SQLite: one instance, SIGKILLed and restarted under load;
 * - on PostgreSQL: TWO instances (separate processes sharing one database and one Redis), with the
 *   signing key rotated on one of them, one instance SIGKILLed and restarted, PostgreSQL restarted
 *   (a crash: `pg_ctl stop -m immediate`, WAL recovery on start) and Redis restarted, all under load.
 * The servers faulted are PRIVATE (test/helpers/private-servers.ts): the machine's shared
 * PostgreSQL and Redis are never touched. Everything is on loopback.
 *
 * Simulated clients (support/load.ts) create, verify, refresh, race, lose responses, replay stolen
 * tokens and revoke. Checked during the run: no 500, no benign race or retry taken for theft, every
 * stolen-token replay detected, every revocation refused everywhere within 1 s (6.5 s while Redis is
 * down: store polling). Checked at the end, from the store itself: chains consistent (never two
 * current refresh tokens), nothing acknowledged lost, every revocation still there after the
 * crashes. Then the secrets check: no token, API key or secret in any log line any process wrote,
 * in /metrics, in any error body, or in plaintext in the database.
 *
 * `npm test` runs a short form; `npm run test:soak` (LATCHKEY_SOAK=1) runs 3 + 6 minutes of load,
 * with a fault cycle every minute on PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { builtCliAvailable } from '../cli/helpers.js';
import { pgExec } from '../helpers/postgres.js';
import { startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis } from '../helpers/private-servers.js';
import { serviceAvailable } from '../helpers/services.js';
import { tempDir } from '../service/helpers.js';
import { Fleet } from './support/fleet.js';
import { checkStore, finalSweep, findSecrets, runLoad, type LoadOptions, type LoadResult, type StoreSnapshot } from './support/load.js';
import { report, scale, SOAK } from './support/soak.js';

const API_KEY = `lksk_${randomBytes(32).toString('base64url')}`;
const ISSUER = 'https://load.latchkey.test';
const FANOUT_BOUND_MS = 1_000;
/** Store polling (5 s by default) plus slack, for revocations made while Redis is down. */
const DEGRADED_BOUND_MS = 6_500;
const TEST_TIMEOUT_MS = scale(150_000, 900_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const built = await builtCliAvailable();

function summarise(name: string, result: LoadResult, extra: Record<string, number>): void {
  report(`load ${name}`, { ...result.counts, ...extra, invariantViolations: result.violations.length });
  for (const line of result.faultLog) console.log(`[hardening]   fault ${line}`);
  for (const v of result.violations.slice(0, 30)) console.log(`[hardening]   VIOLATION ${v}`);
}

/** POST /v1/keys/rotate on one instance (an operator rotating after a suspected leak). */
async function rotateKeys(url: string): Promise<void> {
  const res = await fetch(`${url}/v1/keys/rotate`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` } });
  expect(res.status).toBe(200);
}

async function metricsText(fleet: Fleet): Promise<string> {
  const texts = await Promise.all(fleet.up().map(async (i) => (await fetch(`${i.url}/metrics`)).text()));
  for (const text of texts) expect(text).toContain('# TYPE');
  return texts.join('\n');
}

describe.skipIf(!built)('invariant load on SQLite (one instance, SIGKILL and restart)', () => {
  const dir = tempDir('latchkey-load-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('holds every invariant; nothing secret reaches logs, metrics, error bodies or the database', { timeout: TEST_TIMEOUT_MS }, async () => {
    const file = join(dir, 'load.db');
    const secretFile = join(dir, 'keys', 'secret.key');
    const env = {
      LATCHKEY_STORE: `sqlite:${file}`, LATCHKEY_SECRET_FILE: secretFile, LATCHKEY_API_KEYS: API_KEY,
      LATCHKEY_ISSUER: ISSUER, LATCHKEY_REFRESH_GRACE: '30',
    };
    const fleet = await Fleet.start(env, 1);
    const durationMs = scale(6_000, 180_000);
    const [a] = fleet.instances;
    const faults: LoadOptions['faults'] = [];
    for (let at = durationMs / 2; at < durationMs; at += 60_000) {
      faults.push({ at: at - durationMs / 4, name: 'signing key rotation', run: () => rotateKeys(a!.url) });
      faults.push({ at, name: 'SIGKILL and restart of the only instance', run: async () => { await fleet.kill(a!); await sleep(300); await fleet.restart(a!); } });
    }
    let result: LoadResult | undefined;
    try {
      result = await runLoad({ fleet, apiKey: API_KEY, clients: scale(10, 30), durationMs, faults, fanoutBoundMs: FANOUT_BOUND_MS, degradedBoundMs: DEGRADED_BOUND_MS });
      const sweep = await finalSweep(fleet, API_KEY, result.sessions);
      const db = new Database(file, { readonly: true });
      let snapshot: StoreSnapshot;
      try {
        snapshot = {
          sessions: db.prepare('SELECT id, user_id, revoked_at, revoked_reason, current_refresh_hash, previous_refresh_hash, generation FROM latchkey_sessions').all() as StoreSnapshot['sessions'],
          tokens: db.prepare('SELECT hash, session_id, generation FROM latchkey_refresh_tokens').all() as StoreSnapshot['tokens'],
        };
      } finally {
        db.close();
      }
      const storeViolations = checkStore(snapshot, result.sessions);
      const metrics = await metricsText(fleet);
      expect(await fleet.stopAll()).toEqual([0]);

      // The key file: made on first run, mode 0600, its content never written anywhere else.
      expect(statSync(secretFile).mode & 0o777).toBe(0o600);
      const secret = readFileSync(secretFile, 'utf8').trim();
      const leaks = findSecrets([fleet.output(), metrics, ...result.errorBodies].join('\n'), result.sessions, [API_KEY, secret]);
      // At rest: refresh tokens only as hashes, private keys only encrypted, the secret nowhere.
      const atRest = [file, `${file}-wal`].filter(existsSync).map((f) => readFileSync(f).toString('latin1')).join('');
      const restLeaks = findSecrets(atRest, result.sessions, [API_KEY, secret]).concat(atRest.includes('PRIVATE KEY') ? ['a PEM private key'] : []);

      summarise('SQLite', result, { sessionsInStore: snapshot.sessions.length, sweepChecks: sweep.checked, storeViolations: storeViolations.length, leaks: leaks.length + restLeaks.length });
      expect(result.counts.faults).toBe(faults.length);
      expect(result.counts.theftsDetected, 'the run replayed no stolen token: it proved nothing about theft').toBeGreaterThan(0);
      expect(result.counts.retries, 'no request was lost to the SIGKILL: the fault proved nothing').toBeGreaterThan(0);
      expect(result.violations).toEqual([]);
      expect(sweep.violations).toEqual([]);
      expect(storeViolations).toEqual([]);
      expect(leaks).toEqual([]);
      expect(restLeaks).toEqual([]);
    } finally {
      await fleet.stopAll();
    }
  });
});

let privatePg: PrivatePostgres | undefined;
let privateRedis: PrivateRedis | undefined;
const fleetServers = built
  && (await serviceAvailable('private PostgreSQL cluster (initdb + pg_ctl as the postgres user)', async () => {
    privatePg = await startPrivatePostgres();
  }))
  && (await serviceAvailable('private Redis server (redis-server)', async () => {
    privateRedis = await startPrivateRedis();
  }));

afterAll(async () => {
  await privatePg?.destroy();
  await privateRedis?.destroy();
});

describe.skipIf(!fleetServers)('invariant load on PostgreSQL + Redis (two instances; SIGKILL, PostgreSQL restart, Redis restart)', () => {
  it('holds every invariant through the faults; nothing secret reaches logs, metrics, error bodies or the database', { timeout: TEST_TIMEOUT_MS }, async () => {
    const pg = privatePg!;
    const redis = privateRedis!;
    const secret = randomBytes(32).toString('base64url');
    const env = {
      LATCHKEY_STORE: pg.url, LATCHKEY_REDIS_URL: redis.url, LATCHKEY_SECRET: secret, LATCHKEY_API_KEYS: API_KEY,
      LATCHKEY_ISSUER: ISSUER, LATCHKEY_REFRESH_GRACE: '30',
    };
    const fleet = await Fleet.start(env, 2);
    const durationMs = scale(12_000, 360_000);
    const cycle = SOAK ? 60_000 : durationMs;
    const [a, b] = fleet.instances;
    const faults: LoadOptions['faults'] = [];
    for (let start = 0, n = 0; start + cycle <= durationMs; start += cycle, n++) {
      const victim = n % 2 === 0 ? a! : b!;
      // A new key signs at once on one instance; the other must accept its tokens (bus, or reload on an unknown kid).
      faults.push({ at: start + cycle * 0.1, name: `signing key rotation on instance ${n % 2 === 0 ? b!.name : a!.name}`, run: () => rotateKeys((n % 2 === 0 ? b! : a!).url) });
      faults.push({ at: start + cycle * 0.2, name: `SIGKILL and restart of instance ${victim.name}`, run: async () => { await fleet.kill(victim); await sleep(500); await fleet.restart(victim); } });
      faults.push({ at: start + cycle * 0.45, name: 'PostgreSQL crash and restart', run: async () => { await pg.stop('immediate'); await sleep(300); await pg.start(); } });
      faults.push({ at: start + cycle * 0.7, name: 'Redis restart', degradesFanout: true, run: async () => { await redis.stop(); await sleep(300); await redis.start(); } });
    }
    let result: LoadResult | undefined;
    try {
      result = await runLoad({ fleet, apiKey: API_KEY, clients: scale(12, 40), durationMs, faults, fanoutBoundMs: FANOUT_BOUND_MS, degradedBoundMs: DEGRADED_BOUND_MS });
      const sweep = await finalSweep(fleet, API_KEY, result.sessions);
      const snapshot: StoreSnapshot = {
        sessions: (await pgExec('SELECT id, user_id, revoked_at, revoked_reason, current_refresh_hash, previous_refresh_hash, generation FROM latchkey_sessions', [], pg.url)) as StoreSnapshot['sessions'],
        tokens: (await pgExec('SELECT hash, session_id, generation FROM latchkey_refresh_tokens', [], pg.url)) as StoreSnapshot['tokens'],
      };
      const storeViolations = checkStore(snapshot, result.sessions);
      const metrics = await metricsText(fleet);
      expect(await fleet.stopAll()).toEqual([0, 0]);

      const leaks = findSecrets([fleet.output(), metrics, ...result.errorBodies].join('\n'), result.sessions, [API_KEY, secret]);
      const dump = await pgExec<{ t: string }>(
        `SELECT concat_ws(' ', (SELECT string_agg(s::text, ' ') FROM latchkey_sessions s), (SELECT string_agg(r::text, ' ') FROM latchkey_refresh_tokens r),
                (SELECT string_agg(k::text, ' ') FROM latchkey_signing_keys k), (SELECT string_agg(a::text, ' ') FROM latchkey_service_keys a),
                (SELECT string_agg(u::text, ' ') FROM latchkey_user_api_keys u), (SELECT string_agg(x::text, ' ') FROM latchkey_settings x)) AS t`,
        [],
        pg.url,
      );
      const atRest = dump[0]?.t ?? '';
      const restLeaks = findSecrets(atRest, result.sessions, [API_KEY, secret]).concat(atRest.includes('PRIVATE KEY') ? ['a PEM private key'] : []);

      summarise('PostgreSQL x2', result, { sessionsInStore: snapshot.sessions.length, sweepChecks: sweep.checked, storeViolations: storeViolations.length, leaks: leaks.length + restLeaks.length, restarts: fleet.processes.length - 2, supervisorRestarts: fleet.supervisorRestarts });
      expect(result.counts.faults).toBe(faults.length);
      expect(result.counts.theftsDetected, 'the run replayed no stolen token: it proved nothing about theft').toBeGreaterThan(0);
      expect(result.counts.retries, 'no request was lost to the faults: they proved nothing').toBeGreaterThan(0);
      expect(result.counts.revocationChecks).toBeGreaterThan(0);
      expect(result.violations).toEqual([]);
      expect(sweep.violations).toEqual([]);
      expect(storeViolations).toEqual([]);
      expect(leaks).toEqual([]);
      expect(restLeaks).toEqual([]);
    } finally {
      await fleet.stopAll();
    }
  });
});
