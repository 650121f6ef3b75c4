/**
 * Section "http": an authenticated `GET /me` through latchkey on node:http, Express, Fastify and Hono
 * (with a session's access-token cookie, and with a user API key behind `requireApiKey`) against the
 * same framework answering the same route with no authentication, and against the usual
 * alternatives on Express (express-session with connect-redis: a Redis lookup per request; iron-session:
 * a sealed cookie decrypted per request). Each server runs in its own process; autocannon runs in
 * another (lib/load.mjs); loopback only. Every response must be a 2xx, or the case is an error.
 */
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { autocannon, medianLoadRows } from '../lib/load.mjs';
import { compare, runSection } from '../lib/section.mjs';
import { optionalImport, redisAvailable } from '../lib/services.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CONNECTIONS = 16;
/** Issue 18: latchkey's extra server CPU per authenticated request (6–12 µs before it). */
const MAX_EXTRA_CPU_MICROS = 3;

function startServer(framework, auth) {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, '..', 'servers', 'server.mjs'), [JSON.stringify({ framework, auth })], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`server ${framework}/${auth} did not start`)); }, 20_000);
    child.once('message', (m) => {
      clearTimeout(timer);
      if (m.ready) {
        const ask = (message) => new Promise((answer) => { child.once('message', answer); child.send(message); });
        resolve({ ...m, ask, stop: () => stopServer(child) });
      }
      else { child.kill('SIGKILL'); reject(new Error(m.error)); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`server ${framework}/${auth} exited (${code}) ${stderr}`)); });
  });
}

function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.disconnect();
  });
}

await runSection('http', async (ctx) => {
  const seconds = Math.max(1, Math.round(ctx.ms(6000, 2000) / 1000));
  const warmSeconds = 1;
  const rounds = ctx.quick ? 1 : 3;
  ctx.note(`autocannon, ${CONNECTIONS} connections, ${seconds} s per case after a ${warmSeconds} s warm-up, ${rounds} interleaved round(s), median kept; server and load generator in separate processes on 127.0.0.1.`);

  const adapters = {};
  for (const fw of ['node', 'express', 'fastify', 'hono']) adapters[fw] = await optionalImport(`latchkey/adapters/${fw}`);
  const redis = await redisAvailable();

  const cases = [];
  for (const fw of ['node', 'express', 'fastify', 'hono']) {
    cases.push({ name: `${fw} unauthenticated`, framework: fw, auth: 'none' });
    if (adapters[fw]) {
      cases.push({ name: `${fw} + latchkey`, framework: fw, auth: 'latchkey' });
      cases.push({ name: `${fw} + latchkey API key`, framework: fw, auth: 'apikey' });
    } else {
      for (const what of ['latchkey', 'latchkey API key']) ctx.row({ case: `${fw} + ${what}`, status: 'skipped', reason: `not available (latchkey/adapters/${fw} is not built)` });
    }
  }
  if (redis) cases.push({ name: 'express + express-session + connect-redis', framework: 'express', auth: 'express-session' });
  else ctx.row({ case: 'express + express-session + connect-redis', status: 'skipped', reason: 'Redis not reachable on 127.0.0.1:6379' });
  cases.push({ name: 'express + iron-session', framework: 'express', auth: 'iron-session' });

  const samples = new Map(cases.map((c) => [c.name, []]));
  const failed = new Map();
  for (let round = 0; round < rounds; round++) {
    for (const c of cases) {
      if (failed.has(c.name)) continue;
      ctx.progress(`round ${round + 1}/${rounds}: ${c.name}`);
      let server;
      try {
        server = await startServer(c.framework, c.auth);
        const url = `http://127.0.0.1:${server.port}/me`;
        // A case only counts if its authenticated request really succeeds.
        const probe = await fetch(url, { headers: server.headers });
        if (probe.status !== 200) throw new Error(`GET /me answered ${probe.status}: ${(await probe.text()).slice(0, 200)}`);
        await autocannon({ url, headers: server.headers, connections: CONNECTIONS, seconds: warmSeconds });
        await server.ask('cpu-start');
        const r = await autocannon({ url, headers: server.headers, connections: CONNECTIONS, seconds });
        const cpu = await server.ask('cpu-stop');
        if (r.non2xx > 0 || r.errors > 0) throw new Error(`${r.non2xx} non-2xx responses and ${r.errors} errors under load`);
        samples.get(c.name).push({ ...r, cpuMicrosPerRequest: cpu.cpuMicros / Math.max(1, cpu.requests) });
      } catch (err) {
        failed.set(c.name, err instanceof Error ? err.message : String(err));
      } finally {
        await server?.stop();
      }
    }
  }

  const rows = medianLoadRows(ctx, cases, samples, failed);
  for (const fw of ['node', 'express', 'fastify', 'hono']) {
    if (rows[`${fw} + latchkey`]) compare(rows[`${fw} + latchkey`], rows[`${fw} unauthenticated`], 0.9, `${fw} unauthenticated`);
    // A script's request: requireApiKey with a scope, the key verified from the engine's cache.
    if (rows[`${fw} + latchkey API key`]) compare(rows[`${fw} + latchkey API key`], rows[`${fw} unauthenticated`], 0.9, `${fw} unauthenticated`);
  }
  // The same comparisons in server CPU time per request (lower is better), which load elsewhere on
  // the machine disturbs far less than throughput: informational, beside the targets above.
  for (const [name, row] of Object.entries(rows)) {
    if (!(row.cpuMicrosPerRequest > 0)) continue;
    const baseName = / \+ latchkey( API key)?$/.test(name) ? name.replace(/ \+ latchkey( API key)?$/, ' unauthenticated') : undefined;
    const base = baseName ? rows[baseName] : undefined;
    const cpuRow = ctx.row({ case: `${name}: server CPU per request`, metric: 'µs', value: row.cpuMicrosPerRequest });
    if (base?.cpuMicrosPerRequest > 0) {
      compare(cpuRow, { value: base.cpuMicrosPerRequest }, undefined, `${baseName} (CPU/request)`);
      // Issue 18: what latchkey's session authentication adds to the framework's own CPU per
      // request, at most 3 µs (the API-key rows are informational here).
      if (name.endsWith(' + latchkey')) {
        const extra = row.cpuMicrosPerRequest - base.cpuMicrosPerRequest;
        ctx.row({ case: `${name}: extra server CPU per request`, metric: 'µs', value: extra, target: `≤ ${MAX_EXTRA_CPU_MICROS} µs`, met: extra <= MAX_EXTRA_CPU_MICROS });
      }
    }
  }
  const lkExpress = rows['express + latchkey'];
  if (lkExpress) {
    const vsSession = rows['express + express-session + connect-redis'];
    if (vsSession) ctx.row(compare({ case: 'express + latchkey vs express-session + Redis', metric: 'req/s', value: lkExpress.value }, vsSession, 2, 'express-session + Redis'));
    const vsIron = rows['express + iron-session'];
    if (vsIron) ctx.row(compare({ case: 'express + latchkey vs iron-session', metric: 'req/s', value: lkExpress.value }, vsIron, undefined, 'iron-session'));
  }
  ctx.row({ case: 'better-auth', status: 'skipped', reason: 'better-auth is not installed in this workspace (not a dependency; installing it is outside this benchmark)' });
});
