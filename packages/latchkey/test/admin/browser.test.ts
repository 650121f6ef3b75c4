/**
 * The admin console in real Chromium (/usr/bin/chromium via playwright-core), over two service
 * instances sharing one SQLite file and a Redis bus: an operator signs in with the link the real
 * `latchkey admin login` prints, looks a user up, revokes a session (the user's next request fails on
 * the other instance within 1 s), finds a theft in the timeline with both sides, rotates the signing
 * key and drops leaked keys. Every page is screenshotted to test-artifacts/admin/ and checked with
 * axe-core (no serious or critical violation); attacker-controlled values never run as script.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { RunningService } from 'latchkey/service';
import { cli } from '../cli/helpers.js';
import { REDIS_URL, redisAvailable, uniqueName } from '../helpers/postgres.js';
import { serviceAvailable } from '../helpers/services.js';
import { API_KEY } from '../service/helpers.js';
import { startAdminService, startSecondInstance, type AdminService } from './helpers.js';

const EXECUTABLE = '/usr/bin/chromium';
const launch = () =>
  chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
const available =
  (await serviceAvailable('Chromium', async () => {
    if (!existsSync(EXECUTABLE)) throw new Error(`${EXECUTABLE} not found`);
    await (await launch()).close();
  })) && (await redisAvailable());

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/admin/', import.meta.url));
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core run inside the page. Evaluated through the DevTools protocol, which the page's CSP does not govern. */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run()).violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

