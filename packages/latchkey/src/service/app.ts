/**
 * The service's HTTP surface, a thin edge over the engine: parse and validate, call one engine
 * method, shape the answer. No decision about tokens or sessions is made here.
 *
 * Built on Hono's fetch-style app, so it runs under `@hono/node-server` (server.ts) and can be
 * exercised in-process with `app.request(...)`.
 */
import { randomUUID } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import type { ApiKey } from '../api-keys/types.js';
import { InvalidAuditQueryError } from '../audit/query.js';
import type { AuditStore } from '../audit/types.js';
import type { Latchkey } from '../engine.js';
import { defineClaim } from '../claims/claim.js';
import type { ClaimChange } from '../engine.js';
import { SecretMismatchError, UnauthorisedError } from '../errors.js';
import { toPublicSession } from '../http/session.js';
import { feedEtag, ifNoneMatchMatches, parseFeedSince } from '../revocation/feed.js';
import type { IssuedTokens, Session } from '../types.js';
import type { ApiKeyChecker } from './api-keys.js';
import { auditEventToJson, auditQueryFrom } from './audit.js';
import { STORE_DEADLINE_MS, withDeadline } from './deadline.js';
import { readBody } from './body.js';
import { ServiceError, toServiceError } from './errors.js';
import type { Logger } from './logger.js';
import type { ServiceMetrics } from './metrics.js';
import { openApiText } from './openapi.js';
import {
  ApiKeyId,
  CreateApiKeyRequest,
  CreateSessionRequest,
  RotateApiKeyRequest,
  VerifyApiKeyRequest,
  type ApiKeyBody,
  RefreshRequest,
  SessionId,
  UpdateClaimsRequest,
  UpdateSessionRequest,
  UserId,
  type UpdateClaimsBody,
  VerifyRequest,
  type SessionBody,
} from './schemas.js';

export interface ServiceAppOptions {
  engine: Latchkey;
  apiKeys: ApiKeyChecker;
  metrics: ServiceMetrics;
  logger: Logger;
  /** The audit log `GET /v1/audit` reads. Default none: the route answers 404 `NOT_FOUND`. */
  audit?: AuditStore;
  /** Largest request body, bytes. Default 65 536. */
  bodyLimit?: number;
  /** True once a graceful shutdown has begun: new requests get 503 `SHUTTING_DOWN`. Default: never. */
  isDraining?: () => boolean;
  /** Deadline for store work, ms. Default 1800 (the contract promises a 503 within 2 s). */
  storeDeadlineMs?: number;
}

type Env = { Variables: { route: string } };

/** A caller's request id is kept only when it is short and plain, so it cannot inject into logs. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

const RotateKeysRequest = z.strictObject({});
const ReissueTokensRequest = z.strictObject({});

/** The contract's Session: the HTTP layer's public view, plus what the trusted backend may see. */
export function sessionToJson(session: Session): SessionBody {
  return {
    ...toPublicSession(session),
    data: session.data,
    accessClaims: session.accessClaims,
    idClaims: session.idClaims,
    revokedAt: session.revokedAt === null ? null : session.revokedAt.toISOString(),
  };
}

/** The contract's ApiKey: never the key, never its hash. */
export function apiKeyToJson(key: Readonly<ApiKey>): ApiKeyBody {
  return {
    id: key.id,
    ownerId: key.ownerId,
    name: key.name,
    scopes: [...key.scopes],
    prefix: key.prefix,
    createdAt: key.createdAt.toISOString(),
    expiresAt: key.expiresAt === null ? null : key.expiresAt.toISOString(),
    lastUsedAt: key.lastUsedAt === null ? null : key.lastUsedAt.toISOString(),
    metadata: key.metadata,
  };
}

function issuedToJson(tokens: IssuedTokens) {
  return {
    session: sessionToJson(tokens.session),
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    idToken: tokens.idToken,
    accessTokenExpiresAt: tokens.accessTokenExpiresAt.toISOString(),
    // The access token says whether it is bound; the backend learns the scheme without parsing it.
    tokenType: tokens.tokenType,
  };
}

/**
 * A claims request as the engine's changes: a claim registered with the engine keeps its own
 * location; any other key is kept where the body says (default: the tokens).
 */
