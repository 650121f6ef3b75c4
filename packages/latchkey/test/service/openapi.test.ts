/**
 * The OpenAPI document: the committed copy equals what the server serves, it is a well-formed
 * OpenAPI 3.1 document whose every $ref resolves, and it covers every route of the contract.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import { buildOpenApiDocument, openApiText, schemas } from 'latchkey/service';

const addFormats = ((addFormatsPlugin as unknown as { default?: typeof addFormatsPlugin }).default ?? addFormatsPlugin) as unknown as (ajv: Ajv2020) => void;

const committed = readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8');

/** Every route of shared/service-api.md, as OpenAPI path + method. */
const CONTRACT_ROUTES: Array<[string, string]> = [
  ['/v1/sessions', 'post'],
  ['/v1/sessions/verify', 'post'],
  ['/v1/sessions/refresh', 'post'],
  ['/v1/sessions/{id}', 'get'],
  ['/v1/sessions/{id}', 'patch'],
  ['/v1/sessions/{id}', 'delete'],
  ['/v1/users/{userId}/sessions', 'get'],
  ['/v1/users/{userId}/sessions', 'delete'],
  ['/v1/keys/rotate', 'post'],
  ['/v1/revocations', 'get'],
  // v1.1: API keys for users and machine clients.
  ['/v1/api-keys', 'post'],
  ['/v1/api-keys/verify', 'post'],
  ['/v1/users/{ownerId}/api-keys', 'get'],
  ['/v1/api-keys/{id}', 'delete'],
  ['/v1/api-keys/{id}/rotate', 'post'],
  // v1.1: claims by key (issue 16).
  ['/v1/sessions/{id}/claims', 'patch'],
  ['/v1/users/{userId}/sessions/claims', 'patch'],
  ['/.well-known/jwks.json', 'get'],
  ['/.well-known/openid-configuration', 'get'],
  ['/healthz', 'get'],
  ['/readyz', 'get'],
  ['/metrics', 'get'],
  ['/openapi.json', 'get'],
];

function collectRefs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => collectRefs(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else collectRefs(v, out);
    }
  }
  return out;
}

describe('OpenAPI document', () => {
  it('the committed packages/latchkey/openapi.json is what the server serves (regenerate with scripts/generate-openapi.mjs)', () => {
    expect(committed).toBe(openApiText());
  });

  it('is OpenAPI 3.1 and covers every contract route, /v1/ ones behind the API key', () => {
    const doc = buildOpenApiDocument() as { openapi: string; paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>> };
    expect(doc.openapi).toBe('3.1.0');
    for (const [path, method] of CONTRACT_ROUTES) {
      const operation = doc.paths[path]?.[method];
      expect(operation, `${method.toUpperCase()} ${path}`).toBeDefined();
      if (path.startsWith('/v1/')) {
        expect(operation!.security).toEqual([{ apiKey: [] }]);
        expect(operation!.responses['401']).toBeDefined();
        expect(operation!.responses['503']).toBeDefined();
      }
    }
  });

  it('every $ref resolves inside the document', () => {
    const doc = buildOpenApiDocument() as { components: Record<string, Record<string, unknown>> };
    const refs = collectRefs(doc);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) {
      const match = /^#\/components\/(schemas|headers)\/([A-Za-z]+)$/.exec(ref);
      expect(match, ref).not.toBeNull();
      expect(doc.components[match![1]!]![match![2]!], ref).toBeDefined();
    }
  });

  it('declares the headers the service sets', () => {
    const doc = buildOpenApiDocument() as { paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, unknown> }> }>> };
    const create = doc.paths['/v1/sessions']!.post!.responses;
    expect(Object.keys(create['201']!.headers!)).toEqual(['X-Request-Id']);
    expect(Object.keys(create['503']!.headers!)).toContain('Retry-After');
    expect(Object.keys(create['401']!.headers!)).toContain('WWW-Authenticate');
    expect(Object.keys(create['405']!.headers!)).toContain('Allow');
  });

  it('request schemas refuse unknown fields; the error schema lists every code the service sends', () => {
    const doc = buildOpenApiDocument() as { components: { schemas: Record<string, { additionalProperties?: unknown; properties?: Record<string, { properties?: { code?: { enum?: string[] } } }> }> } };
    for (const name of ['CreateSessionRequest', 'VerifyRequest', 'RefreshRequest', 'UpdateSessionRequest', 'Device']) {
      expect(doc.components.schemas[name]?.additionalProperties, name).toBe(false);
    }
    expect(doc.components.schemas.Error?.properties?.error?.properties?.code?.enum).toEqual([...schemas.ERROR_CODES]);
  });

  it('compiles under a JSON Schema 2020-12 validator that accepts what zod accepts and refuses what zod refuses', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: 'urn:latchkey:test', components: (buildOpenApiDocument() as { components: unknown }).components });
    const check = (name: string, value: unknown) => ajv.getSchema(`urn:latchkey:test#/components/schemas/${name}`)!(value) as boolean;
    const at = '2026-12-01T11:00:00.000Z';
    const session = { id: 's', userId: 'u', createdAt: at, lastActiveAt: at, expiresAt: at, authTime: at, device: {}, data: { a: [1, { b: null }] }, accessClaims: {}, idClaims: {}, revokedAt: null };
    const cases: Array<[string, unknown]> = [
      ['Session', session],
      ['Session', { ...session, extra: 1 }],
      ['Session', { ...session, createdAt: 'yesterday' }],
      ['Session', { ...session, device: { mac: 'x' } }],
      ['CreateSessionRequest', { userId: 'u', accessClaims: { role: 'x' } }],
      ['CreateSessionRequest', { userId: '' }],
      ['CreateSessionRequest', { userId: 'u', unknown: true }],
      ['Error', { error: { code: 'TOKEN_THEFT_DETECTED', message: 'm', sessionId: 's', userId: 'u' } }],
      ['Error', { error: { code: 'SOMETHING_ELSE', message: 'm' } }],
      ['IssuedTokens', { session, accessToken: 'a', refreshToken: 'r', idToken: 'i', accessTokenExpiresAt: at, tokenType: 'Bearer' }],
      // v1.1: tokenType is always sent, and only Bearer or DPoP.
      ['IssuedTokens', { session, accessToken: 'a', refreshToken: 'r', idToken: 'i', accessTokenExpiresAt: at, tokenType: 'MAC' }],
      ['IssuedTokens', { session, accessToken: 'a', refreshToken: 'r', accessTokenExpiresAt: at }],
    ];
    for (const [name, value] of cases) {
      const zod = (schemas.NAMED_SCHEMAS as Record<string, { safeParse(v: unknown): { success: boolean } }>)[name]!.safeParse(value).success;
      expect(check(name, value), `${name} ${JSON.stringify(value)}`).toBe(zod);
    }
    expect(cases.filter(([name, value]) => check(name, value)).length).toBe(4);
  });
});
