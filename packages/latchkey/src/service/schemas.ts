/**
 * The service's wire format, as zod schemas: the one source of truth for request validation, for
 * the response shapes the tests check, and (through `z.toJSONSchema`) for the OpenAPI document.
 *
 * Request objects are strict: an unknown field is refused rather than ignored, so a client's typo
 * (`acessClaims`) fails loudly instead of silently issuing a token without the claims it meant.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { isStorableText, RESERVED_CLAIMS } from '../tokens/claims.js';
import type { JsonValue } from '../types.js';
import { AUDIT_EVENT_TYPES, type AuditEventType } from '../audit/types.js';

/**
 * The record `z.enum` makes of its values (`{ ok: 'ok', unavailable: 'unavailable' }`), named. Every
 * enum below is typed through it and a named union, so the declarations print `ZodEnum<EnumRecord<
 * HealthStatus>>`. Inferred, the record was printed with its keys in the order of the compiler's
 * literal-type ids, which depends on which files a build checked first: a clean build and an
 * incremental one gave different declarations, and the API report flapped.
 */
export type EnumRecord<T extends string> = { [K in T]: K };

/** Any JSON value. */
export const JsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(JsonValueSchema), z.record(z.string(), JsonValueSchema)]),
);

/** A JSON object (server-side session data). */
export const JsonObjectSchema = z.record(z.string(), JsonValueSchema);

/**
 * App claims for a token. Names latchkey sets itself are refused here, with the claim named, so the
 * caller learns which one (a caller-chosen `sub` or `exp` would defeat the point of signing).
 */
export const ClaimsSchema = JsonObjectSchema.superRefine((claims, ctx) => {
  for (const name of Object.keys(claims)) {
    if (RESERVED_CLAIMS.has(name)) {
      ctx.addIssue({ code: 'custom', path: [name], message: `"${name}" is set by latchkey and cannot be supplied` });
    }
  }
}).meta({ description: `Extra claims. Reserved names are refused: ${[...RESERVED_CLAIMS].join(', ')}.` });

export const DeviceSchema = z
  .strictObject({
    userAgent: z.string().max(512).optional(),
    // The engine refuses anything else too; checking here names the field in the 400.
    ip: z.string().max(512).refine((value) => isIP(value) !== 0, 'must be an IPv4 or IPv6 address').optional(),
  })
  .meta({ description: 'What the caller knows of the device, shown in "your devices" lists.' });

// Text PostgreSQL can store (no NUL, no lone surrogate): the engine refuses anything else on every store.
export const UserId = z.string().min(1).max(255).refine(isStorableText, 'must not contain NUL or lone surrogates');
/** Path ids: anything else cannot name a session (answered as not found). */
export const SessionId = z.string().min(1).max(128).refine(isStorableText);
const Timestamp = z.iso.datetime().meta({ description: 'ISO 8601, UTC' });

// ---- requests ------------------------------------------------------------------------------------

/** Service contract v1.1: a DPoP proof as the client sent it to the backend, with that request's method and URL. */
export const DpopSchema = z
  .strictObject({
    proof: z.string().min(1).max(8192).meta({ description: 'The `DPoP` header the client sent to the backend.' }),
    method: z.string().min(1).max(32).meta({ description: "That request's HTTP method." }),
    url: z
      .string()
      .min(1)
      .max(8192)
      .refine((value) => URL.canParse(value), 'must be an absolute URL')
      .meta({ description: "That request's absolute URL as the client addressed it (query and fragment are ignored)." }),
  })
  .meta({ description: 'DPoP (RFC 9449): a proof of possession of the key the session is, or is to be, bound to.' });

export const CreateSessionRequest = z.strictObject({
  userId: UserId.meta({ description: "The user's immutable id; becomes `sub`." }),
  accessClaims: ClaimsSchema.optional(),
  idClaims: ClaimsSchema.optional(),
  data: JsonObjectSchema.optional().meta({ description: 'Server-side data; never enters a token.' }),
  device: DeviceSchema.optional(),
  dpop: DpopSchema.optional().meta({ description: 'With a valid proof, the session is bound to its key (`tokenType: "DPoP"`).' }),
});