function claimChanges(engine: Latchkey, body: UpdateClaimsBody): ClaimChange[] {
  return Object.entries(body.claims).map(([key, value]) => {
    const claim = engine.registeredClaim(key) ?? defineClaim({ key, where: body.where ?? 'token' });
    return value === null ? { claim, remove: true } : { claim, value };
  });
}

/** A path parameter that must satisfy `schema`; 400 naming it otherwise. */
function param(c: Context<Env>, name: string, schema: z.ZodType<string>): string {
  const value = c.req.param(name);
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ServiceError(400, 'INVALID_REQUEST', `${name}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, { field: name });
  return parsed.data;
}

const BEARER = /^Bearer[ ]+([^\s]+)[ ]*$/i;

/** Builds the Hono app. */
export function createServiceApp(options: ServiceAppOptions): Hono<Env> {
  const { engine, apiKeys, metrics, logger } = options;
  const deadlineMs = options.storeDeadlineMs ?? STORE_DEADLINE_MS;
  const draining = options.isDraining ?? (() => false);
  const store = <T>(work: Promise<T>) => withDeadline(work, deadlineMs);
  const app = new Hono<Env>();

  // Outermost: timing, the request log line and metrics. Sees the final status, errors included.
  app.use('*', async (c, next) => {
    const started = process.hrtime.bigint();
    c.set('route', 'unmatched');
    const given = c.req.header('x-request-id');
    const requestId = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
    await next();
    c.res.headers.set('X-Request-Id', requestId);
    // No browser should ever sniff a JSON answer into something executable.
    c.res.headers.set('X-Content-Type-Options', 'nosniff');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const route = c.get('route');
    const status = c.res.status;
    metrics.observe(c.req.method, route, status, seconds);
    // Method, route pattern, status, duration: never the raw path (ids), a header or a body.
    logger.log(status >= 500 ? 'error' : 'info', 'request', { method: c.req.method, route, status, durationMs: Math.round(seconds * 1e6) / 1e3, requestId });
  });

  app.onError((err, c) => {
    const failure = toServiceError(err);
    if (failure.status === 500) logger.log('error', 'unexpected error', { route: c.get('route'), err });
    // The client is told to retry; the operator must be told why this instance cannot sign.
    if (err instanceof SecretMismatchError) logger.log('error', 'cannot sign: wrong master secret', { route: c.get('route'), err });
    for (const [k, v] of Object.entries(failure.headers)) c.header(k, v);
    return c.json(failure.body(), failure.status as 400);
  });

  // Every answer on the refresh route, success or error, tells the client the server's grace window
  // (../shared/service-api.md v1.1 and D1), so a client can fit its deadline and retry inside it.
  app.use('/v1/sessions/refresh', async (c, next) => {
    await next();
    c.res.headers.set('X-Latchkey-Refresh-Grace', String(engine.refreshGraceSeconds));
  });

  app.notFound((c) => {
    c.set('route', 'unmatched');
    return c.json(new ServiceError(404, 'NOT_FOUND', 'no such route').body(), 404);
  });

  // Shutting down: refuse cleanly and ask the client to reconnect elsewhere.
  app.use('*', async (c, next) => {
    if (draining() && c.req.path !== '/healthz') {
      c.header('Connection', 'close');
      c.header('Retry-After', '1');
      if (c.req.path === '/readyz') return c.json({ status: 'unavailable' }, 503);
      throw new ServiceError(503, 'SHUTTING_DOWN', 'the service is shutting down; retry');
    }
    await next();
  });

  // Every /v1/ route needs an API key; checked before routing so unknown routes reveal nothing.
  app.use('/v1/*', async (c, next) => {
    c.header('Cache-Control', 'no-store');
    const match = BEARER.exec(c.req.header('authorization') ?? '');
    const checked = match?.[1] ? apiKeys.check(match[1]) : null;
    // A key from the environment or the cache is answered without the store, so without a deadline timer.
    const identity = checked instanceof Promise ? await store(checked) : checked;
    if (!identity) {
      throw new ServiceError(401, 'INVALID_API_KEY', 'a valid API key is required (Authorization: Bearer <key>)', {}, { 'WWW-Authenticate': 'Bearer realm="latchkey"' });
    }
    await next();
  });

  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: options.bodyLimit ?? 65_536,
      onError: () => {
        // The rest of the body may still be on its way, unread: close the connection rather than
        // leave it to poison the next request on a pooled connection, or read an unbounded upload.
        throw new ServiceError(413, 'PAYLOAD_TOO_LARGE', `the body exceeds ${options.bodyLimit ?? 65_536} bytes`, {}, { Connection: 'close' });
      },
    }),
  );

  /** Registers a handler and labels the request with the route pattern (OpenAPI style). */
  const allowed = new Map<string, string[]>();
  type Method = 'get' | 'post' | 'patch' | 'delete';
  const route = (method: Method, pattern: string, handler: (c: Context<Env>) => Promise<Response> | Response) => {
    const honoPath = pattern.replace(/\{(\w+)\}/g, ':$1');
    const methods = allowed.get(honoPath) ?? [];
    methods.push(method.toUpperCase());
    if (method === 'get') methods.push('HEAD');
    allowed.set(honoPath, methods);
    app[method](honoPath, (c) => {
      c.set('route', pattern);
      return handler(c);
    });
  };
  /** After a path's handlers: any other method gets 405 with `Allow`. */
  const onlyThose = (pattern: string) => {
    const honoPath = pattern.replace(/\{(\w+)\}/g, ':$1');
    app.all(honoPath, (c) => {
      c.set('route', pattern);
      const allow = (allowed.get(honoPath) ?? []).join(', ');
      throw new ServiceError(405, 'METHOD_NOT_ALLOWED', `use ${allow}`, {}, { Allow: allow });
    });
  };

  route('post', '/v1/sessions', async (c) => {
    const body = await readBody(c, CreateSessionRequest);
    const tokens = await store(engine.createSession(body));
    return c.json(issuedToJson(tokens), 201);
  });
  onlyThose('/v1/sessions');

  route('post', '/v1/sessions/verify', async (c) => {
    const body = await readBody(c, VerifyRequest);
    const work = engine.verifyAccessToken(body.accessToken, {
      ...(body.checkStore !== undefined ? { checkStore: body.checkStore } : {}),
      ...(body.maxAuthAge !== undefined ? { maxAuthAge: body.maxAuthAge } : {}),
      ...(body.dpop !== undefined ? { dpop: body.dpop } : {}),
    });
    // Without checkStore or a DPoP proof (its replay cache) nothing but the signature and the
    // denylist is consulted, so no deadline timer is set up per request. The one store read left, a
    // key reload for an unknown kid, is bounded by the engine itself (KID_RELOAD_WAIT_MS).
    const touchesStore = body.checkStore === true || body.dpop !== undefined;
    const verified = touchesStore ? await store(work) : await work;
    const cnf = verified.boundKey === undefined ? {} : { cnf: { jkt: verified.boundKey } };
    return c.json({ session: { id: verified.sessionId, userId: verified.userId }, claims: { ...verified.claims }, ...cnf }, 200);
  });
  onlyThose('/v1/sessions/verify');

  route('post', '/v1/sessions/refresh', async (c) => {
    const body = await readBody(c, RefreshRequest);
    const tokens = await store(
      engine.refresh(body.refreshToken, { ...(body.device ? { device: body.device } : {}), ...(body.dpop ? { dpop: body.dpop } : {}) }),
    );
    return c.json(issuedToJson(tokens), 200);
  });
  onlyThose('/v1/sessions/refresh');

  /** A session id from the path, or null when it cannot be one (answered as not found). */
  const sessionId = (c: Context<Env>): string | null => {
    const parsed = SessionId.safeParse(c.req.param('id'));
    return parsed.success ? parsed.data : null;
  };

  route('get', '/v1/sessions/{id}', async (c) => {
    const id = sessionId(c);
    const session = id === null ? null : await store(engine.getSession(id));
    if (!session) throw new ServiceError(404, 'NOT_FOUND', 'session not found');
    return c.json(sessionToJson(session), 200);
  });
  route('patch', '/v1/sessions/{id}', async (c) => {
    const id = sessionId(c);
    const body = await readBody(c, UpdateSessionRequest);
    if (id === null) throw new ServiceError(404, 'NOT_FOUND', 'session not found');
    const session = await store(engine.updateSession(id, body));
    return c.json(sessionToJson(session), 200);
  });
  route('delete', '/v1/sessions/{id}', async (c) => {
    const id = sessionId(c);
    // Idempotent: already revoked, or never existed, the outcome the caller wants holds.
    // Reason "signout": the usual caller is a backend signing its user out (the CLI says "admin").
    if (id !== null) await store(engine.revokeSession(id, 'signout'));
    return c.body(null, 204);
  });
  onlyThose('/v1/sessions/{id}');

  // After a PATCH, a backend hands its client tokens that carry the new claims at once, instead of
  // waiting for the next refresh. The refresh token is not rotated: the client keeps its own.
  route('post', '/v1/sessions/{id}/tokens', async (c) => {
    const id = sessionId(c);
    await readBody(c, ReissueTokensRequest, true);
    if (id === null) throw new ServiceError(404, 'NOT_FOUND', 'session not found');
    let tokens;
    try {
      tokens = await store(engine.reissueTokens(id));
    } catch (err) {
      // The engine says UNAUTHORISED for a revoked or expired session; to a backend holding a valid
      // API key that would read as its own key refused. It is the session that is gone: 404, as PATCH.
      if (err instanceof UnauthorisedError) throw new ServiceError(404, 'NOT_FOUND', 'session not found, revoked or expired');
      throw err;
    }
    return c.json({ accessToken: tokens.accessToken, idToken: tokens.idToken, accessTokenExpiresAt: tokens.accessTokenExpiresAt.toISOString() }, 200);
  });
  onlyThose('/v1/sessions/{id}/tokens');

  // Claims by key (v1.1, additive): setClaimValue/removeClaim for one session. Unlike a PATCH of
  // mergeAccessClaims, tokens minted before the change are refused with TRY_REFRESH_TOKEN on every
  // instance (the claims epoch), so the change holds at the client's next request.
  route('patch', '/v1/sessions/{id}/claims', async (c) => {
    const id = sessionId(c);
    const body = await readBody(c, UpdateClaimsRequest);
    if (id === null) throw new ServiceError(404, 'NOT_FOUND', 'session not found');
    await store(engine.updateClaims({ sessionId: id }, claimChanges(engine, body)));
    const session = await store(engine.getSession(id));
    if (!session) throw new ServiceError(404, 'NOT_FOUND', 'session not found');
    return c.json(sessionToJson(session), 200);
  });
  onlyThose('/v1/sessions/{id}/claims');

  route('get', '/v1/users/{userId}/sessions', async (c) => {
    const userId = param(c, 'userId', UserId);
    const sessions = await store(engine.listSessions(userId));
    return c.json({ sessions: sessions.map(sessionToJson) }, 200);
  });
  route('delete', '/v1/users/{userId}/sessions', async (c) => {
    const userId = param(c, 'userId', UserId);
    const revoked = await store(engine.revokeUserSessions(userId, { reason: 'revoke-all' }));
    return c.json({ revoked }, 200);
  });
  onlyThose('/v1/users/{userId}/sessions');

  // The same for every active session of a user at once ("revoke the admin role everywhere").
  route('patch', '/v1/users/{userId}/sessions/claims', async (c) => {
    const userId = param(c, 'userId', UserId);
    const body = await readBody(c, UpdateClaimsRequest);
    const updated = await store(engine.updateClaims({ userId }, claimChanges(engine, body)));
    return c.json({ updated }, 200);
  });
  onlyThose('/v1/users/{userId}/sessions/claims');

  // ---- API keys (v1.1): the app's keys for its users and machine clients ----------------------------

  route('post', '/v1/api-keys', async (c) => {
    const body = await readBody(c, CreateApiKeyRequest);
    const created = await store(engine.apiKeys.create(body));
    return c.json({ apiKey: apiKeyToJson(created.apiKey), key: created.key }, 201);
  });
  onlyThose('/v1/api-keys');

  route('post', '/v1/api-keys/verify', async (c) => {
    const body = await readBody(c, VerifyApiKeyRequest);
    const verified = await store(engine.apiKeys.verify(body.key, body.scopes ? { scopes: body.scopes } : {}));
    return c.json({ apiKey: apiKeyToJson(verified.apiKey) }, 200);
  });
  onlyThose('/v1/api-keys/verify');

  /** An API key id from the path, or null when it cannot be one (answered as not found). */
  const apiKeyId = (c: Context<Env>): string | null => {
    const parsed = ApiKeyId.safeParse(c.req.param('id'));
    return parsed.success ? parsed.data : null;
  };

  route('delete', '/v1/api-keys/{id}', async (c) => {
    const id = apiKeyId(c);
    // Idempotent: already revoked, or never existed, the outcome the caller wants holds.
    if (id !== null) await store(engine.apiKeys.revoke(id));
    return c.body(null, 204);
  });
  onlyThose('/v1/api-keys/{id}');

  route('post', '/v1/api-keys/{id}/rotate', async (c) => {
    const id = apiKeyId(c);
    const body = await readBody(c, RotateApiKeyRequest, true);
    if (id === null) throw new ServiceError(404, 'NOT_FOUND', 'API key not found');
    const rotated = await store(engine.apiKeys.rotate(id, body.expiresPreviousIn ? { expiresPreviousIn: body.expiresPreviousIn } : {}));
    return c.json({ apiKey: apiKeyToJson(rotated.apiKey), key: rotated.key }, 201);
  });
  onlyThose('/v1/api-keys/{id}/rotate');

  route('get', '/v1/users/{ownerId}/api-keys', async (c) => {
    const ownerId = param(c, 'ownerId', UserId);
    const keys = await store(engine.apiKeys.list(ownerId));
    return c.json({ apiKeys: keys.map(apiKeyToJson) }, 200);
  });
  onlyThose('/v1/users/{ownerId}/api-keys');

  // ---- The audit log (issue 17) ------------------------------------------------------------------

  route('get', '/v1/audit', async (c) => {
    const audit = options.audit;
    if (!audit) throw new ServiceError(404, 'NOT_FOUND', 'this service keeps no audit log');
    const q = c.req.query();
    let page;
    try {
      const query = auditQueryFrom(
        { user: q['user'], session: q['session'], type: q['type'], since: q['since'], until: q['until'], cursor: q['cursor'], limit: q['limit'] },
        Date.now(),
      );
      page = await store(audit.query(query));
    } catch (err) {
      // The contract's 400: INVALID_REQUEST naming the parameter.
      if (err instanceof InvalidAuditQueryError) throw new ServiceError(400, 'INVALID_REQUEST', err.message, { field: err.field });
      throw err;
    }
    return c.json({ events: page.events.map(auditEventToJson), nextCursor: page.nextCursor }, 200);
  });
  onlyThose('/v1/audit');

  // ---- The revocation feed, for edge verifiers (latchkey/edge) ------------------------------------

  route('get', '/v1/revocations', async (c) => {
    const since = parseFeedSince(c.req.query('since'));
    if (since === null) throw new ServiceError(400, 'INVALID_REQUEST', 'since must be a whole number of milliseconds', { field: 'since' });
    const feed = await store(engine.revocationFeed(since, Date.now()));
    const body = JSON.stringify(feed);
    const etag = await feedEtag(body);
    c.header('ETag', etag);
    if (ifNoneMatchMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304);
    c.header('Content-Type', 'application/json');
    return c.body(body, 200);
  });
  onlyThose('/v1/revocations');

  route('post', '/v1/keys/rotate', async (c) => {
    await readBody(c, RotateKeysRequest, true);
    const { kid } = await store(engine.rotateKeys());
    return c.json({ kid }, 200);
  });
  onlyThose('/v1/keys/rotate');

  // ---- public ----------------------------------------------------------------------------------

  route('get', '/.well-known/jwks.json', (c) => {
    // Short public caching: verifiers refetch on an unknown kid anyway, and new keys are published
    // a day before they sign.
    c.header('Cache-Control', 'public, max-age=300');
    c.header('Content-Type', 'application/jwk-set+json');
    return c.body(JSON.stringify(engine.jwks()), 200);
  });
  onlyThose('/.well-known/jwks.json');

  route('get', '/.well-known/openid-configuration', (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.json(engine.discovery(), 200);
  });
  onlyThose('/.well-known/openid-configuration');

  route('get', '/healthz', (c) => c.json({ status: 'ok' }, 200));
  onlyThose('/healthz');

  route('get', '/readyz', async (c) => {
    c.header('Cache-Control', 'no-store');
    try {
      await store(engine.ping());
      return c.json({ status: 'ok' }, 200);
    } catch {
      return c.json({ status: 'unavailable' }, 503);
    }
  });
  onlyThose('/readyz');

  route('get', '/metrics', async (c) => {
    const text = await metrics.registry.metrics();
    c.header('Content-Type', metrics.registry.contentType);
    return c.body(text, 200);
  });
  onlyThose('/metrics');

  route('get', '/openapi.json', (c) => {
    c.header('Content-Type', 'application/json; charset=utf-8');
    return c.body(openApiText(), 200);
  });
  onlyThose('/openapi.json');

  return app;
}
