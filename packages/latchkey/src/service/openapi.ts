/**
 * The OpenAPI 3.1 document of the service, generated from the zod schemas in schemas.ts (OpenAPI
 * 3.1 schema objects are JSON Schema 2020-12, which `z.toJSONSchema` emits). The server serves it at
 * `/openapi.json`; `scripts/generate-openapi.mjs` writes the committed copy, and a test checks the
 * two are identical, so the document cannot drift from what the code validates.
 */
import { z } from 'zod';
import { ERROR_CODES, NAMED_SCHEMAS } from './schemas.js';

type JsonSchema = Record<string, unknown>;

export const SERVICE_API_VERSION = '1.0.0';

function componentSchemas(): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(NAMED_SCHEMAS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    uri: (id) => `#/components/schemas/${id}`,
    unrepresentable: 'throw',
  });
  const out: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    // `$id` would change the base URI of the refs inside; `$schema` is implied by OpenAPI 3.1.
    const { $schema: _schema, $id: _id, ...rest } = schema as JsonSchema;
    out[id] = rest;
  }
  return out;
}

const ref = (name: keyof typeof NAMED_SCHEMAS) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: keyof typeof NAMED_SCHEMAS) => ({ 'application/json': { schema: ref(name) } });

function error(description: string, codes: readonly string[]) {
  return { description: `${description} Codes: ${codes.join(', ')}.`, content: json('Error') };
}

/** Errors any authenticated `/v1/` route can answer with. */
const COMMON_V1 = {
  '401': error('Missing or invalid API key.', ['INVALID_API_KEY']),
  '503': error('The store did not answer within 2 s, or the service is shutting down.', ['STORE_UNAVAILABLE', 'SHUTTING_DOWN']),
};
const BODY_ERRORS = {
  '400': error('The body is not valid JSON or does not match the schema; `field` names the offending field.', ['INVALID_REQUEST']),
  '413': error('The body is larger than the limit (default 64 KiB).', ['PAYLOAD_TOO_LARGE']),
};

function body(name: keyof typeof NAMED_SCHEMAS, required = true) {
  return { required, content: json(name) };
}

const sessionId = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const userId = { name: 'userId', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 255 } };
const ownerId = { name: 'ownerId', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 255 } };
const apiKeyId = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

/** Headers the service sets, declared once and referenced from each response. */
const HEADERS = {
  XRequestId: {
    description: "The caller's X-Request-Id when short and plain, else a new UUID; also in the request's log line.",
    schema: { type: 'string' },
  },
  RetryAfter: { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } },
  Allow: { description: 'The methods the route takes.', schema: { type: 'string' } },
  WWWAuthenticate: { description: 'RFC 6750 challenge for the API key.', schema: { type: 'string' } },
  XLatchkeyRefreshGrace: {
    description:
      'The refresh grace window, whole seconds (LATCHKEY_REFRESH_GRACE, default 30): how long after a rotation the previous refresh token may be presented again, e.g. to retry a lost answer. Clients fit their refresh deadline and retry inside it.',
    schema: { type: 'integer', minimum: 0 },
  },
};

/** Adds the headers each response carries (every one: X-Request-Id; by status: the rest). */
function withHeaders(paths: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  const header = (name: keyof typeof HEADERS) => ({ $ref: `#/components/headers/${name}` });
  for (const [path, item] of Object.entries(paths)) {
    for (const operation of Object.values(item)) {
      const responses = (operation as { responses?: Record<string, Record<string, unknown>> }).responses;
      if (!responses) continue;
      for (const [status, response] of Object.entries(responses)) {
        const headers: Record<string, unknown> = { 'X-Request-Id': header('XRequestId') };
        if (status === '503') headers['Retry-After'] = header('RetryAfter');
        if (status === '401' && (operation as { security?: unknown }).security) headers['WWW-Authenticate'] = header('WWWAuthenticate');
        if (path === '/v1/sessions/refresh') headers['X-Latchkey-Refresh-Grace'] = header('XLatchkeyRefreshGrace');
        responses[status] = { ...response, headers };
      }
      const allow = { 'X-Request-Id': header('XRequestId'), Allow: header('Allow'), ...(path === '/v1/sessions/refresh' ? { 'X-Latchkey-Refresh-Grace': header('XLatchkeyRefreshGrace') } : {}) };
      responses['405'] = { ...error('The route does not take this method.', ['METHOD_NOT_ALLOWED']), headers: allow };
    }
  }
  return paths;
}

