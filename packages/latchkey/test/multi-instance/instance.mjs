// One latchkey instance in its own process, driven by the test over IPC: the way a fleet runs, with
// nothing shared but PostgreSQL and Redis. It imports the BUILT package (dist/), as an app would;
// run `npx tsc -b packages/latchkey` first (CI's `npm test` builds before testing).
//
// Config arrives as JSON in LATCHKEY_TEST_INSTANCE: { store: PostgresStoreOptions, redisUrl?, pgNotify?, channel?,
// engine: LatchkeyOptions (JSON part) }. Requests are { id, op, args }; replies { id, ok, value | error }.
import { decodeProtectedHeader } from 'jose';
import { createLatchkey, RolesClaim } from '../../dist/index.js';
import { postgresStore } from '../../dist/stores/postgres.js';
import { redisBus } from '../../dist/revocation/redis.js';
import { pgNotifyBus } from '../../dist/revocation/pg-notify.js';

const config = JSON.parse(process.env.LATCHKEY_TEST_INSTANCE ?? '{}');
let clockOffset = 0;
const clock = { now: () => Date.now() + clockOffset };
const counts = { keysRotated: 0, theft: 0, errors: 0, busErrors: 0 };

const store = postgresStore(config.store);
const onError = () => counts.busErrors++;
const bus = config.redisUrl
  ? redisBus({ url: config.redisUrl, channel: config.channel, onError })
  : config.pgNotify
    ? pgNotifyBus({ connectionString: config.store.connectionString, channel: config.channel, onError })
    : undefined;
const engine = await createLatchkey({ ...config.engine, store, bus, clock });
engine.on('keys.rotated', () => counts.keysRotated++);
engine.on('session.theft_detected', () => counts.theft++);
engine.on('error', () => counts.errors++);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const kid = (jwt) => decodeProtectedHeader(jwt).kid;
const tokens = (issued) => ({
  sessionId: issued.session.id,
  accessToken: issued.accessToken,
  refreshToken: issued.refreshToken,
  kid: kid(issued.accessToken),
});

const ops = {
  createSession: async ({ userId }) => tokens(await engine.createSession({ userId })),
  refresh: async ({ refreshToken }) => tokens(await engine.refresh(refreshToken)),
  verify: async ({ accessToken }) => (await engine.verifyAccessToken(accessToken)).sessionId,
  /** The verified token's claims (claims tests: what a refreshed token carries). */
  claims: async ({ accessToken }) => (await engine.verifyAccessToken(accessToken)).claims,
  /** setClaimValue of the built-in RolesClaim for every session of a user (claims.test.ts). */
  setRoles: ({ userId, roles }) => engine.setClaimValue({ userId }, RolesClaim, roles),
  revokeSession: ({ sessionId }) => engine.revokeSession(sessionId),
  revokeUserSessions: ({ userId }) => engine.revokeUserSessions(userId),
  maintainKeys: () => engine.maintainKeys(),
  rotateKeys: () => engine.rotateKeys(),
  jwks: () => engine.jwks(),
  signingKid: async () => kid((await engine.reissueTokens((await engine.createSession({ userId: 'probe' })).session.id)).accessToken),
  advanceClock: ({ ms }) => void (clockOffset += ms),
  counts: () => ({ ...counts }),
  /** Polls verification of a token here until it is refused; returns the error code, or 'still-accepted' at the deadline (epoch ms). */
  waitRefused: async ({ accessToken, deadline }) => {
    for (;;) {
      try {
        await engine.verifyAccessToken(accessToken);
      } catch (error) {
        return error.code;
      }
      if (Date.now() >= deadline) return 'still-accepted';
      await sleep(10);
    }
  },
  /** Polls until this instance signs with `kid`; returns true, or false at the deadline. */
  waitSigningKid: async ({ kid: wanted, deadline }) => {
    for (;;) {
      if ((await ops.signingKid()) === wanted) return true;
      if (Date.now() >= deadline) return false;
      await sleep(20);
    }
  },
};

process.on('message', async ({ id, op, args }) => {
  try {
    const value = await ops[op](args ?? {});
    process.send({ id, ok: true, value });
  } catch (error) {
    process.send({ id, ok: false, error: { name: error?.name, code: error?.code, reason: error?.reason, message: String(error?.message ?? error) } });
  }
});

// The test process went away (or closed us): shut down cleanly.
process.on('disconnect', async () => {
  await engine.close();
  await store.close();
  process.exit(0);
});

process.send({ ready: true });
