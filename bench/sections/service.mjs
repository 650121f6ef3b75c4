/**
 * Section "service": the standalone service's two hot routes, `POST /v1/sessions/verify` and
 * `POST /v1/sessions/refresh`, against a bare Hono route that reads the same JSON body and answers
 * JSON (issue 18). In process, through the Hono app's `fetch` (no sockets): what is measured is the
 * service's own per-request work (service-key check, body limit and schema, logging, metrics, the
 * engine), not the network stack, which both sides would share. The store is the in-memory one, so a
 * refresh's figure is the service's CPU, not a database's.
 */
import { randomBytes } from 'node:crypto';
import { compareCases } from '../lib/measure.mjs';
import { compare, runSection } from '../lib/section.mjs';
import { memoryStore } from 'latchkey/stores/memory';
import { benchEngine, issueTokens } from '../lib/engine.mjs';
import { optionalImport } from '../lib/services.mjs';

await runSection('service', async (ctx) => {
  const service = await optionalImport('latchkey/service');
  const hono = await optionalImport('hono');
  if (!service?.createServiceApp || !hono?.Hono)
    ctx.skip('latchkey/service or hono is not available (build the package; hono is an optional peer)');
  const timing = { rounds: ctx.quick ? 3 : 7, roundMs: ctx.ms(700, 250), latencyMs: ctx.ms(500, 150) };

  const store = memoryStore();
  const engine = await benchEngine({ signingAlgorithm: 'EdDSA', store });
  const serviceKey = `bench-service-key-${randomBytes(16).toString('hex')}`;
  const app = service.createServiceApp({
    engine,
    apiKeys: new service.ServiceKeyChecker(store, [serviceKey]),
    metrics: new service.ServiceMetrics({ defaultMetrics: false }),
    logger: service.silentLogger,
  });
  const bare = new hono.Hono();
  bare.post('/v1/sessions/verify', async (c) => c.json({ received: Object.keys(await c.req.json()).length }));

  const tokenCount = ctx.count(2000, 500);
  const accessTokens = await issueTokens(engine, tokenCount);
  const chains = [];
  for (let i = 0; i < 64; i++) chains.push((await engine.createSession({ userId: `chain-${i}` })).refreshToken);
  const headers = { authorization: `Bearer ${serviceKey}`, 'content-type': 'application/json' };
  const post = (target, path, body) =>
    target.fetch(new Request(`http://service.test${path}`, { method: 'POST', headers, body: JSON.stringify(body) }));
  const expectOk = async (response) => {
    if (response.status !== 200) throw new Error(`answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
    return response.json();
  };

  let a = 0;
  let r = 0;
  const cases = [
    {
      name: 'bare Hono route (JSON body in, JSON out)',
      async: true,
      fn: async () => expectOk(await post(bare, '/v1/sessions/verify', { accessToken: accessTokens[a++ % tokenCount] })),
    },
    {
      name: 'service POST /v1/sessions/verify',
      async: true,
      fn: async () => expectOk(await post(app, '/v1/sessions/verify', { accessToken: accessTokens[a++ % tokenCount] })),
    },
    {
      name: 'service POST /v1/sessions/refresh',
      async: true,
      fn: async () => {
        const k = r++ % chains.length;
        chains[k] = (await expectOk(await post(app, '/v1/sessions/refresh', { refreshToken: chains[k] }))).refreshToken;
      },
    },
  ];
  // Every case must succeed before it is timed: a fast failure is not a result.
  for (const c of cases) for (let k = 0; k < 20; k++) await c.fn();
  const results = await compareCases(cases, timing, (text) => ctx.progress(text));
  const rows = {};
  for (const c of cases) {
    const m = results[c.name];
    rows[c.name] = ctx.row({
      case: c.name,
      metric: 'req/s',
      value: m.opsPerSec,
      p50Ms: m.p50Ms,
      p99Ms: m.p99Ms,
      cpuMicrosPerOp: m.cpuMicrosPerOp,
    });
  }
  const baseline = rows['bare Hono route (JSON body in, JSON out)'];
  compare(rows['service POST /v1/sessions/verify'], baseline, undefined, 'bare Hono route');
  compare(rows['service POST /v1/sessions/refresh'], baseline, undefined, 'bare Hono route');
  ctx.note(
    `In process through app.fetch, one request at a time; ${tokenCount} distinct access tokens cycled (the verified-token cache on, as the service runs), 64 refresh chains on the in-memory store; the service key from the environment list. Informational ratios: the issue sets no target for these routes.`,
  );
  await engine.close();
});
