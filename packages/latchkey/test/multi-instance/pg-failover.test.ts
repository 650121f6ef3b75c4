/**
 * PostgreSQL failover under the invariant load test: a primary and a streaming replica (two private
 * clusters, pg_basebackup, SYNCHRONOUS replication), two `latchkey serve` instances whose
 * LATCHKEY_STORE names both hosts with `target_session_attrs=read-write`. Mid-load the primary
 * crashes (`pg_ctl stop -m immediate`) and the replica is promoted.
 *
 * What must hold: refreshes during the failover fail with 503 STORE_UNAVAILABLE only (a probe
 * refreshes every 100 ms and the window is measured and printed), then resume on the promoted
 * server by themselves; and read from the promoted server at the end, nothing any client was
 * acknowledged is missing (every token handed out is in its chain, every acknowledged revocation
 * is there, no benign retry taken for theft). That last part holds because replication is
 * synchronous: with asynchronous replication the newest commits can be lost (docs/deployment.md).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { builtCliAvailable } from '../cli/helpers.js';
import { isLatchkeyError } from 'latchkey';
import { postgresStore } from 'latchkey/stores/postgres';
import { dropSchema, pgExec, uniqueName } from '../helpers/postgres.js';
import { sessionFixture } from 'latchkey/stores';
import { startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis } from '../helpers/private-servers.js';
import { serviceAvailable } from '../helpers/services.js';
import { Fleet } from '../hardening/support/fleet.js';
import { runTopology, topologyEnv, TOPOLOGY_API_KEY } from '../hardening/support/topology.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let primary: PrivatePostgres | undefined;
let replica: PrivatePostgres | undefined;
let redis: PrivateRedis | undefined;
const available = (await builtCliAvailable())
  && (await serviceAvailable('private PostgreSQL primary + streaming replica (initdb, pg_basebackup, pg_ctl)', async () => {
    primary = await startPrivatePostgres();
    replica = await startPrivatePostgres({ replicaOf: primary });
    // Synchronous from here on, set on the primary only (ALTER SYSTEM after the base backup): the
    // promoted replica must not wait for a standby of its own that does not exist.
    await pgExec("ALTER SYSTEM SET synchronous_standby_names = '*'", [], primary.url);
    // remote_apply, not the default remote flush: a commit is acknowledged once the standby has
    // applied it, so what the primary acknowledged is visible there (the multi-host case below reads
    // the schema on the standby right after migrating on the primary; with flush only it sometimes
    // found no table yet: 3 runs in 3 on one quiet run of this machine).
    await pgExec("ALTER SYSTEM SET synchronous_commit = 'remote_apply'", [], primary.url);
    await pgExec('SELECT pg_reload_conf()', [], primary.url);
    for (let i = 0; ; i++) {
      const rows = await pgExec<{ sync_state: string }>('SELECT sync_state FROM pg_stat_replication', [], primary.url);
      if (rows[0]?.sync_state === 'sync') break;
      if (i > 100) throw new Error('the replica did not become a synchronous standby within 10 s');
      await sleep(100);
    }
    redis = await startPrivateRedis();
  }));

afterAll(async () => {
  await replica?.destroy();
  await primary?.destroy();
  await redis?.destroy();
});

interface Probe {
  at: number;
  status: number;
  code: string | undefined;
}

/** A client refreshing one session every 100 ms, retrying the same token after a failure, as a real client does. */
function startRefreshProbe(fleet: Fleet): { stop: () => Promise<Probe[]> } {
  const probes: Probe[] = [];
  let running = true;
  const call = async (path: string, body: unknown) => {
    try {
      const res = await fetch(fleet.pick().url + path, {
        method: 'POST', headers: { authorization: `Bearer ${TOPOLOGY_API_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(5_000),
      });
      const json: any = await res.json().catch(() => undefined);
      return { status: res.status, json, code: json?.error?.code as string | undefined };
    } catch {
      return { status: 0, json: undefined, code: undefined };
    }
  };
  const loop = (async () => {
    const created = await call('/v1/sessions', { userId: 'failover-probe' });
    let token = created.json.refreshToken as string;
    while (running) {
      const reply = await call('/v1/sessions/refresh', { refreshToken: token });
      probes.push({ at: Date.now(), status: reply.status, code: reply.code });
      if (reply.status === 200) token = reply.json.refreshToken;
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return probes;
    },
  };
}

describe.skipIf(!available)('multi-host LATCHKEY_STORE before the failover (the standby listed first)', () => {
  it('with target_session_attrs=read-write, connections skip the read-only standby; without it, writes there fail typed', async () => {
    const schema = uniqueName('lk_hosts');
    const hosts = `127.0.0.1:${replica!.port},127.0.0.1:${primary!.port}`;
    const readWrite = postgresStore({ connectionString: `postgres://postgres@${hosts}/postgres?target_session_attrs=read-write`, schema, max: 2 });
    try {
      await readWrite.migrate();
      await readWrite.createSession(sessionFixture());
      // It went to the primary (and, replication being synchronous, is on the standby already).
      const rows = await pgExec<{ n: string }>(`SELECT COUNT(*) AS n FROM ${schema}.latchkey_sessions`, [], primary!.url);
      expect(Number(rows[0]!.n)).toBe(1);
    } finally {
      await readWrite.close();
    }
    const anyHost = postgresStore({ connectionString: `postgres://postgres@${hosts}/postgres`, schema, max: 2 });
    try {
      const error = await anyHost.createSession(sessionFixture()).then(() => null, (e: unknown) => e);
      // The standby accepted the connection and refused the write: SQLSTATE 25006, mapped as a failover.
      expect(isLatchkeyError(error, 'STORE_UNAVAILABLE'), `expected STORE_UNAVAILABLE, got ${String(error)} ${(error as { cause?: unknown } | null)?.cause ?? ''}`).toBe(true);
    } finally {
      await anyHost.close();
      await dropSchema(schema, primary!.url);
    }
  });
});

describe.skipIf(!available)('PostgreSQL primary crash and replica promotion under load (synchronous replication, multi-host LATCHKEY_STORE)', () => {
  it('refreshes fail only with STORE_UNAVAILABLE during the failover, then resume; nothing acknowledged is lost', { timeout: 120_000 }, async () => {
    const { env, secret } = topologyEnv({
      LATCHKEY_STORE: `postgres://postgres@127.0.0.1:${primary!.port},127.0.0.1:${replica!.port}/postgres?target_session_attrs=read-write`,
      LATCHKEY_REDIS_URL: redis!.url,
    });
    const fleet = await Fleet.start(env, 2);
    const durationMs = 14_000;
    let killedAt = 0;
    let promotedAt = 0;
    const probe = startRefreshProbe(fleet);
    let probes: Probe[] = [];
    let probeDone: Promise<unknown> | undefined;
    try {
      const run = await runTopology('PostgreSQL failover (sync replica promoted)', fleet, {
        secret, snapshotUrl: replica!.url, clients: 10, durationMs,
        faults: [{
          at: durationMs * 0.4,
          name: 'primary crash (stop -m immediate), replica promoted 1 s later',
          run: async () => {
            await primary!.stop('immediate');
            killedAt = Date.now();
            // A failover manager (Patroni, repmgr, a cloud's) takes a moment to decide; 1 s is quick.
            await sleep(1_000);
            await replica!.promote();
            promotedAt = Date.now();
            // The probe runs on for 3 s after the promotion, to see refreshes resume.
            probeDone = sleep(3_000).then(() => probe.stop()).then((p) => (probes = p));
          },
        }],
        extra: () => {
          const failures = probes.filter((p) => p.status !== 200);
          const firstFailure = failures[0]?.at ?? 0;
          const resumed = probes.find((p) => p.status === 200 && p.at > (failures.at(-1)?.at ?? 0))?.at ?? 0;
          return { probeRefreshes: probes.length, probeFailures: failures.length, promoteMs: promotedAt - killedAt, unavailableWindowMs: failures.length ? resumed - firstFailure : 0 };
        },
      });
      await probeDone;
      const failures = probes.filter((p) => p.status !== 200);
      // Every failure the probe saw was the typed, retryable one; and it recovered after the promotion.
      expect(failures.length, 'the probe never saw the failover: it proved nothing').toBeGreaterThan(0);
      expect(failures.filter((p) => p.status !== 503 || p.code !== 'STORE_UNAVAILABLE')).toEqual([]);
      expect(probes.at(-1)?.status).toBe(200);
      expect(run.result.counts.faults).toBe(1);
      expect(run.result.counts.status503).toBeGreaterThan(0);
      expect(run.result.violations).toEqual([]);
      expect(run.sweepViolations).toEqual([]);
      expect(run.storeViolations).toEqual([]);
      expect(run.leaks).toEqual([]);
      expect(run.exitCodes).toEqual([0, 0]);
    } finally {
      if (!probeDone) await probe.stop();
      await fleet.stopAll();
    }
  });
});
