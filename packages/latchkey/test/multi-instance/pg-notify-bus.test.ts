/**
 * The PostgreSQL LISTEN/NOTIFY bus on its own: payload splitting under the 8000-byte limit, delivery,
 * malformed notifications, an unreachable server, and reconnection after a restart.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { BusMessage } from 'latchkey';
import { encodeNotifyPayloads, pgNotifyBus, type PgNotifyBus } from 'latchkey/revocation/pg-notify';
import { parseBusMessage } from 'latchkey/revocation/wire';
import { PG_URL, pgExec, postgresAvailable, uniqueName } from '../helpers/postgres.js';
import { freePort, startPrivatePostgres, type PrivatePostgres } from '../helpers/private-servers.js';
import { serviceAvailable } from '../helpers/services.js';

const available = await postgresAvailable();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

// Every third one revoked for theft: the reason must survive the split (D2), and its bytes count against the limit.
const manyRevocations = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ sessionId: `s_${i}_${'x'.repeat(24)}`, revokedAt: 1_800_000_000_000 + i, ...(i % 3 === 0 ? { reason: 'theft' as const } : {}) }));

describe('encodeNotifyPayloads', () => {
  it('splits a large revocation into payloads under the NOTIFY limit, losing nothing', () => {
    const revocations = manyRevocations(1000);
    const payloads = encodeNotifyPayloads({ type: 'revoked', revocations });
    expect(payloads.length).toBeGreaterThan(1);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(7500);
    const decoded = payloads.flatMap((p) => {
      const m = parseBusMessage(p);
      return m?.type === 'revoked' ? m.revocations : [];
    });
    expect(decoded).toEqual(revocations);
  });

  it('sends small messages whole', () => {
    expect(encodeNotifyPayloads({ type: 'keys-changed' })).toHaveLength(1);
    expect(encodeNotifyPayloads({ type: 'revoked', revocations: manyRevocations(3) })).toHaveLength(1);
  });
});

describe('pgNotifyBus with PostgreSQL unreachable', () => {
  it('subscribe resolves after its timeout, publish does not throw, the outage is reported once', async () => {
    const errors: Error[] = [];
    const bus = pgNotifyBus({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/test`, timeoutMs: 300, onError: (e) => errors.push(e) });
    try {
      let connected = 0;
      const started = Date.now();
      await bus.subscribe({ message: () => {}, connected: () => connected++ });
      await bus.publish({ type: 'keys-changed' });
      expect(Date.now() - started).toBeLessThan(2000);
      await sleep(300);
      expect(connected).toBe(0);
      expect(errors).toHaveLength(1);
    } finally {
      await bus.close();
    }
  });
});

describe.skipIf(!available)('pgNotifyBus on PostgreSQL', () => {
  const buses: PgNotifyBus[] = [];
  afterEach(async () => {
    for (const b of buses.splice(0)) await b.close();
  });

  it('delivers a large revocation in full, and ignores malformed notifications', async () => {
    const channel = uniqueName('lk_notify');
    const [a, b] = [pgNotifyBus({ connectionString: PG_URL, channel }), pgNotifyBus({ connectionString: PG_URL, channel })];
    buses.push(a, b);
    const got: BusMessage[] = [];
    let connected = 0;
    await b.subscribe({ message: (m) => got.push(m), connected: () => connected++ });
    expect(connected).toBe(1);
    for (const junk of ['', 'junk', '{"v":1,"type":"revoked","revocations":[]}']) await pgExec('SELECT pg_notify($1, $2)', [channel, junk]);
    const revocations = manyRevocations(400);
    await a.publish({ type: 'revoked', revocations });
    await a.publish({ type: 'keys-changed' });
    await until(() => got.some((m) => m.type === 'keys-changed'));
    expect(got.flatMap((m) => (m.type === 'revoked' ? m.revocations : []))).toEqual(revocations);
    expect(got.at(-1)).toEqual({ type: 'keys-changed' });
  });
});

let server: PrivatePostgres | undefined;
const privateAvailable = await serviceAvailable('private PostgreSQL cluster (initdb + pg_ctl as the postgres user)', async () => {
  server = await startPrivatePostgres();
});

describe.skipIf(!privateAvailable)('pgNotifyBus across a server restart (private cluster)', () => {
  afterAll(() => server?.destroy());

  it('reports the reconnection after listening again, and delivers again', async () => {
    const bus = pgNotifyBus({ connectionString: server!.url, onError: () => {} });
    try {
      const got: BusMessage[] = [];
      let connected = 0;
      await bus.subscribe({ message: (m) => got.push(m), connected: () => connected++ });
      expect(connected).toBe(1);
      await server!.stop('fast');
      await server!.start();
      await until(() => connected === 2, 5000);
      await pgExec(`SELECT pg_notify('latchkey_revocations', $1)`, ['{"v":1,"type":"keys-changed"}'], server!.url);
      await until(() => got.length === 1);
    } finally {
      await bus.close();
    }
  });

  it('notices a hung server by its heartbeat, and listens again once it answers', async () => {
    const errors: Error[] = [];
    const bus = pgNotifyBus({ connectionString: server!.url, heartbeatMs: 100, timeoutMs: 300, onError: (e) => errors.push(e) });
    try {
      let connected = 0;
      await bus.subscribe({ message: () => {}, connected: () => connected++ });
      server!.freeze();
      // Nothing closes the connection: only the missed heartbeat can tell.
      await until(() => errors.length > 0, 3000);
      server!.thaw();
      await until(() => connected === 2, 5000);
    } finally {
      server!.thaw();
      await bus.close();
    }
  });
});
