/**
 * The console outside `latchkey serve`: mounted under a path of its own in an app's own Hono server
 * over a real socket (as docs/admin.md shows), and the Overview's figures, charts and health rows
 * computed from real engine activity (sessions, refreshes, a theft) and a failing health check.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLatchkey, type Latchkey } from 'latchkey';
import { AuditRecorder, MemoryAuditStore } from 'latchkey/audit';
import { createAdminConsole, createLoginLink } from 'latchkey/service';
import { memoryStore } from 'latchkey/stores/memory';
import { ConsoleClient } from './helpers.js';

const SECRET = 'mount-test-secret-0123456789abcdefghij';
const PREFIX = '/ops/console';

describe('mounted in an app of its own', () => {
  let engine: Latchkey;
  let recorder: AuditRecorder;
  let server: Server;
  let origin: string;
  const store = memoryStore();
  const audit = new MemoryAuditStore();

  beforeAll(async () => {
    engine = await createLatchkey({ issuer: 'https://app.example.test', secret: SECRET, store, timers: false });
    recorder = new AuditRecorder({ store: audit, source: engine, flushIntervalMs: 3_600_000 });
    const adminConsole = createAdminConsole({
      engine,
      secret: SECRET,
      store,
      audit: { store: audit, recorder },
      basePath: PREFIX,
      health: { redis: () => Promise.reject(new Error('connect ECONNREFUSED 10.0.0.9:6379 password=hunter2')) },
    });
    const app = new Hono();
    app.get('/', (c) => c.text('the app'));
    app.all(PREFIX, (c) => adminConsole.fetch(c.req.raw, c.env));
    app.all(`${PREFIX}/*`, (c) => adminConsole.fetch(c.req.raw, c.env));
    server = createAdaptorServer({ fetch: app.fetch }) as Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await recorder.close();
    await engine.close();
  });

  const link = async (operator = 'olga') =>
    (await createLoginLink({ engine, secret: SECRET, operator, consoleUrl: `${origin}${PREFIX}` })).url;

  test('signs in under its base path, with cookies scoped to it; the app around it is untouched', async () => {
    const url = await link();
    expect(new URL(url).pathname).toBe(`${PREFIX}/login`);
    const client = new ConsoleClient(origin, PREFIX);
    const signedIn = await client.signIn(url);
    expect(signedIn.status).toBe(303);
    expect(signedIn.location).toBe(PREFIX);
    for (const cookie of signedIn.headers.getSetCookie()) expect(cookie).toContain(`Path=${PREFIX}`);
    const overview = await client.get(PREFIX);
    expect(overview.status).toBe(200);
    expect(overview.text).toContain(`href="${PREFIX}/users"`);
    expect(overview.text).toContain(`action="${PREFIX}/logout"`);
    expect((await new ConsoleClient(origin, PREFIX).get(`${PREFIX}/users`)).location).toBe(`${PREFIX}/login`);
    expect(await (await fetch(`${origin}/`)).text()).toBe('the app');
  });

  test("the Overview's figures and charts come from the engine and the audit log; a failing check says so without its error", async () => {
    const client = new ConsoleClient(origin, PREFIX);
    await client.signIn(await link('pia'));
    // Three users; two refreshes; one theft (a rotated-out replay).
    const a = await engine.createSession({ userId: 'u1' });
    await engine.createSession({ userId: 'u2' });
    const b = await engine.createSession({ userId: 'u3' });
    const b1 = await engine.refresh(b.refreshToken);
    await engine.refresh(b1.refreshToken);
    await expect(engine.refresh(b.refreshToken)).rejects.toMatchObject({ code: 'TOKEN_THEFT_DETECTED' });
    await engine.refresh(a.refreshToken);
    await recorder.flush();

    const reply = await client.get(`${PREFIX}/api/overview`);
    expect(reply.status).toBe(200);
    const figures = JSON.parse(reply.text) as {
      activeSessions: number;
      refreshesPerMinute: number;
      theftsLast24h: number;
      keys: { state: string }[];
      health: { name: string; ok: boolean; detail: string }[];
    };
    expect(figures.activeSessions).toBe(await engine.countActiveSessions());
    expect(figures.refreshesPerMinute).toBe(3 / 5); // three refreshes in the last five minutes
    expect(figures.theftsLast24h).toBe(1);
    expect(figures.keys.filter((k) => k.state === 'signing')).toHaveLength(1);
    expect(figures.health.map((h) => [h.name, h.ok])).toEqual([
      ['store', true],
      ['redis', false],
    ]);
    expect(JSON.stringify(figures.health)).not.toContain('hunter2');

    const page = await client.get(PREFIX);
    expect(page.text).toContain('Thefts detected per hour: 1 in the last 24 hours');
    expect(page.text).toContain('Refreshes per hour: 3 in the last 24 hours');
    expect(page.text).toMatch(/<td>redis<\/td>\s*<td class="bad">failing<\/td>\s*<td>did not answer<\/td>/);
    expect(page.text).not.toContain('hunter2');
  });

  test('a failure behind a page is a plain 500 page without the error text, and is handed to onError', async () => {
    const errors: unknown[] = [];
    const failing = createAdminConsole({
      engine,
      secret: SECRET,
      store: { listSigningKeys: () => Promise.reject(new Error('read failed: password=hunter2')) },
      audit: { store: audit, recorder },
      basePath: PREFIX,
      onError: (err) => errors.push(err),
    });
    const client = new ConsoleClient(origin, PREFIX);
    await client.signIn(await link('rita'));
    const reply = await failing.request(`${PREFIX}/keys`, { headers: { cookie: client.cookieHeader } });
    expect(reply.status).toBe(500);
    const text = await reply.text();
    expect(text).toContain('Something went wrong');
    expect(text).not.toContain('hunter2');
    expect(reply.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(errors.map((e) => (e as Error).message)).toEqual(['read failed: password=hunter2']);
  });

  test('unused expired links and idle console sessions of an operator are ended when they next sign in', async () => {
    const stale = await createLoginLink({ engine, secret: SECRET, operator: 'quinn', consoleUrl: `${origin}${PREFIX}`, ttlMs: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await engine.listSessions('admin-login:quinn')).toHaveLength(1);
    const fresh = await link('quinn');
    // Only the new ticket is left; the expired one was ended when the new link was made.
    expect(await engine.listSessions('admin-login:quinn')).toHaveLength(1);
    expect((await new ConsoleClient(origin, PREFIX).signIn(stale.url)).status).toBe(401);
    expect((await new ConsoleClient(origin, PREFIX).signIn(fresh)).status).toBe(303);
    expect(await engine.listSessions('admin:quinn')).toHaveLength(1);
  });
});
