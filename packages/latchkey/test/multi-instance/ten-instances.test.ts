/**
 * Ten `latchkey serve` instances on one private PostgreSQL and one private Redis, under the
 * invariant load test (support/load.ts: creates, verifies, refresh races across instances, lost
 * responses, stolen-token replays, revocations checked on every instance), with one instance
 * SIGKILLed and restarted and a key rotation mid-run. Small request rates: ten processes share two
 * cores with everything else.
 *
 * Measured and printed: revocation fan-out to the nine other instances (p50/p99/max, from the
 * revoking instance's acknowledgement to each other instance's first refusal of the token, polled
 * over HTTP, so it includes a poll round; one round of the same nine verifications on a live token
 * is printed beside it as the resolution), Redis connections
 * per instance (asserted: two), PostgreSQL connections per instance, resident memory per instance.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { builtCliAvailable } from '../cli/helpers.js';
import { pgExec } from '../helpers/postgres.js';
import { startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis } from '../helpers/private-servers.js';
import { serviceAvailable } from '../helpers/services.js';
import { Fleet, type Instance } from '../hardening/support/fleet.js';
import { percentile, runTopology, topologyEnv, TOPOLOGY_API_KEY } from '../hardening/support/topology.js';

const INSTANCES = 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let server: PrivatePostgres | undefined;
let redis: PrivateRedis | undefined;
const available = (await builtCliAvailable())
  && (await serviceAvailable('private PostgreSQL and Redis (initdb, pg_ctl, redis-server)', async () => {
    // Ten instances at up to 10 connections each: above the helper's default of 50.
    server = await startPrivatePostgres({ settings: ['max_connections=150'] });
    redis = await startPrivateRedis();
  }));

afterAll(async () => {
  await server?.destroy();
  await redis?.destroy();
});

async function call(instance: Instance, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(instance.url + path, {
    method, headers: { authorization: `Bearer ${TOPOLOGY_API_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, json: await res.json().catch(() => undefined) };
}

/**
 * One revocation at a time on a rotating instance; the other nine are asked every 10 ms until each
 * refuses the token. Returns each instance's delay, ms (resolution: one round of nine requests).
 */
async function measureFanout(fleet: Fleet, revocations: number): Promise<{ delays: number[]; rounds: number[] }> {
  const delays: number[] = [];
  const rounds: number[] = [];
  for (let i = 0; i < revocations; i++) {
    const revoker = fleet.instances[i % fleet.instances.length]!;
    const others = fleet.instances.filter((x) => x !== revoker);
    const created = await call(revoker, 'POST', '/v1/sessions', { userId: `fanout-${i}` });
    expect(created.status).toBe(201);
    // The baseline: one round of the same nine verifications while the session is live. A fan-out
    // delay can only be measured to within one such round.
    const roundStart = Date.now();
    const live = await Promise.all(others.map((x) => call(x, 'POST', '/v1/sessions/verify', { accessToken: created.json.accessToken })));
    rounds.push(Date.now() - roundStart);
    expect(live.map((r) => r.status)).toEqual(others.map(() => 200));
    expect((await call(revoker, 'DELETE', `/v1/sessions/${created.json.session.id}`)).status).toBe(204);
    const ackAt = Date.now();
    let waiting = others;
    while (waiting.length > 0 && Date.now() - ackAt < 5_000) {
      const answers = await Promise.all(waiting.map(async (x) => ({ x, status: (await call(x, 'POST', '/v1/sessions/verify', { accessToken: created.json.accessToken })).status })));
      for (const a of answers) if (a.status === 401) delays.push(Date.now() - ackAt);
      waiting = answers.filter((a) => a.status !== 401).map((a) => a.x);
      if (waiting.length > 0) await sleep(10);
    }
    expect(waiting.map((x) => x.name), `revocation ${i} not refused within 5 s`).toEqual([]);
  }
  return { delays, rounds };
}

function rssMiB(pid: number | undefined): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : Number.NaN;
}

describe.skipIf(!available)(`${INSTANCES} instances on PostgreSQL + Redis under the invariant load test`, () => {
  it('hold every invariant; fan-out p99, connections and memory per instance reported', { timeout: 240_000 }, async () => {
    const { env, secret } = topologyEnv({ LATCHKEY_STORE: server!.url, LATCHKEY_REDIS_URL: redis!.url });
    const fleet = await Fleet.start(env, INSTANCES);
    let figures: Record<string, number> = {};
    try {
      // Before the load, on a quiet fleet: what the bus itself delivers.
      const { delays, rounds } = await measureFanout(fleet, 30);
      const admin = new Redis(redis!.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await admin.connect();
      const clients = String(await admin.call('CLIENT', 'LIST')).split('\n').filter((l) => /name=latchkey-(publisher|subscriber)/.test(l)).length;
      admin.disconnect();
      const pgConnections = await pgExec<{ n: string }>("SELECT COUNT(*) AS n FROM pg_stat_activity WHERE application_name = 'latchkey'", [], server!.url);
      const rss = fleet.instances.map((x) => rssMiB(x.proc?.child.pid));
      figures = {
        fanoutSamples: delays.length, fanoutP50Ms: percentile(delays, 50), fanoutP99Ms: percentile(delays, 99), fanoutMaxMs: Math.max(...delays),
        verifyRoundP50Ms: percentile(rounds, 50), verifyRoundP99Ms: percentile(rounds, 99),
        redisConnectionsPerInstance: clients / INSTANCES, pgConnectionsTotal: Number(pgConnections[0]!.n), rssMiBMax: Math.max(...rss), rssMiBMean: Math.round(rss.reduce((a, b) => a + b, 0) / rss.length),
      };
      console.log(`[fleets] ${INSTANCES} instances: ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(' ')}`);
      expect(delays).toHaveLength(30 * (INSTANCES - 1));
      // A publisher and a subscriber each, whatever the fleet size.
      expect(clients).toBe(2 * INSTANCES);

      const durationMs = 20_000;
      const victim = fleet.instances[3]!;
      const run = await runTopology(`${INSTANCES} instances`, fleet, {
        secret, snapshotUrl: server!.url, clients: 12, durationMs,
        faults: [
          { at: durationMs * 0.25, name: `signing key rotation on instance ${fleet.instances[7]!.name}`, run: async () => void expect((await call(fleet.instances[7]!, 'POST', '/v1/keys/rotate')).status).toBe(200) },
          { at: durationMs * 0.5, name: `SIGKILL and restart of instance ${victim.name}`, run: async () => { await fleet.kill(victim); await sleep(500); await fleet.restart(victim); } },
        ],
        extra: () => figures,
      });
      expect(run.result.counts.faults).toBe(2);
      expect(run.result.counts.revocationChecks).toBeGreaterThan(0);
      expect(run.result.counts.theftsDetected, 'the run replayed no stolen token: it proved nothing about theft').toBeGreaterThan(0);
      expect(run.result.violations).toEqual([]);
      expect(run.sweepViolations).toEqual([]);
      expect(run.storeViolations).toEqual([]);
      expect(run.leaks).toEqual([]);
      expect(run.exitCodes).toEqual(Array.from({ length: INSTANCES }, () => 0));
    } finally {
      await fleet.stopAll();
    }
  });
});
