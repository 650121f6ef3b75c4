/**
 * Two latchkey instances in separate processes over one PostgreSQL schema and one Redis channel:
 * the guarantees a fleet behind a load balancer relies on.
 *
 * Tests that only add sessions share one pair (starting processes is the slow part); tests that
 * change the key set or the bus get a fresh deployment: their own schema, channel and pair.
 *
 * Store polling is switched off (revocationPollInterval: 0) and background timers too, so that
 * whatever reaches the other instance can only have come through the bus: a test here cannot pass
 * on a lucky poll.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, PG_URL, pgExec, postgresAvailable, REDIS_URL, redisAvailable, uniqueName } from '../helpers/postgres.js';
import { assertBuilt, RemoteInstance, type InstanceConfig } from './remote.js';

const available = (await postgresAvailable()) && (await redisAvailable());
const SECRET = 'fleet-test-secret-'.padEnd(48, 'x');
/** The fan-out promise: a revocation on one instance is refused by the others within this. */
const FAN_OUT_MS = 1000;

describe.skipIf(!available)('two instances over one PostgreSQL and Redis', () => {
  /** Instances to stop after the current test. */
  const perTest: RemoteInstance[] = [];
  const schemas: string[] = [];
  let shared: { schema: string; pair: Promise<[RemoteInstance, RemoteInstance]> } | undefined;
  /** The schema of the deployment the current test uses. */
  let schema: string;

  /** A fresh deployment: its own schema and channel. */
  function deployment(engine: Record<string, unknown> = {}): InstanceConfig {
    schema = uniqueName('lk_fleet');
    schemas.push(schema);
    return {
      store: { connectionString: PG_URL, schema, max: 4 },
      redisUrl: REDIS_URL,
      channel: `latchkey:test:${schema}`,
      engine: { issuer: 'https://fleet.example', secret: SECRET, timers: false, revocationPollInterval: 0, ...engine },
    };
  }

  /** Starts two instances one after the other, as a rolling deploy would (the first creates the schema and key). */
  async function start(config: InstanceConfig, into: RemoteInstance[]): Promise<[RemoteInstance, RemoteInstance]> {
    const a = await RemoteInstance.start(config);
    into.push(a);
    const b = await RemoteInstance.start(config);
    into.push(b);
    return [a, b];
  }

  /** A pair of its own for this test, over a fresh deployment. */
  function pair(engine?: Record<string, unknown>): Promise<[RemoteInstance, RemoteInstance]> {
    return start(deployment(engine), perTest);
  }

  const sharedInstances: RemoteInstance[] = [];
  /** The pair shared by tests that only add sessions. */
  function sharedPair(): Promise<[RemoteInstance, RemoteInstance]> {
    if (!shared) {
      const config = deployment();
      shared = { schema, pair: start(config, sharedInstances) };
    }
    schema = shared.schema;
    return shared.pair;
  }

  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await Promise.all(perTest.splice(0).map((i) => i.stop()));
  });
  afterAll(async () => {
    await Promise.all(sharedInstances.map((i) => i.stop()));
    for (const s of schemas) await dropSchema(s);
  });

  it('sign with one shared key and publish one JWKS', async () => {
    const [a, b] = await sharedPair();
    const [ta, tb] = [await a.createSession('u_keys'), await b.createSession('u_keys')];
    expect(ta.kid).toBe(tb.kid);
    expect(await a.jwks()).toEqual(await b.jwks());
    // Each verifies the other's tokens.
    expect(await b.verify(ta.accessToken)).toEqual({ ok: true, value: ta.sessionId });
    expect(await a.verify(tb.accessToken)).toEqual({ ok: true, value: tb.sessionId });
  });

  it('a session revoked on A is refused by B within a second', async () => {
    const [a, b] = await sharedPair();
    const tokens = await a.createSession('u_revoke');
    expect(await b.verify(tokens.accessToken)).toEqual({ ok: true, value: tokens.sessionId });
    const revokedAt = Date.now();
    expect(await a.call('revokeSession', { sessionId: tokens.sessionId })).toBe(true);
    expect(await b.waitRefused(tokens.accessToken, revokedAt + FAN_OUT_MS)).toBe('UNAUTHORISED');
  });

  it("all of a user's sessions revoked on B are refused by A within a second", async () => {
    const [a, b] = await sharedPair();
    const sessions = [await a.createSession('u_all'), await a.createSession('u_all'), await b.createSession('u_all')];
    const other = await a.createSession('u_bystander');
    const revokedAt = Date.now();
    expect(await b.call('revokeUserSessions', { userId: 'u_all' })).toBe(3);
    for (const s of sessions) expect(await a.waitRefused(s.accessToken, revokedAt + FAN_OUT_MS)).toBe('UNAUTHORISED');
    expect(await a.verify(other.accessToken)).toEqual({ ok: true, value: other.sessionId });
  });

  it("a theft detected on B kills the session's tokens on A", async () => {
    const [a, b] = await sharedPair();
    const t0 = await a.createSession('u_theft');
    const t1 = await a.call<{ accessToken: string; refreshToken: string }>('refresh', { refreshToken: t0.refreshToken });
    const t2 = await a.call<{ accessToken: string; refreshToken: string }>('refresh', { refreshToken: t1.refreshToken });
    expect(await a.verify(t2.accessToken)).toMatchObject({ ok: true });
    // The thief replays the first token (a grandparent of the current one) on the other instance.
    const detectedAt = Date.now();
    const replay = await b.refresh(t0.refreshToken);
    expect(replay).toMatchObject({ ok: false, error: { code: 'TOKEN_THEFT_DETECTED', reason: 'rotated-out-replay' } });
    // The bus carried the reason (store polling is off here): A tells the victim it was theft (D2).
    expect(await a.waitRefused(t2.accessToken, detectedAt + FAN_OUT_MS)).toBe('TOKEN_THEFT_DETECTED');
    // And the legitimate holder's refresh token is dead too, on either instance, saying why.
    expect(await a.refresh(t2.refreshToken)).toMatchObject({ ok: false, error: { code: 'TOKEN_THEFT_DETECTED', reason: 'revoked-for-theft' } });
    expect((await b.counts()).theft).toBe(1);
  });

  it('one refresh token presented to both instances at once: both get the same successor, no logout, no theft', async () => {
    const [a, b] = await sharedPair();
    const thefts = async () => (await a.counts()).theft + (await b.counts()).theft;
    const theftsBefore = await thefts();
    const clients = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).createSession(`u_race_${i}`)));
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(clients.map((c) => Promise.all([a.refresh(c.refreshToken), b.refresh(c.refreshToken)])));
      for (const [i, [fromA, fromB]] of results.entries()) {
        if (!fromA.ok || !fromB.ok) throw new Error(`refresh failed in round ${round}: ${JSON.stringify([fromA, fromB])}`);
        expect(fromA.value.refreshToken).toBe(fromB.value.refreshToken);
        expect(fromA.value.sessionId).toBe(clients[i]!.sessionId);
        clients[i] = fromA.value;
      }
    }
    // Every session rotated exactly once per round, whichever instance won each race.
    const rows = await pgExec<{ generation: number; revoked_at: string | null }>(
      `SELECT generation, revoked_at FROM "${schema}".latchkey_sessions WHERE id = ANY($1)`,
      [clients.map((c) => c.sessionId)],
    );
    expect(rows.map((r) => [r.generation, r.revoked_at])).toEqual(clients.map(() => [3, null]));
    expect(await thefts()).toBe(theftsBefore);
  });

  it('at a rotation boundary exactly one instance creates the next key, and both sign with it', async () => {
    const rotation = { keyRotationInterval: 3600, keyPublishLead: 60 };
    const [a, b] = await pair(rotation);
    const keysCreated = async () => (await a.counts()).keysRotated + (await b.counts()).keysRotated;
    for (let boundary = 1; boundary <= 3; boundary++) {
      const createdBefore = await keysCreated();
      // Both clocks reach the moment the next key is due; both run maintenance at once.
      await Promise.all([a, b].map((i) => i.call('advanceClock', { ms: (3600 - 60) * 1000 })));
      await Promise.all([a.call('maintainKeys'), b.call('maintainKeys')]);
      const generations = await pgExec<{ generation: number }>(`SELECT generation FROM "${schema}".latchkey_signing_keys ORDER BY generation`);
      expect(generations.at(-1)?.generation).toBe(boundary + 1);
      // Both tried; the unique generation let exactly one insert through.
      expect((await keysCreated()) - createdBefore).toBe(1);
      // Each instance prunes old keys by its own clock, a few ms apart across processes; one more
      // pass (what their key timers do every minute) and both publish exactly what the store holds.
      await Promise.all([a.call('maintainKeys'), b.call('maintainKeys')]);
      const jwksA = await a.jwks();
      expect(await b.jwks()).toEqual(jwksA);
      // The new key is published but does not sign until the lead has passed.
      const before = await Promise.all([a.call<string>('signingKid'), b.call<string>('signingKid')]);
      await Promise.all([a, b].map((i) => i.call('advanceClock', { ms: 60 * 1000 })));
      const after = await Promise.all([a.call<string>('signingKid'), b.call<string>('signingKid')]);
      expect(after[0]).toBe(after[1]);
      expect(after[0]).not.toBe(before[0]);
      expect(jwksA.keys.map((k) => k.kid)).toContain(after[0]);
    }
  });

  it('without Redis, over PostgreSQL LISTEN/NOTIFY: a session revoked on A is refused by B within a second', async () => {
    const config = deployment();
    const [a, b] = await start({ ...config, redisUrl: undefined, pgNotify: true, channel: schema }, perTest);
    const tokens = await a.createSession('u_notify');
    expect(await b.verify(tokens.accessToken)).toEqual({ ok: true, value: tokens.sessionId });
    const revokedAt = Date.now();
    expect(await a.call('revokeSession', { sessionId: tokens.sessionId })).toBe(true);
    expect(await b.waitRefused(tokens.accessToken, revokedAt + FAN_OUT_MS)).toBe('UNAUTHORISED');
  });

  it('a key rotated on A is picked up by B without a restart', async () => {
    const [a, b] = await pair();
    const { kid } = await a.call<{ kid: string }>('rotateKeys');
    // B hears `keys-changed` on the bus and reloads: it signs with the new key before it has even
    // seen a token signed by it (which would also make it reload, on the unknown kid).
    expect(await b.call('waitSigningKid', { kid, deadline: Date.now() + FAN_OUT_MS })).toBe(true);
    const token = await a.createSession('u_newkey');
    expect(token.kid).toBe(kid);
    expect(await b.verify(token.accessToken)).toEqual({ ok: true, value: token.sessionId });
  });
});
