#!/usr/bin/env node
// A walk through latchkey's engine on the embedded SQLite store: create a session, verify its access
// token, refresh it, replay the old refresh token, and watch the theft being caught.
import { createLatchkey, isLatchkeyError } from 'latchkey';
import { sqliteStore } from 'latchkey/stores/sqlite';

const short = (token) => `${token.slice(0, 18)}…(${token.length} chars)`;
const step = (n, text) => console.log(`\n\x1b[1m${n}. ${text}\x1b[0m`);

const store = sqliteStore({ path: '.latchkey/walkthrough.db' });
const latchkey = await createLatchkey({
  issuer: 'http://localhost:3000',
  store,
  secretFile: '.latchkey/secret.key',
});
latchkey.on('session.theft_detected', (e) => console.log(`   event: session.theft_detected  session=${e.sessionId} user=${e.userId}`));
latchkey.on('session.revoked', (e) => console.log(`   event: session.revoked  reason=${e.reason}`));

step(1, 'Sign-in: create a session for user "ada"');
const first = await latchkey.createSession({
  userId: 'ada',
  accessClaims: { role: 'admin' },
  idClaims: { name: 'Ada Lovelace' },
  device: { userAgent: 'walkthrough', ip: '127.0.0.1' },
});
console.log(`   session      ${first.session.id}`);
console.log(`   access token ${short(first.accessToken)}  (JWT, typ at+jwt, expires ${first.accessTokenExpiresAt.toISOString()})`);
console.log(`   refresh      ${short(first.refreshToken)}  (opaque; only its SHA-256 hash is stored)`);
console.log(`   ID token     ${short(first.idToken)}  (readable claims for the UI; never accepted as an access token)`);

step(2, 'Every API verifies the access token locally: no database lookup');
const verified = await latchkey.verifyAccessToken(first.accessToken);
console.log(`   ok: user=${verified.userId} session=${verified.sessionId} role=${verified.claims.role}`);
try {
  await latchkey.verifyAccessToken(first.idToken);
} catch (err) {
  console.log(`   the ID token presented as an access token: ${err.code} (${err.reason})`);
}

step(3, 'The access token expires; the client refreshes: the refresh token rotates');
const second = await latchkey.refresh(first.refreshToken);
console.log(`   new refresh  ${short(second.refreshToken)}`);
const again = await latchkey.refresh(first.refreshToken);
console.log(`   a second tab refreshing with the same old token inside the grace window gets the same pair: ${again.refreshToken === second.refreshToken}`);
const third = await latchkey.refresh(second.refreshToken);
console.log(`   the client refreshes again: ${short(third.refreshToken)}`);

step(4, 'An attacker replays the first refresh token, copied earlier');
try {
  await latchkey.refresh(first.refreshToken);
  console.log('   !! accepted (this must never happen)');
  process.exitCode = 1;
} catch (err) {
  if (!isLatchkeyError(err, 'TOKEN_THEFT_DETECTED')) throw err;
  console.log(`   refused: ${err.code}  session=${err.sessionId} user=${err.userId}`);
}

step(5, 'The whole session is dead at once: the user\'s current tokens too');
for (const [what, attempt] of [
  ['access token', () => latchkey.verifyAccessToken(third.accessToken)],
  ['refresh token', () => latchkey.refresh(third.refreshToken)],
]) {
  try {
    await attempt();
    console.log(`   !! ${what} still works (this must never happen)`);
    process.exitCode = 1;
  } catch (err) {
    console.log(`   ${what}: ${err.code} (${err.reason})`);
  }
}

step(6, 'Public keys for any JOSE library, in other languages too');
console.log(`   JWKS: ${latchkey.jwks().keys.map((k) => `${k.kid.slice(0, 10)}… ${k.alg}`).join(', ')}`);

await latchkey.close();
await store.close();
console.log('\nDone. The store is .latchkey/walkthrough.db.');