/** Builds the document. Deterministic: same code, same bytes. */
export function buildOpenApiDocument(): JsonSchema {
  const v1 = (operation: JsonSchema) => ({ security: [{ apiKey: [] }], ...operation });
  return {
    openapi: '3.1.0',
    info: {
      title: 'latchkey session service',
      version: SERVICE_API_VERSION,
      description:
        'Create, refresh and revoke sessions from a backend in any language. Access tokens are verified ' +
        'locally by each backend through /.well-known/jwks.json (check iss, aud and typ "at+jwt").',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: 'http://127.0.0.1:4100' }],
    paths: withHeaders({
      '/v1/sessions': {
        post: v1({
          operationId: 'createSession',
          summary: 'Start a session (on sign-in)',
          requestBody: body('CreateSessionRequest'),
          responses: {
            '201': { description: 'Created.', content: json('IssuedTokens') },
            ...BODY_ERRORS,
            ...COMMON_V1,
            '401': error('Bad API key; or (v1.1) the DPoP proof was refused, or the server requires its nonce (`nonce` is set).', [
              'INVALID_API_KEY',
              'INVALID_DPOP_PROOF',
              'USE_DPOP_NONCE',
            ]),
            '403': error('A `beforeCreate` hook of the engine the service embeds refused the session (issue 16; never from `latchkey serve`, which has no hooks).', ['SESSION_REFUSED']),
          },
        }),
      },
      '/v1/sessions/verify': {
        post: v1({
          operationId: 'verifyAccessToken',
          summary: 'Verify an access token (backends may instead verify locally through JWKS)',
          requestBody: body('VerifyRequest'),
          responses: {
            '200': { description: 'Valid.', content: json('VerifyResponse') },
            ...BODY_ERRORS,
            '401': error('Expired (refresh and retry), or not acceptable, or bad API key; or (v1.1) a DPoP-bound token without a valid proof of its key.', [
              'TRY_REFRESH_TOKEN',
              'UNAUTHORISED',
              'INVALID_API_KEY',
              'INVALID_DPOP_PROOF',
              'USE_DPOP_NONCE',
            ]),
            '403': error('Valid but authenticated too long ago for maxAuthAge.', ['INSUFFICIENT_FRESHNESS']),
            '503': COMMON_V1['503'],
          },
        }),
      },
      '/v1/sessions/refresh': {
        post: v1({
          operationId: 'refreshSession',
          summary: 'Exchange a refresh token for a new token set (rotates it)',
          requestBody: body('RefreshRequest'),
          responses: {
            '200': { description: 'Rotated.', content: json('IssuedTokens') },
            ...BODY_ERRORS,
            '401': error(
              'Unknown, expired or revoked; or a rotated-out token was replayed (the session is revoked; `sessionId` and `userId` are set); or (v1.1) a DPoP-bound session without a valid proof of its key (not rotated, not revoked).',
              ['UNAUTHORISED', 'TOKEN_THEFT_DETECTED', 'INVALID_API_KEY', 'INVALID_DPOP_PROOF', 'USE_DPOP_NONCE'],
            ),
            '503': COMMON_V1['503'],
          },
        }),
      },
      '/v1/sessions/{id}': {
        parameters: [sessionId],
        get: v1({
          operationId: 'getSession',
          summary: 'Read a session (revoked ones too; see revokedAt)',
          responses: { '200': { description: 'The session.', content: json('Session') }, '404': error('No such session.', ['NOT_FOUND']), ...COMMON_V1 },
        }),
        patch: v1({
          operationId: 'updateSession',
          summary: 'Replace access claims, ID claims and/or data; tokens minted from then on carry them (POST /v1/sessions/{id}/tokens mints them at once)',
          requestBody: body('UpdateSessionRequest'),
          responses: {
            '200': { description: 'Updated.', content: json('Session') },
            '404': error('No such active session.', ['NOT_FOUND']),
            ...BODY_ERRORS,
            ...COMMON_V1,
          },
        }),
        delete: v1({
          operationId: 'revokeSession',
          summary: 'Revoke a session at once (idempotent)',
          responses: { '204': { description: 'Revoked, or already revoked, or unknown.' }, ...COMMON_V1 },
        }),
      },
      '/v1/sessions/{id}/tokens': {
        parameters: [sessionId],
        post: v1({
          operationId: 'reissueTokens',
          summary: 'Mint a fresh access and ID token for an active session, e.g. right after a PATCH changed its claims (the refresh token is not rotated; no body)',
          responses: {
            '200': { description: 'Fresh tokens carrying the current claims.', content: json('ReissuedTokens') },
            '404': error('No such active session (unknown, revoked or expired).', ['NOT_FOUND']),
            ...BODY_ERRORS,
            ...COMMON_V1,
          },
        }),
      },
      '/v1/sessions/{id}/claims': {
        parameters: [sessionId],
        patch: v1({
          operationId: 'updateSessionClaims',
          summary:
            "v1.1: set (or, with null, remove) claims by key for one session, in the { v, t } form the claim validators read; the session's tokens minted before the change answer TRY_REFRESH_TOKEN on every instance",
          requestBody: body('UpdateClaimsRequest'),
          responses: {
            '200': { description: 'Updated.', content: json('Session') },
            '404': error('No such active session.', ['NOT_FOUND']),
            ...BODY_ERRORS,
            ...COMMON_V1,
          },
        }),
      },
      '/v1/users/{userId}/sessions/claims': {
        parameters: [userId],
        patch: v1({
          operationId: 'updateUserSessionClaims',
          summary:
            "v1.1: set (or, with null, remove) claims by key for every active session of a user at once; their tokens minted before the change answer TRY_REFRESH_TOKEN on every instance",
          requestBody: body('UpdateClaimsRequest'),
          responses: { '200': { description: 'How many sessions were updated (0 when the user has none).', content: json('UpdatedCount') }, ...BODY_ERRORS, ...COMMON_V1 },
        }),
      },
      '/v1/users/{userId}/sessions': {
        parameters: [userId],
        get: v1({
          operationId: 'listUserSessions',
          summary: "A user's active sessions, newest first",
          responses: { '200': { description: 'Active sessions.', content: json('SessionList') }, '400': BODY_ERRORS['400'], ...COMMON_V1 },
        }),
        delete: v1({
          operationId: 'revokeUserSessions',
          summary: 'Revoke every session of a user',
          responses: { '200': { description: 'How many were revoked.', content: json('RevokedCount') }, '400': BODY_ERRORS['400'], ...COMMON_V1 },
        }),
      },
      '/v1/api-keys': {
        post: v1({
          operationId: 'createApiKey',
          summary: 'Issue an API key to a user or machine client (the plaintext key is returned here only)',
          requestBody: body('CreateApiKeyRequest'),
          responses: { '201': { description: 'Created.', content: json('CreatedApiKey') }, ...BODY_ERRORS, ...COMMON_V1 },
        }),
      },
      '/v1/api-keys/verify': {
        post: v1({
          operationId: 'verifyApiKey',
          summary: 'Verify an API key, optionally requiring scopes',
          requestBody: body('VerifyApiKeyRequest'),
          responses: {
            '200': { description: 'Valid, with every requested scope.', content: json('VerifiedApiKey') },
            ...BODY_ERRORS,
            '401': error('Unknown, malformed, revoked or expired key; or bad service key.', ['UNAUTHORISED', 'INVALID_API_KEY']),
            '403': error('Valid, but without every requested scope; `missingScopes` names them.', ['INSUFFICIENT_SCOPE']),
            '503': COMMON_V1['503'],
          },
        }),
      },
      '/v1/api-keys/{id}': {
        parameters: [apiKeyId],
        delete: v1({
          operationId: 'revokeApiKey',
          summary: 'Revoke an API key at once, on every instance (idempotent)',
          responses: { '204': { description: 'Revoked, or already revoked, or unknown.' }, ...COMMON_V1 },
        }),
      },
      '/v1/api-keys/{id}/rotate': {
        parameters: [apiKeyId],
        post: v1({
          operationId: 'rotateApiKey',
          summary: 'A new key with the same owner, name, scopes and metadata; the old one stops at once or after expiresPreviousIn',
          requestBody: body('RotateApiKeyRequest', false),
          responses: {
            '201': { description: 'The new key.', content: json('CreatedApiKey') },
            '404': error('No such active key.', ['NOT_FOUND']),
            ...BODY_ERRORS,
            ...COMMON_V1,
          },
        }),
      },
      '/v1/users/{ownerId}/api-keys': {
        parameters: [ownerId],
        get: v1({
          operationId: 'listApiKeys',
          summary: "An owner's usable API keys (revoked and expired ones excluded), newest first",
          responses: { '200': { description: 'Keys, never the keys themselves.', content: json('ApiKeyList') }, '400': BODY_ERRORS['400'], ...COMMON_V1 },
        }),
      },
      '/v1/keys/rotate': {
        post: v1({
          operationId: 'rotateKeys',
          summary: 'Rotate the signing key now (e.g. after a suspected leak)',
          responses: { '200': { description: 'The new signing key.', content: json('RotateKeysResponse') }, ...COMMON_V1 },
        }),
      },
      '/v1/audit': {
        get: v1({
          operationId: 'queryAudit',
          summary: 'The security audit log, newest first, filtered, with cursor pagination',
          parameters: [
            { name: 'user', in: 'query', required: false, description: 'Only events of this user.', schema: { type: 'string', minLength: 1, maxLength: 256 } },
            { name: 'session', in: 'query', required: false, description: 'Only events of this session.', schema: { type: 'string', minLength: 1, maxLength: 256 } },
            { name: 'type', in: 'query', required: false, description: 'Only these event types, comma-separated.', schema: { type: 'string' } },
            { name: 'since', in: 'query', required: false, description: 'Inclusive lower bound: an ISO 8601 time with a zone, or a span back from now (`24h`, `7d`, `30m`, `90s`).', schema: { type: 'string' } },
            { name: 'until', in: 'query', required: false, description: 'Exclusive upper bound, in the same forms as `since`.', schema: { type: 'string' } },
            { name: 'cursor', in: 'query', required: false, description: 'The `nextCursor` of the previous page.', schema: { type: 'string' } },
            { name: 'limit', in: 'query', required: false, description: 'Page size, 1-1000. Default 100.', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
          ],
          responses: {
            '200': { description: 'One page of events. Events reach the log in batches, about a second after they happen.', content: json('AuditPage') },
            '400': error('A parameter is malformed (an unknown type, a bad time, limit or cursor); `field` names it.', ['INVALID_REQUEST']),
            '404': error('This service keeps no audit log.', ['NOT_FOUND']),
            ...COMMON_V1,
          },
        }),
      },
      '/v1/revocations': {
        get: v1({
          operationId: 'revocationFeed',
          summary: 'Sessions revoked within the last access-token lifetime, for edge verifiers that poll (latchkey/edge)',
          parameters: [
            { name: 'since', in: 'query', required: false, description: 'The `cursor` of the previous answer (ms since the epoch); absent: every revocation still relevant.', schema: { type: 'string', pattern: '^[0-9]{1,16}$' } },
            { name: 'If-None-Match', in: 'header', required: false, description: 'The ETag of the previous answer.', schema: { type: 'string' } },
          ],
          responses: {
            '200': { description: 'The feed. Its ETag is the SHA-256 of the body.', headers: { ETag: { description: 'Strong entity tag of the body.', schema: { type: 'string' } } }, content: json('RevocationFeed') },
            '304': { description: 'Nothing changed since the ETag presented in If-None-Match.' },
            '400': error('`since` is not a whole number of milliseconds.', ['INVALID_REQUEST']),
            ...COMMON_V1,
          },
        }),
      },
      '/.well-known/jwks.json': {
        get: { operationId: 'jwks', summary: 'Public signing keys (RFC 7517)', responses: { '200': { description: 'JWKS.', content: { 'application/jwk-set+json': { schema: ref('Jwks') }, 'application/json': { schema: ref('Jwks') } } } } },
      },
      '/.well-known/openid-configuration': {
        get: { operationId: 'discovery', summary: 'OpenID Provider Metadata subset', responses: { '200': { description: 'Metadata.', content: json('Discovery') } } },
      },
      '/healthz': { get: { operationId: 'health', summary: 'Liveness', responses: { '200': { description: 'Running.', content: json('Health') } } } },
      '/readyz': {
        get: {
          operationId: 'ready',
          summary: 'Readiness: the store answers',
          responses: { '200': { description: 'Ready.', content: json('Health') }, '503': { description: 'Store unavailable or shutting down.', content: json('Health') } },
        },
      },
      '/metrics': {
        get: { operationId: 'metrics', summary: 'Prometheus metrics', responses: { '200': { description: 'Text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } } } },
      },
      '/openapi.json': {
        get: { operationId: 'openapi', summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } } } },
      },
    }),
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'A service key from `latchkey service-keys create`, LATCHKEY_SERVICE_KEYS or LATCHKEY_API_KEYS.' },
      },
      headers: HEADERS,
      schemas: componentSchemas(),
    },
    'x-error-codes': [...ERROR_CODES],
  };
}

let cached: string | undefined;

/** The document as the exact text served and committed (2-space JSON, trailing newline). */
export function openApiText(): string {
  cached ??= `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
  return cached;
}
