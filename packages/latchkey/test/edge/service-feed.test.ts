/**
 * The service's revocation feed (`GET /v1/revocations`, ../shared/service-api.md's API key), and an
 * edge verifier fed by a real service over real HTTP on 127.0.0.1: JWKS and feed fetched with the
 * runtime's own fetch.
 */
import { createEdgeVerifier } from 'latchkey/edge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, startTestService, type TestService } from '../service/helpers.js';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc?.close();
});

describe('GET /v1/revocations', () => {
  it('needs the API key, lists revocations with an ETag, answers 304 when unchanged and 400 to a bad since', async () => {
    expect((await svc.call('GET', '/v1/revocations', { auth: null })).status).toBe(401);
    const created = await svc.call('POST', '/v1/sessions', { body: { userId: 'alice' } });
    expect(created.status).toBe(201);
    const sid = created.json.session.id as string;
    expect((await svc.call('DELETE', `/v1/sessions/${sid}`)).status).toBe(204);
    const feed = await svc.call('GET', '/v1/revocations');
    expect(feed.status).toBe(200);
    expect(feed.json.revocations.map((r: { sid: string }) => r.sid)).toContain(sid);
    const etag = feed.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    expect((await svc.call('GET', '/v1/revocations', { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await svc.call('GET', `/v1/revocations?since=${feed.json.cursor}`)).status).toBe(200);
    const bad = await svc.call('GET', '/v1/revocations?since=-1');
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('INVALID_REQUEST');
  });

  it('feeds an edge verifier over real HTTP: genuine accepted, revoked refused on the next poll', async () => {
    const issuer = (await svc.call('GET', '/.well-known/openid-configuration')).json.issuer as string;
    const verifier = createEdgeVerifier({
      jwksUrl: `${svc.url}/.well-known/jwks.json`,
      issuer,
      revocations: { url: `${svc.url}/v1/revocations`, credential: API_KEY, pollInterval: 1 },
    });
    const created = await svc.call('POST', '/v1/sessions', { body: { userId: 'bob' } });
    const token = created.json.accessToken as string;
    await expect(verifier.verify(token)).resolves.toMatchObject({ userId: 'bob', sessionId: created.json.session.id });
    await svc.call('DELETE', `/v1/sessions/${created.json.session.id}`);
    // The bound: refused within one poll interval (1 s here); polled until then, never longer.
    const deadline = Date.now() + 1000 + 2000;
    let verdict = 'ok';
    while (Date.now() < deadline) {
      verdict = await verifier.verify(token).then(
        () => 'ok',
        (e: { code: string }) => e.code,
      );
      if (verdict !== 'ok') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(verdict).toBe('UNAUTHORISED');
  });
});
