/** Shared set-up: an engine with fixed options, and a pool of distinct access tokens. */
import { randomBytes } from 'node:crypto';
import { createLatchkey } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';

export const ISSUER = 'https://bench.latchkey.test';
export const AUDIENCE = 'latchkey';

/** A fresh engine on the in-memory store, timers off (benchmarks control time). */
export function benchEngine(options = {}) {
  return createLatchkey({
    issuer: ISSUER,
    store: options.store ?? memoryStore(),
    secret: options.secret ?? randomBytes(32),
    timers: false,
    ...options,
  });
}

/** `count` sessions; returns their access tokens (all distinct: each has its own sid and jti). */
export async function issueTokens(engine, count) {
  const tokens = [];
  for (let i = 0; i < count; i++) {
    const issued = await engine.createSession({ userId: `user-${i}`, accessClaims: { role: 'member' } });
    tokens.push(issued.accessToken);
  }
  return tokens;
}
