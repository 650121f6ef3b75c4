#!/usr/bin/env node
// `npm start`: the demo on http://localhost:3000, on the embedded SQLite store under ./.latchkey.
// DEMO_ACCESS_TTL (seconds, default 30; 300 with HTTPS) picks the access-token lifetime; PORT the port.
// DEMO_TLS_CERT and DEMO_TLS_KEY (PEM files) serve it over HTTPS with DBSC on: Chromium then binds the
// cookie session to a key of its own (with DBSC enabled: docs/security.md, "Device binding").
import { readFileSync } from 'node:fs';
import { startDemo } from './app.mjs';
import { listenFailure } from './listen-failure.mjs';

const certFile = process.env.DEMO_TLS_CERT;
const keyFile = process.env.DEMO_TLS_KEY;
if (!certFile !== !keyFile) {
  console.error('DEMO_TLS_CERT and DEMO_TLS_KEY go together (PEM files): both for HTTPS with DBSC, neither for plain HTTP');
  process.exit(2);
}
const tls = certFile && keyFile ? { cert: readFileSync(certFile), key: readFileSync(keyFile) } : undefined;
// With DBSC the access cookie is the bound cookie. Chromium renews a bound cookie ahead of its expiry
// and caps how often it signs: with Chromium 156 a 6 s cookie was renewed on nearly every request until
// the cap ended the renewals; with 300 s none came early in the demo's test. Where the window ends between
// the two was not measured, so the demo does not run DBSC on its 30 s default.
const ttl = Number(process.env.DEMO_ACCESS_TTL ?? (tls ? 300 : 30));
if (!Number.isInteger(ttl) || ttl < 2 || ttl > 3600) {
  console.error('DEMO_ACCESS_TTL must be a whole number of seconds from 2 to 3600');
  process.exit(2);
}
const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('PORT must be a whole number from 0 to 65535 (0 picks a free port)');
  process.exit(2);
}
// The security lab's development-only routes hand out a refresh token on purpose: on for this local
// demo (it listens on 127.0.0.1 only), never with NODE_ENV=production.
const devRoutes = process.env.NODE_ENV !== 'production';
let demo;
try {
  demo = await startDemo({ port, accessTokenTtl: ttl, devRoutes, tls, dbsc: tls !== undefined });
} catch (err) {
  const failure = listenFailure(err, port);
  if (!failure) throw err;
  console.error(failure);
  process.exit(1);
}
console.log(`\n  latchkey demo: ${demo.url}\n`);
console.log(
  `  device binding: DPoP in the lab's header-mode app; DBSC for this page's cookies ${tls ? 'ON (HTTPS)' : 'off (needs HTTPS: DEMO_TLS_CERT, DEMO_TLS_KEY)'}`,
);
console.log(`  security lab: ${devRoutes ? 'ON (development-only routes; NODE_ENV=production turns them off)' : 'off'}`);
console.log(`  access tokens live ${ttl} s (DEMO_ACCESS_TTL=${ttl}); open the page in several tabs and watch one refresh serve them all.`);
// A one-time sign-in link for the admin console (docs/admin.md), as `latchkey admin login` prints it:
// it is a credential, so it goes to this terminal only. A new start prints a new one.
const adminLink = await demo.adminLoginLink('demo');
console.log(`  admin console: ${adminLink.url}`);
console.log(
  `    one-time sign-in for operator "demo", valid until ${adminLink.expiresAt.toISOString()}; it is a credential, keep it to yourself`,
);
console.log('  Data: ./examples/demo/.latchkey (delete it to start over). Ctrl-C to stop.\n');
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await demo.close();
    process.exit(0);
  });
}
