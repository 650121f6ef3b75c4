/**
 * Test helpers for the engine: a controllable clock and an engine on a chosen store with timers off,
 * so expiry, grace windows and key rotation run on test time.
 */
import { createLatchkey, type Latchkey, type LatchkeyOptions } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';

export const TEST_SECRET = 'test-secret-that-is-at-least-32-bytes-long';
export const ISSUER = 'https://auth.test.example';

export class FakeClock {
  constructor(public ms = Date.UTC(2026, 0, 1)) {}
  now = (): number => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

/**
 * The engine keeps its store private (writes must go through its denylist and bus), so the store it
 * runs on comes back beside it for tests that inspect or share it.
 */
export async function testEngine(options: Partial<LatchkeyOptions> = {}): Promise<{ lk: Latchkey; clock: FakeClock; store: SessionStore }> {
  const clock = options.clock instanceof FakeClock ? options.clock : new FakeClock();
  const store = options.store ?? memoryStore();
  const lk = await createLatchkey({
    issuer: ISSUER,
    secret: TEST_SECRET,
    timers: false,
    ...options,
    store,
    clock,
  });
  return { lk, clock, store };
}

import { importPKCS8, SignJWT, type JWTPayload, type JWTHeaderParameters } from 'jose';
import type { SessionStore } from 'latchkey';
import { deriveSubkey } from '../../src/keys/derive.js';
import { decryptPrivateKey } from '../../src/keys/encryption.js';

/**
 * Signs an arbitrary payload and header with the store's newest signing key, as only a holder of the
 * master secret could: lets attack tests build tokens that are validly signed but wrong in one way.
 */
export async function signWithStoreKey(
  store: SessionStore,
  payload: JWTPayload,
  header: Partial<JWTHeaderParameters> = {},
  secret = TEST_SECRET,
): Promise<string> {
  const keys = await store.listSigningKeys();
  const key = keys.at(-1)!;
  const pem = decryptPrivateKey(deriveSubkey(new TextEncoder().encode(secret), 'key-encryption'), key.kid, key.privateKeyEncrypted);
  const privateKey = await importPKCS8(pem, key.alg);
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, typ: 'at+jwt', kid: key.kid, ...header }).sign(privateKey);
}

/** Wraps a real store and counts calls per method, to prove that rejected input never reaches it. */
export function countingStore<S extends SessionStore>(store: S): { store: S; calls: Map<string, number>; total(): number } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls, total: () => [...calls.values()].reduce((a, b) => a + b, 0) };
}
