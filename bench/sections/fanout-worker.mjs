/**
 * Child process for the "fanout" section: one latchkey instance over the shared PostgreSQL schema,
 * with or without the Redis bus. Commands arrive over IPC:
 *   { cmd: 'create', n }      → { tokens: [{ sessionId, accessToken }] }
 *   { cmd: 'watch', token }   → { watching: true }, then, once verification refuses it, { refusedAt }
 *   { cmd: 'revoke', sessionId } → { startedAt, returnedAt }
 * Times are `performance.timeOrigin + performance.now()`: sub-millisecond and comparable across
 * processes on one machine.
 */
import { performance } from 'node:perf_hooks';
import { createLatchkey, UnauthorisedError } from 'latchkey';
import { postgresStore } from 'latchkey/stores/postgres';

const cfg = JSON.parse(process.argv[2]);
const clock = () => performance.timeOrigin + performance.now();
const bus = cfg.bus ? (await import('latchkey/revocation/redis')).redisBus({ url: cfg.redisUrl, channel: cfg.channel }) : undefined;
const store = postgresStore({ connectionString: cfg.url, schema: cfg.schema });
const engine = await createLatchkey({
  issuer: 'https://bench.latchkey.test',
  store,
  secret: Buffer.from(cfg.secret, 'hex'),
  revocationPollInterval: cfg.pollSeconds,
  ...(bus ? { bus } : {}),
});

process.on('message', async (m) => {
  if (m.cmd === 'create') {
    const tokens = [];
    for (let i = 0; i < m.n; i++) {
      const issued = await engine.createSession({ userId: `fanout-${i}` });
      tokens.push({ sessionId: issued.session.id, accessToken: issued.accessToken });
    }
    process.send({ tokens });
  } else if (m.cmd === 'watch') {
    await engine.verifyAccessToken(m.token); // accepted before the revocation, and now cached
    process.send({ watching: true });
    const deadline = Date.now() + m.timeoutMs;
    for (;;) {
      try {
        await engine.verifyAccessToken(m.token);
      } catch (err) {
        if (err instanceof UnauthorisedError) return process.send({ refusedAt: clock() });
        throw err;
      }
      if (Date.now() > deadline) return process.send({ refusedAt: null });
      // Yield to I/O so the bus message (or the poll) can land, then check again at once.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } else if (m.cmd === 'revoke') {
    const startedAt = clock();
    await engine.revokeSession(m.sessionId);
    process.send({ startedAt, returnedAt: clock() });
  } else if (m.cmd === 'close') {
    await engine.close();
    await store.close();
    process.exit(0);
  }
});
process.send({ ready: true });