export const VerifyRequest = z.strictObject({
  accessToken: z.string().min(1).max(16_384),
  checkStore: z.boolean().optional().meta({ description: 'Also check the session in the store (one round trip).' }),
  maxAuthAge: z.number().int().min(0).max(31_536_000).optional().meta({
    description: 'Refuse with 403 INSUFFICIENT_FRESHNESS unless the user authenticated within this many seconds.',
  }),
  dpop: DpopSchema.optional().meta({ description: 'Required for a token with `cnf.jkt`: a proof from that key, with `ath` of this token.' }),
});

export const RefreshRequest = z.strictObject({
  refreshToken: z.string().min(1).max(1024),
  device: DeviceSchema.optional(),
  dpop: DpopSchema.optional().meta({ description: 'Required for a DPoP-bound session: a proof from its key.' }),
});

const mergeNote = 'Merged into the stored object atomically: each key is set, a null value deletes it. Not together with the replacing field for the same part.';
export const UpdateSessionRequest = z.strictObject({
  accessClaims: ClaimsSchema.optional(),
  idClaims: ClaimsSchema.optional(),
  data: JsonObjectSchema.optional(),
  // Additive (v1.1): the merge form, so concurrent updates of different keys do not overwrite each other.
  mergeAccessClaims: ClaimsSchema.optional().meta({ description: mergeNote }),
  mergeIdClaims: ClaimsSchema.optional().meta({ description: mergeNote }),
  mergeData: JsonObjectSchema.optional().meta({ description: mergeNote }),
});

/** A claim's key, as `defineClaim` accepts it; reserved names are refused. */
const ClaimKey = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1 to 64 characters of letters, digits and _ . : -')
  .refine((key) => !RESERVED_CLAIMS.has(key), 'is set by latchkey and cannot be supplied');

/**
 * Additive (v1.1): claims by key, as `setClaimValue` and `removeClaim` set them. Each value is kept
 * in the `{ "v": value, "t": ms }` form the claim validators read (here and in the browser SDK), and
 * tokens minted before the change are made to refresh on every instance.
 */
/** Where a claim set through the service is kept (typed through a named union, see EnumRecord). */
export type ClaimLocationName = 'token' | 'session';
const ClaimLocationSchema: z.ZodEnum<EnumRecord<ClaimLocationName>> = z.enum(['token', 'session']);

export const UpdateClaimsRequest = z.strictObject({
  claims: z
    .record(z.string(), JsonValueSchema)
    .superRefine((claims, ctx) => {
      const keys = Object.keys(claims);
      if (keys.length === 0) ctx.addIssue({ code: 'custom', path: [], message: 'must name at least one claim' });
      if (keys.length > 32) ctx.addIssue({ code: 'custom', path: [], message: 'at most 32 claims per request' });
      for (const key of keys) {
        const parsed = ClaimKey.safeParse(key);
        if (!parsed.success) ctx.addIssue({ code: 'custom', path: [key], message: parsed.error.issues[0]?.message ?? 'invalid claim key' });
      }
    })
    .meta({
      description:
        'Claim key to its new value; `null` removes the claim. Built-in keys: `lk-roles`, `lk-perms` (lists of strings), `lk-ev` (boolean), `lk-mfa` (factor to completion time, ms).',
    }),
  where: ClaimLocationSchema.optional()
    .meta({
      description:
        "Default `token`: in the access and ID tokens, checked with no lookup and visible to the browser SDK. `session`: in the session's server-side data only. A claim registered with the service's engine keeps its own.",
    }),
});

// ---- responses -----------------------------------------------------------------------------------

export const SessionSchema = z.strictObject({
  id: z.string(),
  userId: z.string(),
  createdAt: Timestamp,
  lastActiveAt: Timestamp,
  expiresAt: Timestamp.meta({ description: 'The earlier of the idle and the absolute expiry.' }),
  authTime: Timestamp,
  device: DeviceSchema,
  data: JsonObjectSchema,
  accessClaims: JsonObjectSchema,
  idClaims: JsonObjectSchema,
  revokedAt: Timestamp.nullable(),
});

/** How the access token is sent: `DPoP` when the session is bound to a key. */
export type TokenTypeName = 'Bearer' | 'DPoP';
const TokenTypeSchema: z.ZodEnum<EnumRecord<TokenTypeName>> = z.enum(['Bearer', 'DPoP']);

export const IssuedTokensResponse = z.strictObject({
  session: SessionSchema,
  accessToken: z.string(),
  refreshToken: z.string(),
  idToken: z.string(),
  accessTokenExpiresAt: Timestamp,
  tokenType: TokenTypeSchema.meta({ description: 'v1.1: `DPoP` when the session is bound to a key; send the access token with that scheme.' }),
});