describe.skipIf(!available)('the admin console in Chromium', () => {
  let a: AdminService;
  let b: RunningService;
  let browser: Browser;
  let page: Page;
  let origin: string;
  let env: Record<string, string>;
  const dialogs: string[] = [];
  const shots: string[] = [];

  const shoot = async (name: string) => {
    const path = join(ARTIFACTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    shots.push(path);
    expect(await seriousViolations(page), `axe on ${name}`).toEqual([]);
  };
  const onB = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(b.url + path, {
      method,
      headers: { authorization: `Bearer ${API_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json().catch(() => undefined)) as any };
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // One deployment: one SQLite file, one key file, one issuer, one Redis channel of its own. No store
    // poll: a revocation reaches the other instance through the bus, as in production.
    const shared = {
      LATCHKEY_REDIS_URL: REDIS_URL,
      LATCHKEY_REDIS_CHANNEL: uniqueName('lk:admin'),
      LATCHKEY_ISSUER: 'http://latchkey-admin.test',
    };
    a = await startAdminService({ env: shared });
    b = await startSecondInstance(a, shared);
    origin = `http://localhost:${a.service.port}`;
    env = { LATCHKEY_STORE: `sqlite:${join(a.dir, 'latchkey.db')}`, LATCHKEY_SECRET_FILE: join(a.dir, 'secret.key'), ...shared };
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.setDefaultTimeout(10_000);
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
  });
  afterAll(async () => {
    await browser?.close();
    await b?.close();
    await a?.close();
  });

  test('sign-in with the link `latchkey admin login` prints, then the Overview', async () => {
    const printed = await cli(['admin', 'login', '--operator', 'alice', '--url', `${origin}/admin`], env);
    expect(printed.code).toBe(0);
    expect(printed.stderr).toContain('it is a credential');
    const link = printed.stdout.trim();
    expect(link.startsWith(`${origin}/admin/login#id=`)).toBe(true);

    await page.goto(link);
    // The script moved the ticket into the form and out of the address bar.
    expect(page.url()).toBe(`${origin}/admin/login`);
    await shoot('login');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${origin}/admin`);
    await expect.poll(() => page.getByText('Signed in as alice').count()).toBe(1);
    expect(await page.locator('#active-sessions').textContent()).toBe('1'); // the console's own session
    const health = await page.locator('table tbody tr').allTextContents();
    expect(health.join(' ')).toMatch(/store\s*healthy/);
    expect(health.join(' ')).toMatch(/redis\s*healthy/);
    await expect.poll(() => page.locator('svg#chart-refreshes').count()).toBe(1);
    await shoot('overview-at-sign-in');

    // The same link a second time: refused.
    const reuse = await browser.newPage();
    await reuse.goto(link);
    await reuse.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => reuse.getByText('invalid, expired or already used').count()).toBe(1);
    await reuse.close();
  });

  test("look up a user, revoke one session: the user's next request fails on the other instance within 1 s", async () => {
    const one = await onB('POST', '/v1/sessions', { userId: 'bob', device: { userAgent: 'Bob phone (Android 15)', ip: '203.0.113.10' } });
    const two = await onB('POST', '/v1/sessions', { userId: 'bob', device: { userAgent: 'Bob laptop (Firefox)', ip: '203.0.113.11' } });
    expect(one.status).toBe(201);
    await onB('POST', '/v1/api-keys', { ownerId: 'bob', name: 'bob deploy script' });
    expect((await onB('POST', '/v1/sessions/verify', { accessToken: one.json.accessToken })).status).toBe(200);

    // Keyboard only: the nav link, the lookup field, Enter.
    await page.getByRole('link', { name: 'Users' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(`${origin}/admin/users`);
    await page.getByLabel('User id').fill('bob');
    await page.keyboard.press('Enter');
    await page.waitForURL(/users\?user=bob/);
    const rows = page.locator('#sessions tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await page.locator('#sessions').textContent()).toContain('Bob phone (Android 15)');
    expect(await page.locator('#sessions').textContent()).toContain('203.0.113.10');
    expect(await page.locator('#api-keys').textContent()).toContain('bob deploy script');
    await shoot('users');

    await page.getByRole('button', { name: `Revoke session ${one.json.session.id}` }).click();
    await page.waitForURL(/done=session-revoked/);
    const revokedAt = Date.now();
    // The user's next request on instance B, which learns of it through the bus: polled for at most 1 s.
    await expect
      .poll(async () => (await onB('POST', '/v1/sessions/verify', { accessToken: one.json.accessToken })).status, {
        timeout: 1_000,
        interval: 25,
      })
      .toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
    expect((await onB('POST', '/v1/sessions/verify', { accessToken: two.json.accessToken })).status).toBe(200);
    expect(await page.getByRole('status').textContent()).toContain('revoked on every instance');
    expect(await rows.count()).toBe(1);
  });

  test('a theft in the audit timeline shows both sides', async () => {
    const engine = a.service.engine;
    const first = await engine.createSession({ userId: 'carol', device: { userAgent: 'Carol desktop (Chrome 131)', ip: '198.51.100.20' } });
    const second = await engine.refresh(first.refreshToken, { device: { userAgent: 'Carol desktop (Chrome 131)', ip: '198.51.100.20' } });
    await engine.refresh(second.refreshToken, { device: { userAgent: 'Carol desktop (Chrome 131)', ip: '198.51.100.20' } });
    await engine.refresh(first.refreshToken, { device: { userAgent: 'curl/8.5 (attacker)', ip: '192.0.2.99' } }).catch(() => {});
    await a.service.audit.flush();

    await page.goto(`${origin}/admin/audit`);
    await page.getByLabel('User id').fill('carol');
    await page.getByLabel('Type').selectOption('session.theft_detected');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/type=session.theft_detected/);
    const theft = page.locator('li.event.theft');
    expect(await theft.count()).toBe(1);
    const replayed = page.getByRole('region', { name: 'The request that replayed the old token' });
    const holder = page.getByRole('region', { name: "The session's last known holder" });
    expect(await replayed.textContent()).toContain('curl/8.5 (attacker)');
    expect(await replayed.textContent()).toContain('192.0.2.99');
    expect(await holder.textContent()).toContain('Carol desktop (Chrome 131)');
    expect(await holder.textContent()).toContain('198.51.100.20');
    await shoot('audit');

    // The Overview counts it and draws it: one theft in the last hour's bar.
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.waitForURL(`${origin}/admin`);
    expect(await page.locator('#thefts-24h').textContent()).toBe('1');
    expect(await page.locator('#chart-thefts-desc').textContent()).toContain('1 in the last 24 hours');
    expect(await page.locator('#chart-refreshes-desc').textContent()).toContain('2 in the last 24 hours');
    await shoot('overview');
  });

  test('rotate the signing key now, then drop leaked keys after the confirmation', async () => {
    await page.goto(`${origin}/admin/keys`);
    const signingKid = async () => (await page.locator('table.keys tr', { hasText: 'signing' }).first().getAttribute('data-kid')) ?? '';
    const before = await signingKid();
    expect(before).not.toBe('');
    await shoot('keys');
    await page.getByRole('button', { name: 'Rotate now' }).click();
    await page.waitForURL(/done=rotated/);
    const after = await signingKid();
    expect(after).not.toBe(before);
    // Instance B publishes the new key too (keys-changed on the bus).
    await expect
      .poll(async () =>
        ((await (await fetch(`${b.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid),
      )
      .toContain(after);

    await page.getByRole('link', { name: 'Drop every earlier key…' }).click();
    await page.waitForURL(`${origin}/admin/keys/drop`);
    expect(await page.getByRole('alert').textContent()).toContain('Sessions are not revoked');
    await shoot('keys-drop');
    // Without the confirmation the browser will not submit; with it, every earlier key goes.
    await page.getByLabel('I understand: every current access token stops working').check();
    await page.getByRole('button', { name: /Drop all/ }).click();
    await page.waitForURL(/done=dropped/);
    expect(await page.locator('table.keys tbody tr').count()).toBe(1);
    expect(await signingKid()).not.toBe(after);
  });

  test('attacker-controlled values are shown as text and never run', async () => {
    const payload = '<script>alert("ua")</script>"><img src=x onerror=alert("img")>';
    const created = await onB('POST', '/v1/sessions', {
      userId: 'mallory',
      device: { userAgent: payload },
      accessClaims: { nick: payload },
    });
    expect(created.status).toBe(201);
    await onB('POST', '/v1/api-keys', { ownerId: 'mallory', name: payload.slice(0, 64) });
    // The sign-in happened on B: its recorder writes the row (it would within a second anyway).
    await b.audit.flush();
    await page.goto(`${origin}/admin/users?user=mallory`);
    expect(await page.locator('#sessions td.device').textContent()).toBe(payload);
    expect(await page.locator('#api-keys td.key-name').textContent()).toBe(payload.slice(0, 64));
    await page.goto(`${origin}/admin/audit?user=mallory`);
    expect(await page.locator('li.event .device').first().textContent()).toBe(payload);
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(dialogs).toEqual([]);
    expect(shots.length).toBe(7);
  });
});
