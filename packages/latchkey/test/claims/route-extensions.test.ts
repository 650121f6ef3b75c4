/**
 * Extension points of the HTTP core: auth routes turned off one by one, wrapped (before/after) or
 * replaced, and error rendering per app (another JSON shape, HTML for a browser navigation). The
 * default (none of this) is what every other HTTP test runs.
 */
import { describe, expect, it } from 'vitest';
import {
  createLatchkeyHttp,
  jsonResponse,
  normaliseRequest,
  resolveHttpSettings,
  type HttpRequest,
  type LatchkeyHttpOptions,
} from 'latchkey/http';
import { testEngine } from '../helpers/engine.js';

function request(method: string, path: string, headers: Record<string, string> = {}): HttpRequest {
  return normaliseRequest({
    method,
    target: path,
    protocol: 'https',
    host: 'app.example.com',
    headers: new Headers({ 'x-latchkey-mode': 'header', ...headers }),
    body: async () => JSON.stringify({ refreshToken: 'nope' }),
  });
}

async function http(options: LatchkeyHttpOptions) {
  const { lk } = await testEngine();
  return { lk, http: createLatchkeyHttp(lk, options) };
}

describe('routes option', () => {
  it('a route turned off falls through to the app (null), and is not registered; the others still answer', async () => {
    const { http: h } = await http({ routes: { sessions: false, jwks: false } });
    expect(await h.handle(request('GET', '/auth/sessions'))).toBeNull();
    expect(await h.handle(request('GET', '/.well-known/jwks.json'))).toBeNull();
    expect((await h.handle(request('POST', '/auth/signout')))?.status).toBe(401);
    const { routePatterns } = await import('../../src/http/routes.js');
    expect(routePatterns(h.settings)).not.toContain('/auth/sessions');
    expect(routePatterns(h.settings)).not.toContain('/.well-known/jwks.json');
    expect(routePatterns(h.settings)).toContain('/auth/refresh');
  });

  it('before can answer instead of the route; after sees and may change every answer; CORS and no-store still apply', async () => {
    const seen: number[] = [];
    const { http: h } = await http({
      routes: {
        refresh: {
          before: (req) => (req.headers.get('x-maintenance') === '1' ? jsonResponse(503, { down: true }) : undefined),
          after: (_req, res) => {
            seen.push(res.status);
            return { ...res, headers: [...res.headers, ['x-wrapped', 'yes']] };
          },
        },
      },
    });
    const down = await h.handle(request('POST', '/auth/refresh', { 'x-maintenance': '1' }));
    expect(down?.status).toBe(503);
    expect(down?.headers).toContainEqual(['cache-control', 'no-store']);
    const refused = await h.handle(request('POST', '/auth/refresh', { 'content-type': 'application/json' }));
    expect(refused?.status).toBe(401);
    expect(refused?.headers).toContainEqual(['x-wrapped', 'yes']);
    expect(seen).toEqual([503, 401]);
  });

  it('replace answers instead of the route, and may call the built-in; a throw is answered as an error', async () => {
    const { lk, http: h } = await http({
      routes: {
        sessions: { replace: async (_req, builtIn) => ({ ...(await builtIn()), status: 299 }) },
      },
    });
    const s = await lk.createSession({ userId: 'u1' });
    const listed = await h.handle(request('GET', '/auth/sessions', { authorization: `Bearer ${s.accessToken}` }));
    expect(listed?.status).toBe(299);
    expect(JSON.parse(listed!.body!)).toMatchObject({ sessions: [{ id: s.session.id }] });
    const errors: unknown[] = [];
    const { http: failing } = await http({
      onError: (e) => errors.push(e),
      routes: { signout: { replace: () => Promise.reject(new Error('boom')) } },
    });
    expect((await failing.handle(request('POST', '/auth/signout')))?.status).toBe(500);
    expect(errors).toHaveLength(1);
  });

  it('refuses unknown route names and keys (a typo must not leave a route on)', () => {
    expect(() => resolveHttpSettings({ routes: { refrsh: false } as LatchkeyHttpOptions['routes'] })).toThrow(/unknown route refrsh/);
    expect(() => resolveHttpSettings({ routes: { refresh: { befor: () => undefined } } as LatchkeyHttpOptions['routes'] })).toThrow(
      TypeError,
    );
  });
});

describe('renderError option', () => {
  it('renders HTML for a browser navigation and JSON of the app’s shape otherwise, keeping status, challenge and no-store', async () => {
    const { http: h } = await http({
      renderError: ({ body, status, request: req }) => {
        if (req?.headers.get('accept')?.includes('text/html'))
          return { contentType: 'text/html; charset=utf-8', body: `<h1>${status}</h1><p>${body.error.code}</p>` };
        return { contentType: 'application/json', body: JSON.stringify({ ok: false, code: body.error.code }) };
      },
    });
    const html = await h.authenticate(request('GET', '/billing', { accept: 'text/html' }));
    expect(html.ok).toBe(false);
    if (html.ok) return;
    expect(html.response.status).toBe(401);
    expect(html.response.body).toBe('<h1>401</h1><p>UNAUTHORISED</p>');
    expect(html.response.headers).toContainEqual(['content-type', 'text/html; charset=utf-8']);
    expect(html.response.headers).toContainEqual(['cache-control', 'no-store']);
    expect(html.response.headers.some(([name]) => name === 'www-authenticate')).toBe(true);
    const json = await h.handle(request('POST', '/auth/refresh', { 'content-type': 'application/json' }));
    expect(JSON.parse(json!.body!)).toEqual({ ok: false, code: 'UNAUTHORISED' });
  });

  it('a renderer that throws is reported and the default JSON is sent', async () => {
    const errors: unknown[] = [];
    const { http: h } = await http({
      onError: (e) => errors.push(e),
      renderError: () => {
        throw new Error('template missing');
      },
    });
    const result = await h.authenticate(request('GET', '/billing'));
    if (result.ok) throw new Error('expected a refusal');
    expect(JSON.parse(result.response.body!)).toMatchObject({ error: { code: 'UNAUTHORISED' } });
    expect(errors).toHaveLength(1);
  });
});