export const ReissuedTokensResponse = z
  .strictObject({
    accessToken: z.string(),
    idToken: z.string(),
    accessTokenExpiresAt: Timestamp,
  })
  .meta({ description: 'A fresh access and ID token for the session; its refresh token is unchanged (not rotated).' });

export const VerifyResponse = z.strictObject({
  session: z.strictObject({ id: z.string(), userId: z.string() }),
  claims: JsonObjectSchema,
  cnf: z.strictObject({ jkt: z.string() }).optional().meta({ description: 'v1.1: for a DPoP-bound token, the thumbprint of its key.' }),
});

export const SessionListResponse = z.strictObject({ sessions: z.array(SessionSchema) });
export const RevokedCountResponse = z.strictObject({ revoked: z.number().int().min(0) });
export const UpdatedCountResponse = z.strictObject({ updated: z.number().int().min(0).meta({ description: 'How many active sessions were updated.' }) });
export const RotateKeysResponse = z.strictObject({ kid: z.string() });

export const JwksResponse = z.object({
  keys: z.array(z.looseObject({ kid: z.string(), alg: z.string(), use: z.literal('sig'), kty: z.string() })),
});

export const DiscoveryResponse = z.looseObject({
  issuer: z.string(),
  jwks_uri: z.string(),
  id_token_signing_alg_values_supported: z.array(z.string()),
});

/** What /readyz and /healthz answer. */
export type HealthStatus = 'ok' | 'unavailable';
const HealthStatusSchema: z.ZodEnum<EnumRecord<HealthStatus>> = z.enum(['ok', 'unavailable']);
export const HealthResponse = z.strictObject({ status: HealthStatusSchema });

/** Whose claims a claims epoch outdates (typed through a named union, see EnumRecord). */
export type ClaimsEpochKindName = 'user' | 'session';
const ClaimLocationKindSchema: z.ZodEnum<EnumRecord<ClaimsEpochKindName>> = z.enum(['user', 'session']);

/** The revocation feed (revocation/feed.ts), for verifiers that cannot subscribe to the bus. */
export const RevocationFeedResponse = z.strictObject({
  revocations: z.array(
    z.strictObject({
      sid: z.string().meta({ description: 'The revoked session.' }),
      at: z.int().meta({ description: 'When it was revoked, ms since the epoch.' }),
      theft: z.literal(true).optional().meta({ description: 'Present when it was revoked for token theft.' }),
    }),
  ),
  claimsEpochs: z
    .array(
      z.strictObject({
        kind: ClaimLocationKindSchema,
        id: z.string().meta({ description: 'The user id (`kind: user`) or the session id (`kind: session`).' }),
        at: z.int().meta({ description: 'ms since the epoch: tokens of that user or session minted before it must refresh.' }),
      }),
    )
    .optional()
    .meta({ description: 'v1.1 (issue 16), present when there are any: claims epochs of the same window (setClaimValue); a verifier answers older tokens TRY_REFRESH_TOKEN.' }),
  cursor: z.int().meta({ description: 'Pass as `since` on the next poll.' }),
  retainSeconds: z.int().meta({ description: 'How long an entry must keep denying tokens (access TTL + clock tolerance).' }),
});

// ---- API keys (v1.1): keys an app issues to its users and machine clients --------------------------

/** RFC 6749 §3.3 scope-token, bounded. */
const Scope = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/, 'must be an RFC 6749 scope token (printable ASCII, no space, quote or backslash), at most 128 characters');
const Lifetime = z.number().int().min(1).max(100 * 365 * 86_400);

export const CreateApiKeyRequest = z.strictObject({
  ownerId: UserId.meta({ description: 'Whose key it is (usually a user id).' }),
  name: z.string().min(1).max(200).refine((v) => v.trim().length > 0 && isStorableText(v), 'must be non-blank text without NUL or lone surrogates'),
  scopes: z.array(Scope).max(100).optional(),
  expiresIn: Lifetime.optional().meta({ description: 'Lifetime, seconds. Default: no expiry.' }),
  metadata: JsonObjectSchema.optional().meta({ description: 'App data kept with the key (up to 8 KiB of JSON), returned on every verification.' }),
});

