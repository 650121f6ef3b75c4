/**
 * Issue 16 across a fleet: two latchkey instances in separate processes over one PostgreSQL schema and
 * one Redis channel. A claim set for all of a user's sessions on instance A (setClaimValue with
 * `{ userId }`) is taken into account by instance B at the very next request of each of those
 * sessions, within a second, although B has already verified their tokens and no token has expired:
 * B answers TRY_REFRESH_TOKEN, and the refresh (on either instance) mints a token with the new value.
 *
 * Store polling and background timers are off, so what reaches B can only have come through the bus.
 * The deadline is polled for (waitRefused), and the assertion is on the outcome, never on a timing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, PG_URL, postgresAvailable, REDIS_URL, redisAvailable, uniqueName } from '../helpers/postgres.js';
import { assertBuilt, RemoteInstance, type InstanceConfig } from './remote.js';

const available = (await postgresAvailable()) && (await redisAvailable());
const SECRET = 'claims-fleet-secret-'.padEnd(48, 'x');
/** The promise: a change on one instance holds on the others within this. */
const FAN_OUT_MS = 1000;

describe.skipIf(!available)('claims across two instances over one PostgreSQL and Redis', () => {
  const schema = uniqueName('lk_claims');
  let a: RemoteInstance;
  let b: RemoteInstance;
  let config: InstanceConfig;
  const late: RemoteInstance[] = [];

  beforeAll(async () => {
    assertBuilt();
    config = {
      store: { connectionString: PG_URL, schema, max: 4 },
      redisUrl: REDIS_URL,
      channel: `latchkey:test:${schema}`,
      // A long access-token lifetime: nothing here may pass because a token expired.
      engine: { issuer: 'https://claims-fleet.example', secret: SECRET, timers: false, revocationPollInterval: 0, accessTokenTtl: 900 },
    };
    // One after the other, as a rolling deploy would (the first creates the schema and the key).
    a = await RemoteInstance.start(config);
    b = await RemoteInstance.start(config);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), ...late.map((i) => i.stop())]);
    await dropSchema(schema);
  });

  it("setClaimValue for all of a user's sessions on A: B makes each of them refresh at its next request, within a second", async () => {
    const sessions = [await a.createSession('u_admin'), await b.createSession('u_admin')];
    const bystander = await a.createSession('u_bystander');
    // B has verified every token already (as it would while serving their requests).
    for (const s of [...sessions, bystander]) expect(await b.verify(s.accessToken)).toEqual({ ok: true, value: s.sessionId });

    const changedAt = Date.now();
    expect(await a.call('setRoles', { userId: 'u_admin', roles: ['viewer'] })).toBe(2);
    for (const s of sessions) expect(await b.waitRefused(s.accessToken, changedAt + FAN_OUT_MS)).toBe('TRY_REFRESH_TOKEN');
    // Another user's session is untouched.
    expect(await b.verify(bystander.accessToken)).toEqual({ ok: true, value: bystander.sessionId });

    // The refresh mints from the store, which holds the new value; B accepts the new token.
    const refreshed = await b.call<{ accessToken: string }>('refresh', { refreshToken: sessions[0]!.refreshToken });
    const claims = await b.call<Record<string, unknown>>('claims', { accessToken: refreshed.accessToken });
    expect(claims['lk-roles']).toMatchObject({ v: ['viewer'] });
    expect(await a.verify(refreshed.accessToken)).toEqual({ ok: true, value: sessions[0]!.sessionId });
  });

  it('the epoch is per user: a later session of the user, minted after the change, is accepted on both', async () => {
    const before = await b.createSession('u_later');
    const changedAt = Date.now();
    expect(await b.call('setRoles', { userId: 'u_later', roles: ['admin'] })).toBe(1);
    expect(await a.waitRefused(before.accessToken, changedAt + FAN_OUT_MS)).toBe('TRY_REFRESH_TOKEN');
    const after = await a.createSession('u_later');
    expect(await a.call<Record<string, unknown>>('claims', { accessToken: after.accessToken })).not.toHaveProperty('lk-roles');
    expect(await b.verify(after.accessToken)).toEqual({ ok: true, value: after.sessionId });
  });

  it('an instance started after the change, which never saw it on the bus, refuses the older tokens from its first request', async () => {
    const before = await a.createSession('u_restart');
    expect(await a.call('setRoles', { userId: 'u_restart', roles: ['viewer'] })).toBe(1);
    // As after a restart or a deploy: the epoch was published before this process subscribed. It
    // reads the epochs the store keeps at its start-up catch-up.
    const c = await RemoteInstance.start(config);
    late.push(c);
    expect(await c.waitRefused(before.accessToken, Date.now())).toBe('TRY_REFRESH_TOKEN');
    const bystander = await a.createSession('u_restart_bystander');
    expect(await c.verify(bystander.accessToken)).toEqual({ ok: true, value: bystander.sessionId });
  });
});
