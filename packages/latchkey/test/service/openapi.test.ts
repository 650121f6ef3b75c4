/**
 * The OpenAPI document: the committed copy equals what the server serves, it is a well-formed
 * OpenAPI 3.1 document whose every $ref resolves, and it covers every route of the contract.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument, openApiText, schemas } from 'latchkey/service';

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
    const doc = buildOpenApiDocument() as { components: { schemas: Record<string, unknown> } };
    const refs = collectRefs(doc);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.slice('#/components/schemas/'.length)], ref).toBeDefined();
    }
  });

  it('request schemas refuse unknown fields; the error schema lists every code the service sends', () => {
    const doc = buildOpenApiDocument() as { components: { schemas: Record<string, { additionalProperties?: unknown; properties?: Record<string, { properties?: { code?: { enum?: string[] } } }> }> } };
    for (const name of ['CreateSessionRequest', 'VerifyRequest', 'RefreshRequest', 'UpdateSessionRequest', 'Device']) {
      expect(doc.components.schemas[name]?.additionalProperties, name).toBe(false);
    }
    expect(doc.components.schemas.Error?.properties?.error?.properties?.code?.enum).toEqual([...schemas.ERROR_CODES]);
  });
});
