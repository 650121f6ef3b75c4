/**
 * Redis Sentinel: a private primary, a replica and three Sentinels (Debian's redis-server and
 * redis-sentinel, loopback only). Three engines share one PostgreSQL schema and a bus configured
 * with a single `redis+sentinel://` URL, with store polling OFF, so the bus and its reconnection
 * catch-up are the only ways news can travel.
 *
 * The primary is SIGKILLed while revocations are being made, one every 100 ms on a rotating
 * instance. The Sentinels promote the replica; the buses reconnect to it through the Sentinels.
 * Every revocation must then be refused by every instance: those published before the crash at
 * once, those made while no primary existed by the catch-up each bus's reconnection triggers, and
 * those after the failover over the bus again. The delay of each is measured and printed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createLatchkey, type Latchkey } from 'latchkey';
import { postgresStore, type PostgresStore } from 'latchkey/stores/postgres';
import { redisBus } from 'latchkey/revocation/redis';
import { dropSchema, PG_URL, postgresAvailable, uniqueName } from '../helpers/postgres.js';
import { startPrivateSentinelGroup, type PrivateSentinelGroup } from '../helpers/private-servers.js';
import { serviceAvailable } from '../helpers/services.js';
import { percentile } from '../hardening/support/topology.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SECRET = 'sentinel-test-secret-'.padEnd(48, 'x');

let group: PrivateSentinelGroup | undefined;
const available = (await postgresAvailable())
  && (await serviceAvailable('private Redis primary + replica + three Sentinels (redis-server, redis-sentinel)', async () => {
    group = await startPrivateSentinelGroup();
  }));

afterAll(async () => {
  await group?.destroy();
});

/** The primary's port as the Sentinels report it. */
async function primaryPort(sentinelPort: number, name: string): Promise<number> {
  const sentinel = new Redis({ port: sentinelPort, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await sentinel.connect();
    const [, port] = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', name)) as [string, string];
    return Number(port);
  } finally {
    sentinel.disconnect();
  }
}

async function refused(engine: Latchkey, token: string): Promise<boolean> {
  return engine.verifyAccessToken(token).then(() => false, () => true);
}

describe.skipIf(!available)('Redis Sentinel failover while revocations are published (three instances, store polling off)', () => {
  const schema = uniqueName('lk_sentinel');
  const stores: PostgresStore[] = [];
  const engines: Latchkey[] = [];

  afterAll(async () => {
    for (const e of engines) await e.close();
    for (const s of stores) await s.close();
    await dropSchema(schema);
  });

  it('every revocation reaches every instance after the primary is killed; delays measured', { timeout: 90_000 }, async () => {
    const g = group!;
    const channel = uniqueName('lk:sentinel');
    const busErrors: string[] = [];
    for (let i = 0; i < 3; i++) {
      const store = postgresStore({ connectionString: PG_URL, schema, max: 4 });
      stores.push(store);
      const engine = await createLatchkey({
        issuer: 'https://sentinel.test', secret: SECRET, store, timers: false, revocationPollInterval: 0,
        bus: redisBus({ url: g.url, channel, onError: (e) => busErrors.push(e.message) }),
      });
      engine.on('error', () => {});
      engines.push(engine);
    }
    expect(await primaryPort(g.sentinels[0]!.port, g.name)).toBe(g.primary.port);

    const sessions = await Promise.all(Array.from({ length: 120 }, (_, i) => engines[i % 3]!.createSession({ userId: `u_sentinel_${i}` })));
    const delays: Array<{ phase: string; ms: number }> = [];
    const unreached: string[] = [];
    let killedAt = 0;
    let switchedAt = 0;
    let phase = 'before the crash';
    const checks: Promise<void>[] = [];
    const started = Date.now();

    for (let i = 0; i < sessions.length; i++) {
      if (i === 15) {
        await g.primary.kill();
        killedAt = Date.now();
        phase = 'no primary';
      }
      if (phase === 'no primary' && !switchedAt && (await primaryPort(g.sentinels[0]!.port, g.name).catch(() => 0)) === g.replica.port) switchedAt = Date.now();
      // The buses reconnect within their backoff (at most 1 s) once the Sentinels name the new primary.
      if (switchedAt && Date.now() - switchedAt > 2_000) phase = 'after the failover';
      const s = sessions[i]!;
      const revoker = engines[i % 3]!;
      await revoker.revokeSession(s.session.id);
      const ackAt = Date.now();
      const at = phase;
      // Each other instance: polled (in memory, no I/O) until it refuses the token, for up to 20 s.
      for (const other of engines.filter((e) => e !== revoker)) {
        checks.push((async () => {
          while (Date.now() - ackAt < 20_000) {
            if (await refused(other, s.accessToken)) {
              delays.push({ phase: at, ms: Date.now() - ackAt });
              return;
            }
            await sleep(10);
          }
          unreached.push(`${s.session.id} (${at})`);
        })());
      }
      await sleep(100);
    }
    await Promise.all(checks);
    const newPrimary = await primaryPort(g.sentinels[0]!.port, g.name);

    const figures = (list: number[]) => (list.length ? `n=${list.length} p50=${percentile(list, 50)}ms p99=${percentile(list, 99)}ms max=${Math.max(...list)}ms` : 'n=0');
    for (const p of ['before the crash', 'no primary', 'after the failover']) {
      console.log(`[fleets] sentinel fan-out ${p}: ${figures(delays.filter((d) => d.phase === p).map((d) => d.ms))}`);
    }
    console.log(`[fleets] sentinel run: ${Date.now() - started} ms, primary killed at +${killedAt - started} ms, Sentinels named the replica ${switchedAt - killedAt} ms after the kill, bus reports: ${busErrors.length}`);

    expect(newPrimary, 'the Sentinels did not promote the replica').toBe(g.replica.port);
    expect(unreached).toEqual([]);
    expect(delays).toHaveLength(sessions.length * 2);
    // Before the crash and after the failover, the bus itself carries the news: within the promised second.
    expect(delays.filter((d) => d.phase === 'before the crash' && d.ms > 1_000)).toEqual([]);
    expect(delays.filter((d) => d.phase === 'after the failover').length, 'no revocation was made after the failover: it proved nothing').toBeGreaterThan(0);
    expect(delays.filter((d) => d.phase === 'after the failover' && d.ms > 1_000)).toEqual([]);
  });
});
