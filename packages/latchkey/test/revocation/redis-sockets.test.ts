/**
 * ioredis listens for its socket's errors with once(), so a second error on one socket (a refused
 * TLS handshake: the certificate error, then the server's alert) was an uncaught exception that
 * killed the process (seen in tls.test.ts as ERR_SSL_TLSV1_ALERT_DECODE_ERROR). guardSockets gives
 * every socket a lasting listener. Against the real Redis: two errors on a live connection's socket.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { guardSockets } from 'latchkey/util/redis-sockets';
import { REDIS_URL, redisAvailable } from '../helpers/postgres.js';

const available = await redisAvailable();

async function connected(guard: boolean, reported: Error[]): Promise<Redis> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  if (guard) guardSockets(redis, (error) => reported.push(error));
  await redis.connect();
  return redis;
}

describe.skipIf(!available)('guardSockets (ioredis socket errors)', () => {
  it('a second error on a connection socket is reported, not thrown', async () => {
    const reported: Error[] = [];
    const redis = await connected(true, reported);
    try {
      const socket = redis.stream;
      expect(() => {
        socket.emit('error', new Error('certificate refused'));
        socket.emit('error', new Error('tlsv1 alert decode error'));
      }).not.toThrow();
      expect(reported.map((e) => e.message)).toEqual(['certificate refused', 'tlsv1 alert decode error']);
    } finally {
      redis.disconnect();
    }
  });

  it('without it, ioredis leaves the second error unhandled (why the guard exists)', async () => {
    const redis = await connected(false, []);
    try {
      const socket = redis.stream;
      socket.emit('error', new Error('certificate refused'));
      expect(() => socket.emit('error', new Error('tlsv1 alert decode error'))).toThrow('tlsv1 alert decode error');
    } finally {
      redis.disconnect();
    }
  });
});
