// Runs inside a scratch app that installed the packed `latchkey` and `express` only: the engine on
// the SQLite store, behind the Express adapter, over real HTTP. Prints one JSON line of what it saw.
import express from 'express';
import { createLatchkey, isLatchkeyError } from 'latchkey';
import { latchkeyExpress } from 'latchkey/adapters/express';
import { sqliteStore } from 'latchkey/stores/sqlite';

const latchkey = await createLatchkey({
  issuer: 'https://smoke.example',
  store: sqliteStore({ path: 'smoke.db' }),
  secret: 'a smoke-test secret that is at least 32 bytes long',
  refreshGrace: 0, // so that the replay below is theft, not a benign race
});
const auth = latchkeyExpress(latchkey);
const app = express();
app.use(auth.router);
app.get('/api/me', auth.requireSession(), (req, res) => res.json({ userId: req.latchkey.userId }));
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

const first = await latchkey.createSession({ userId: 'u_smoke' });
const verified = await latchkey.verifyAccessToken(first.accessToken);
const rotated = await latchkey.refresh(first.refreshToken);
const me = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${rotated.accessToken}`, 'x-latchkey-mode': 'header' } });
const anonymous = await fetch(`${base}/api/me`, { headers: { 'x-latchkey-mode': 'header' } });
const jwks = await fetch(`${base}/.well-known/jwks.json`);
// Last: replaying a rotated-out refresh token revokes the session.
const replay = await latchkey.refresh(first.refreshToken).then(() => 'accepted', (err) => (isLatchkeyError(err) ? err.code : String(err)));

console.log(JSON.stringify({
  verifiedUser: verified.userId,
  rotated: rotated.refreshToken !== first.refreshToken,
  replay,
  me: { status: me.status, body: await me.json() },
  anonymous: { status: anonymous.status, body: await anonymous.json() },
  jwksKeys: (await jwks.json()).keys.length,
}));
server.close();
await latchkey.close();