export const VerifyApiKeyRequest = z.strictObject({
  key: z.string().min(1).max(1024),
  scopes: z.array(Scope).max(100).optional().meta({ description: 'Scopes the key must all hold; otherwise 403 INSUFFICIENT_SCOPE.' }),
});

export const RotateApiKeyRequest = z.strictObject({
  expiresPreviousIn: z.number().int().min(0).max(100 * 365 * 86_400).optional().meta({
    description: 'Seconds the old key keeps working beside the new one. Default: it stops at once.',
  }),
});

/** Path ids of API keys: anything else cannot name one (answered as not found). */
export const ApiKeyId = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/);

export const ApiKeySchema = z.strictObject({
  id: z.string(),
  ownerId: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  prefix: z.string().meta({ description: 'The non-secret start of the key, for display.' }),
  createdAt: Timestamp,
  expiresAt: Timestamp.nullable(),
  lastUsedAt: Timestamp.nullable().meta({ description: 'Recorded in batches, about once a minute.' }),
  metadata: JsonObjectSchema,
});

export const CreatedApiKeyResponse = z.strictObject({
  apiKey: ApiKeySchema,
  key: z.string().meta({ description: 'The plaintext key (`lk_`...), returned here only.' }),
});
export const VerifiedApiKeyResponse = z.strictObject({ apiKey: ApiKeySchema });
export const ApiKeyListResponse = z.strictObject({ apiKeys: z.array(ApiKeySchema) });

// ---- The audit log (issue 17) -----------------------------------------------------------------------

// Typed through named unions (see EnumRecord), so the declarations do not depend on the build order.
const AuditEventTypeSchema: z.ZodEnum<EnumRecord<AuditEventType>> = z.enum(AUDIT_EVENT_TYPES as [AuditEventType, ...AuditEventType[]]);
/** Who acted in an audit event. */
export type AuditActorName = 'user' | 'admin' | 'system';
const AuditActorSchema: z.ZodEnum<EnumRecord<AuditActorName>> = z.enum(['user', 'admin', 'system']);

export const AuditEventSchema = z.strictObject({
  id: z.string().meta({ description: 'Unique; with `at`, the order of the log.' }),
  type: AuditEventTypeSchema,
  at: Timestamp.meta({ description: 'When it happened; for a folded refresh row (`count` > 1), the last refresh.' }),
  firstAt: Timestamp.meta({ description: 'The first event folded into this row (equals `at` when `count` is 1).' }),
  count: z.int().min(1).meta({ description: 'How many events the row stands for: refreshes of one session, device and IP within one write batch (about 1 s) are folded.' }),
  userId: z.string().nullable(),
  sessionId: z.string().nullable(),
  actor: AuditActorSchema,
  reason: z.string().nullable().meta({ description: 'Why: a revocation, rejection or theft reason.' }),
  device: z.string().nullable().meta({ description: 'The User-Agent the event came with; for a theft, the request that replayed the old token.' }),
  ip: z.string().nullable(),
  details: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
    .meta({ description: 'Small details: key ids, msSinceRotation; for a theft, `sessionDevice` and `sessionIp` (the other side). Never a token or a secret.' }),
});

export const AuditPageResponse = z.strictObject({
  events: z.array(AuditEventSchema).meta({ description: 'Newest first.' }),
  nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next (older) page; null on the last page.' }),
});

/**
 * Every error code the service sends. Written out rather than inferred from `ERROR_CODES`, so that
 * declarations name it and never print the union in the compiler's (build-order dependent) order.
 */
export type ServiceErrorCode =
  | 'INVALID_API_KEY'
  | 'INVALID_REQUEST'
  | 'PAYLOAD_TOO_LARGE'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'TRY_REFRESH_TOKEN'
  | 'UNAUTHORISED'
  | 'TOKEN_THEFT_DETECTED'
  | 'INSUFFICIENT_FRESHNESS'
  | 'INSUFFICIENT_SCOPE'
  | 'STORE_UNAVAILABLE'
  | 'SHUTTING_DOWN'
  | 'INVALID_DPOP_PROOF'
  | 'USE_DPOP_NONCE'
  | 'SESSION_REFUSED'
  | 'INTERNAL_ERROR';

