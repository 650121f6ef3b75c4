/**
 * The Redis bus on its own: what it accepts off the wire, that it never throws or hangs when Redis
 * is away, and that it reports every (re)connection so the engine can catch up.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { BusMessage } from 'latchkey';
import { parseBusMessage, redisBus, type RedisBus } from 'latchkey/revocation/redis';
import { REDIS_URL, redisAvailable, uniqueName } from '../helpers/postgres.js';
import { freePort, startPrivateRedis } from '../helpers/private-servers.js';

const available = await redisAvailable();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/**
 * A TCP relay to Redis that can be cut and restored: one bus's connections go through it, so that
 * bus alone loses Redis while the others keep theirs (as when two instances' connections come back
 * at different moments after a failover).
 */
async function cuttableRelay(target: URL): Promise<{ url: string; cut(): void; restore(): void; close(): Promise<void> }> {
  let up = true;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (!up) return void client.destroy();
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 6379) });
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => (sockets.delete(a), b.destroy()));
      a.pipe(b);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    cut() {
      up = false;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      up = true;
    },
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

describe('parseBusMessage', () => {
  it('accepts the two message types', () => {
    expect(parseBusMessage('{"v":1,"type":"keys-changed"}')).toEqual({ type: 'keys-changed' });
    expect(parseBusMessage('{"v":1,"type":"revoked","revocations":[{"sessionId":"s1","revokedAt":5}]}')).toEqual({
      type: 'revoked',
      revocations: [{ sessionId: 's1', revokedAt: 5 }],
    });
  });

  it('carries the revocation reason, and still honours a revocation without one or with an unknown one', () => {
    // Older releases send no reason (and ignore it when reading): both directions keep revoking.
    const raw = JSON.stringify({
      v: 1,
      type: 'revoked',
      revocations: [{ sessionId: 's1', revokedAt: 1, reason: 'theft' }, { sessionId: 's2', revokedAt: 2 }, { sessionId: 's3', revokedAt: 3, reason: 'meteor' }],
    });
    expect(parseBusMessage(raw)).toEqual({
      type: 'revoked',
      revocations: [{ sessionId: 's1', revokedAt: 1, reason: 'theft' }, { sessionId: 's2', revokedAt: 2 }, { sessionId: 's3', revokedAt: 3 }],
    });
  });

  it('keeps only well-formed revocation entries', () => {
    const raw = JSON.stringify({
      v: 1,
      type: 'revoked',
      revocations: [null, 7, 's', { sessionId: 1, revokedAt: 1 }, { sessionId: 's2' }, { sessionId: 's3', revokedAt: '1' }, { sessionId: 's4', revokedAt: 9 }],
    });
    expect(parseBusMessage(raw)).toEqual({ type: 'revoked', revocations: [{ sessionId: 's4', revokedAt: 9 }] });
  });

  it.each([
    ['empty', ''],
    ['not JSON', '{"v":1,'],
    ['null', 'null'],
    ['a number', '42'],
    ['an array', '[{"v":1,"type":"keys-changed"}]'],
    ['no version', '{"type":"keys-changed"}'],
    ['a future version', '{"v":2,"type":"keys-changed"}'],
    ['an unknown type', '{"v":1,"type":"unrevoke","sessionId":"s1"}'],
    ['revocations not a list', '{"v":1,"type":"revoked","revocations":{"sessionId":"s1","revokedAt":1}}'],
    ['no valid revocation', '{"v":1,"type":"revoked","revocations":[{"sessionId":"s1"}]}'],
    ['too large', JSON.stringify({ v: 1, type: 'revoked', revocations: [{ sessionId: 'x'.repeat(1_000_001), revokedAt: 1 }] })],
  ])('ignores %s', (_, raw) => {
    expect(parseBusMessage(raw)).toBeNull();
  });
});

describe('redisBus with Redis unreachable', () => {
  let bus: RedisBus | undefined;
  afterEach(() => bus?.close());

  it('subscribe resolves after its timeout, publish resolves without throwing, the outage is reported once', async () => {
    const errors: Error[] = [];
    bus = redisBus({ url: `redis://127.0.0.1:${await freePort()}`, timeoutMs: 300, onError: (e) => errors.push(e) });
    let connected = 0;
    const started = Date.now();
    await bus.subscribe({ message: () => {}, connected: () => connected++ });
    await bus.publish({ type: 'keys-changed' });
    await bus.publish({ type: 'revoked', revocations: [{ sessionId: 's1', revokedAt: 1 }] });
    // Bounded by the bus timeout, not by TCP: generous slack, the point is "does not hang".
    expect(Date.now() - started).toBeLessThan(2000);
    await sleep(300); // several reconnection attempts
    expect(connected).toBe(0);
    expect(errors).toHaveLength(1);
  });
});

