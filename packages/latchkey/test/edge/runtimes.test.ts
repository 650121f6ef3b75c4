/**
 * latchkey/edge in the real runtimes, each installed from the npm registry (which ships their
 * binaries; the `runtimes` workspace): Bun, Deno and Cloudflare's workerd. The same bundled app
 * (runtimes/worker.ts) runs in each against a real latchkey service on 127.0.0.1 (JWKS and
 * revocation feed over HTTP). Each verifies a genuine token and refuses a forged, an expired and a
 * revoked one, the last within the poll interval.
 *
 * A runtime whose binary is missing is skipped loudly, and fails the suite under
 * LATCHKEY_REQUIRE_SERVICES=1 (CI).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceAvailable } from '../helpers/services.js';
import { API_KEY, startTestService, testClock, type TestService } from '../service/helpers.js';
import { bundleEdgeApp } from './runtimes/bundle.js';
import { hasRuntime, runtimeBinary, startApp, type RunningApp, type RuntimeName } from './runtimes/runners.js';

const WORKER = new URL('./runtimes/worker.ts', import.meta.url).pathname;
const POLL_INTERVAL_S = 1;

interface Verdict {
  status: number;
  ok: boolean;
  code?: string;
  reason?: string | null;
  userId?: string;
  runtime?: string;
}

const USER_AGENT: Record<RuntimeName, RegExp> = { bun: /^Bun\//, deno: /^Deno\//, workerd: /^Cloudflare-Workers/ };

async function ask(app: RunningApp, token: string): Promise<Verdict> {
  const res = await fetch(app.url, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, ...((await res.json()) as Omit<Verdict, 'status'>) };
}

describe('latchkey/edge bundle', () => {
  it('builds for the neutral platform: no node: import, no Buffer, no process', async () => {
    const text = await bundleEdgeApp(WORKER, undefined);
    expect(text).toContain('createEdgeVerifier');
    expect(text).not.toMatch(/from\s*["']node:|require\(["']node:/);
    expect(text).not.toMatch(/\bBuffer\./);
    expect(text).not.toMatch(/\bprocess\.(env|versions|nextTick)/);
  });
});

for (const runtime of ['bun', 'deno', 'workerd'] as RuntimeName[]) {
  const available = await serviceAvailable(`${runtime} (npm package, runtimes workspace)`, async () => {
    if (!hasRuntime(runtime)) throw new Error(`${runtimeBinary(runtime)} is missing: run npm install`);
  });

  describe.skipIf(!available)(`latchkey/edge in ${runtime}`, () => {
    let svc: TestService;
    let app: RunningApp;
    const clock = testClock();

    beforeAll(async () => {
      svc = await startTestService({ clock });
      const issuer = (await svc.call('GET', '/.well-known/openid-configuration')).json.issuer as string;
      const bundle = await bundleEdgeApp(WORKER, {
        jwksUrl: `${svc.url}/.well-known/jwks.json`,
        issuer,
        revocations: { url: `${svc.url}/v1/revocations`, credential: API_KEY, pollInterval: POLL_INTERVAL_S },
      });
      app = await startApp(runtime, bundle);
    }, 90_000);

    afterAll(async () => {
      await app?.stop();
      await svc?.close();
    });

    const session = async (userId: string) => {
      const created = await svc.call('POST', '/v1/sessions', { body: { userId } });
      expect(created.status).toBe(201);
      return { token: created.json.accessToken as string, sid: created.json.session.id as string };
    };

    it('verifies a genuine token', async () => {
      const { token, sid } = await session('alice');
      const verdict = await ask(app, token);
      expect(verdict).toMatchObject({ status: 200, ok: true, userId: 'alice' });
      expect(verdict.runtime).toMatch(USER_AGENT[runtime]);
      expect(await ask(app, token)).toMatchObject({ ok: true, sessionId: sid }); // and again, from its cache
    });

    it('refuses a forged token (altered claims; a signature of another key)', async () => {
      const { token } = await session('alice');
      const [h, p, s] = token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      const altered = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'mallory' })).toString('base64url')}.${s}`;
      expect(await ask(app, altered)).toMatchObject({ status: 401, ok: false, code: 'UNAUTHORISED', reason: 'bad_signature' });
      const other = await startTestService();
      try {
        const foreign = (await other.call('POST', '/v1/sessions', { body: { userId: 'alice' } })).json.accessToken as string;
        expect(await ask(app, foreign)).toMatchObject({ status: 401, ok: false, code: 'UNAUTHORISED' });
      } finally {
        await other.close();
      }
    });

    it('refuses an expired token with TRY_REFRESH_TOKEN', async () => {
      // A genuine token minted two hours ago (the issuer's clock moved back, then forward again).
      clock.advance(-2 * 3600_000);
      const { token } = await session('alice');
      clock.advance(2 * 3600_000);
      expect(await ask(app, token)).toMatchObject({ status: 401, ok: false, code: 'TRY_REFRESH_TOKEN' });
    });

    it(`refuses a revoked session within the poll interval (${POLL_INTERVAL_S} s)`, async () => {
      const { token, sid } = await session('bob');
      expect((await ask(app, token)).ok).toBe(true);
      expect((await svc.call('DELETE', `/v1/sessions/${sid}`)).status).toBe(204);
      // The bound is one interval plus the feed's response time; asked until then (with slack for a
      // loaded machine), never assumed.
      const deadline = Date.now() + POLL_INTERVAL_S * 1000 + 5000;
      let verdict = await ask(app, token);
      while (verdict.ok && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        verdict = await ask(app, token);
      }
      expect(verdict).toMatchObject({ status: 401, ok: false, code: 'UNAUTHORISED', reason: 'revoked' });
    });
  });
}