/** The same codes, in the order the OpenAPI document lists them; `satisfies` and the check below keep the two lists equal. */
export const ERROR_CODES = [
  'INVALID_API_KEY',
  'INVALID_REQUEST',
  'PAYLOAD_TOO_LARGE',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'TRY_REFRESH_TOKEN',
  'UNAUTHORISED',
  'TOKEN_THEFT_DETECTED',
  'INSUFFICIENT_FRESHNESS',
  'INSUFFICIENT_SCOPE',
  'STORE_UNAVAILABLE',
  'SHUTTING_DOWN',
  'INVALID_DPOP_PROOF',
  'USE_DPOP_NONCE',
  'SESSION_REFUSED',
  'INTERNAL_ERROR',
] as const satisfies readonly ServiceErrorCode[];
// Fails to compile when ServiceErrorCode has a code ERROR_CODES lacks.
const everyCodeListed: Exclude<ServiceErrorCode, (typeof ERROR_CODES)[number]> extends never ? true : never = true;
void everyCodeListed;
const ErrorCodeSchema: z.ZodEnum<EnumRecord<ServiceErrorCode>> = z.enum(ERROR_CODES);

/** The `reason` of a TOKEN_THEFT_DETECTED or (`revoked-for-theft`) UNAUTHORISED error body. */
export type ErrorReason = 'parent-after-grace' | 'rotated-out-replay' | 'revoked-for-theft';
const ErrorReasonSchema: z.ZodEnum<EnumRecord<ErrorReason>> = z.enum(['parent-after-grace', 'rotated-out-replay', 'revoked-for-theft']);

export const ErrorResponse = z.strictObject({
  error: z.strictObject({
    code: ErrorCodeSchema,
    message: z.string(),
    field: z.string().optional().meta({ description: 'For INVALID_REQUEST: the offending field, as a dotted path.' }),
    sessionId: z.string().optional().meta({ description: 'For TOKEN_THEFT_DETECTED: the revoked session.' }),
    userId: z.string().optional().meta({ description: 'For TOKEN_THEFT_DETECTED: its user.' }),
    missingScopes: z.array(z.string()).optional().meta({ description: 'For INSUFFICIENT_SCOPE: the scopes the key lacks.' }),
    nonce: z.string().optional().meta({ description: 'For USE_DPOP_NONCE: the nonce the next proof must carry (also sent as `DPoP-Nonce`).' }),
    reason: ErrorReasonSchema.optional()
      .meta({
        description:
          'For TOKEN_THEFT_DETECTED: `parent-after-grace` (the parent of an unused successor, presented after the grace window: a thief, or a very late retry) or `rotated-out-replay` (any other rotated-out token). For UNAUTHORISED: `revoked-for-theft` when the session was revoked because theft was detected.',
      }),
  }),
});

export type CreateSessionBody = z.infer<typeof CreateSessionRequest>;
export type VerifyBody = z.infer<typeof VerifyRequest>;
export type RefreshBody = z.infer<typeof RefreshRequest>;
export type UpdateSessionBody = z.infer<typeof UpdateSessionRequest>;
export type UpdateClaimsBody = z.infer<typeof UpdateClaimsRequest>;
export type SessionBody = z.infer<typeof SessionSchema>;
export type ErrorBody = z.infer<typeof ErrorResponse>;
export type ApiKeyBody = z.infer<typeof ApiKeySchema>;

/** The named schemas of the OpenAPI document's `components.schemas`. */
export const NAMED_SCHEMAS = {
  JsonValue: JsonValueSchema,
  Device: DeviceSchema,
  Session: SessionSchema,
  CreateSessionRequest,
  VerifyRequest,
  RefreshRequest,
  UpdateSessionRequest,
  UpdateClaimsRequest,
  IssuedTokens: IssuedTokensResponse,
  ReissuedTokens: ReissuedTokensResponse,
  VerifyResponse,
  SessionList: SessionListResponse,
  RevokedCount: RevokedCountResponse,
  UpdatedCount: UpdatedCountResponse,
  RotateKeysResponse,
  Jwks: JwksResponse,
  Discovery: DiscoveryResponse,
  Health: HealthResponse,
  RevocationFeed: RevocationFeedResponse,
  Error: ErrorResponse,
  ApiKey: ApiKeySchema,
  CreateApiKeyRequest,
  VerifyApiKeyRequest,
  RotateApiKeyRequest,
  CreatedApiKey: CreatedApiKeyResponse,
  VerifiedApiKey: VerifiedApiKeyResponse,
  ApiKeyList: ApiKeyListResponse,
  AuditEvent: AuditEventSchema,
  AuditPage: AuditPageResponse,
} as const;