describe.skipIf(!available)('redisBus on Redis', () => {
  const buses: RedisBus[] = [];
  const raw: Redis[] = [];
  afterEach(async () => {
    for (const b of buses.splice(0)) await b.close();
    for (const r of raw.splice(0)) r.disconnect();
  });

  it('delivers messages between buses on one channel, and not across channels', async () => {
    const channel = uniqueName('latchkey:test');
    const [a, b, elsewhere] = [redisBus({ url: REDIS_URL, channel }), redisBus({ url: REDIS_URL, channel }), redisBus({ url: REDIS_URL, channel: `${channel}:other` })];
    buses.push(a, b, elsewhere);
    const got: BusMessage[] = [];
    const strays: BusMessage[] = [];
    let connected = 0;
    await b.subscribe({ message: (m) => got.push(m), connected: () => connected++ });
    await elsewhere.subscribe({ message: (m) => strays.push(m), connected: () => {} });
    expect(connected).toBe(1);
    await a.publish({ type: 'revoked', revocations: [{ sessionId: 's1', revokedAt: 123 }] });
    await a.publish({ type: 'keys-changed' });
    await until(() => got.length === 2);
    expect(got).toEqual([{ type: 'revoked', revocations: [{ sessionId: 's1', revokedAt: 123 }] }, { type: 'keys-changed' }]);
    expect(strays).toEqual([]);
  });

  it('ignores malformed messages on its channel and keeps working', async () => {
    const channel = uniqueName('latchkey:test');
    const bus = redisBus({ url: REDIS_URL, channel });
    buses.push(bus);
    const got: BusMessage[] = [];
    await bus.subscribe({ message: (m) => got.push(m), connected: () => {} });
    const publisher = new Redis(REDIS_URL);
    raw.push(publisher);
    for (const junk of ['', 'garbage', '{"v":1,"type":"revoked"}', '{"v":1,"type":"revoked","revocations":[{"sessionId":5}]}', '\u0000\uffff']) {
      await publisher.publish(channel, junk);
    }
    await publisher.publish(channel, '{"v":1,"type":"keys-changed"}');
    await until(() => got.length === 1);
    await sleep(50);
    expect(got).toEqual([{ type: 'keys-changed' }]);
  });

  it('notices a hung server by its heartbeat, reconnects, and reports the reconnection', async () => {
    const server = await startPrivateRedis();
    try {
      const errors: Error[] = [];
      const bus = redisBus({ url: server.url, heartbeatMs: 100, timeoutMs: 200, onError: (e) => errors.push(e) });
      buses.push(bus);
      let connected = 0;
      await bus.subscribe({ message: () => {}, connected: () => connected++ });
      server.freeze();
      // Nothing closes the connection: only the missed heartbeat can tell.
      await until(() => errors.length > 0, 3000);
      server.thaw();
      await until(() => connected === 2, 5000);
    } finally {
      server.thaw();
      await server.destroy();
    }
  });

  it('sends a message whose publish failed once its connection is back, in order, to a receiver that was never cut off', async () => {
    // The receiver caught up from the store before the revocation existed and stays connected: with
    // store polling off, only the sender sending again can tell it (the Sentinel failover flake).
    const channel = uniqueName('latchkey:test');
    const relay = await cuttableRelay(new URL(REDIS_URL));
    try {
      const errors: Error[] = [];
      const sender = redisBus({ url: relay.url, channel, onError: (e) => errors.push(e) });
      const receiver = redisBus({ url: REDIS_URL, channel });
      buses.push(sender, receiver);
      const got: BusMessage[] = [];
      await receiver.subscribe({ message: (m) => got.push(m), connected: () => {} });
      await sender.publish({ type: 'keys-changed' });
      await until(() => got.length === 1);

      relay.cut();
      await until(() => errors.length > 0);
      const first: BusMessage = { type: 'revoked', revocations: [{ sessionId: 's1', revokedAt: 1 }] };
      const second: BusMessage = { type: 'revoked', revocations: [{ sessionId: 's2', revokedAt: 2, reason: 'theft' }] };
      await sender.publish(first);
      await sender.publish(second);
      expect(sender.unsent).toBe(2);
      await sleep(200);
      expect(got).toHaveLength(1);

      relay.restore();
      await until(() => got.length === 3, 5000);
      expect(got.slice(1)).toEqual([first, second]);
      expect(sender.unsent).toBe(0);
    } finally {
      await relay.close();
    }
  });

  it('keeps at most maxUnsent failed messages, dropping the oldest with a report', async () => {
    const errors: Error[] = [];
    const bus = redisBus({ url: `redis://127.0.0.1:${await freePort()}`, timeoutMs: 200, maxUnsent: 2, onError: (e) => errors.push(e) });
    buses.push(bus);
    for (let i = 0; i < 5; i++) await bus.publish({ type: 'revoked', revocations: [{ sessionId: `s${i}`, revokedAt: i }] });
    expect(bus.unsent).toBe(2);
    expect(errors.some((e) => /dropped 1 bus message/.test(e.message))).toBe(true);
  });

  it('reports every reconnection, after resubscribing', async () => {
    const server = await startPrivateRedis();
    try {
      const channel = 'latchkey:revocations';
      const bus = redisBus({ url: server.url, onError: () => {} });
      buses.push(bus);
      const got: BusMessage[] = [];
      let connected = 0;
      await bus.subscribe({ message: (m) => got.push(m), connected: () => connected++ });
      expect(connected).toBe(1);
      await server.stop();
      await server.start();
      await until(() => connected === 2, 5000);
      // connected() came after the subscription was confirmed: a message published now arrives.
      const publisher = new Redis(server.url);
      raw.push(publisher);
      await publisher.publish(channel, '{"v":1,"type":"keys-changed"}');
      await until(() => got.length === 1);
    } finally {
      await server.destroy();
    }
  });
});
