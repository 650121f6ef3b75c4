/**
 * Engine options, each with its default and the reason for it. Every default is the safe one;
 * loosening any of them is an explicit choice.
 */
import type { Clock } from './clock.js';
import type { SessionClaim } from './claims/claim.js';
import type { DpopOptions } from './dpop/verifier.js';
import type { SessionHooks } from './engine/hooks.js';
import type { RevocationBus } from './revocation/bus.js';
import type { ApiKeyStore, SessionStore } from './stores/types.js';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from './types.js';

export interface LatchkeyOptions {
  /**
   * The `iss` of every token, normally the public origin of the app or service (`https://auth.example.com`).
   * Required: verification always checks it (RFC 8725 §3.8).
   */
  issuer: string;
  /** The `aud` of access tokens; verification always checks it. Default `'latchkey'`. */
  audience?: string | undefined;
  /**
   * The `aud` of ID (front) tokens. Default `'<audience>:front'`. Must differ from `audience`, so an ID
   * token can never pass as an access token.
   */
  idTokenAudience?: string | undefined;
  /** Put into access tokens as `client_id` (RFC 9068 §2.2) when set. Default: not set. */
  clientId?: string | undefined;
  /**
   * Where sessions, refresh-token hashes and keys live. Default: the embedded SQLite store at
   * `./.latchkey/latchkey.db`, loaded only when no store is given.
   */
  store?: SessionStore | undefined;
  /**
   * The master secret (at least 32 bytes) that encrypts signing keys at rest and derives refresh-token
   * successors. Default: read from `secretFile`, created on first run.
   */
  secret?: string | Uint8Array | undefined;
  /** Key file used when `secret` is not given; created with mode 0600. Default `./.latchkey/secret.key`. */
  secretFile?: string | undefined;
  /** Algorithm of newly generated signing keys. Default `'EdDSA'` (Ed25519: small, fast, no nonce pitfalls). */
  signingAlgorithm?: SigningAlgorithm | undefined;
  /** Access- and ID-token lifetime, seconds. Default 900 (15 min): the bound on how long a stolen access token works. */
  accessTokenTtl?: number | undefined;
  /** Leeway for `exp`, `nbf` and `iat`, seconds. Default 30: tolerates ordinary clock skew, no more. */
  clockTolerance?: number | undefined;
  /**
   * Seconds during which the immediate parent of the current refresh token may be presented again
   * (concurrent tabs, a lost response) without counting as theft. Default 30: the SDK's refresh
   * deadline plus one immediate retry fit inside it with margin, so a refresh whose answer was lost on
   * a bad network never becomes a theft alarm. Not unbounded, and not much longer: a long window lets
   * two holders of one token keep leapfrogging each other unnoticed (refresh/decide.ts). HTTP layers
   * send it as `X-Latchkey-Refresh-Grace` so clients can fit their schedule to it. 0 disables the grace.
   */
  refreshGrace?: number | undefined;
  /** A session not refreshed for this many seconds ends. Default 1 209 600 (14 days), sliding on refresh. */
  idleTimeout?: number | undefined;
  /** A session ends this many seconds after creation whatever happens. Default 7 776 000 (90 days). */
  absoluteTimeout?: number | undefined;
  /** How often signing keys rotate, seconds. Default 604 800 (7 days): a leaked key has a short life. */
  keyRotationInterval?: number | undefined;
  /**
   * How long before it signs a new key is published, seconds. Default 86 400 (1 day), capped at half
   * the rotation interval: longer than any sensible JWKS cache, so verifiers always have the key first.
   */
  keyPublishLead?: number | undefined;
  /** Largest access token accepted, bytes, checked before any decoding. Default 8192. */
  maxTokenBytes?: number | undefined;
  /**
   * Verified tokens remembered (by exact text) so repeat requests skip the signature check. Expiry and
   * revocation are still checked on every call. Default 10 000; 0 disables.
   */
  verifyCacheSize?: number | undefined;
  /**
   * Seconds between polls of the store for revocations made by other instances: the safety net under
   * the bus, and the only channel without one. Default 5; 0 disables.
   */
  revocationPollInterval?: number | undefined;
  /** Seconds between checks of the key schedule (and reloads of keys made by other instances). Default 60. */
  keyCheckInterval?: number | undefined;
  /**
   * Seconds between deletions of sessions (and their refresh-token chains) that ended longer ago than
   * any of their tokens can live. Default 3600: the tables stay small without a cron job. Idempotent,
   * so many instances running it is harmless. 0 disables (run `latchkey cleanup` yourself).
   */
  cleanupInterval?: number | undefined;
  /**
   * Where user API keys (`latchkey.apiKeys`) live. Default: `store`, when it keeps them (the memory,
   * SQLite and PostgreSQL stores all do); without one, `latchkey.apiKeys` methods throw.
   */
  apiKeyStore?: ApiKeyStore | undefined;
  /**
   * Verified API keys remembered (by id) so repeat requests skip the store. The presented key's hash,
   * revocation and expiry are still checked on every call. Default 10 000; 0 disables.
   */
  apiKeyCacheSize?: number | undefined;
  /**
   * Seconds between batched writes of API keys' last-use times. Default 60: "last used" needs no
   * more precision, and a write per request would cost more than the verification itself.
   */
  apiKeyLastUsedInterval?: number | undefined;
  /**
   * DPoP (RFC 9449): proof algorithms, the `jti` replay cache, server nonces. Binding itself needs no
   * option: a session created with a proof is bound, one created without is not. Default: every
   * {@link DpopOptions} default (in-memory replay cache, no nonces).
   */
  dpop?: DpopOptions | undefined;
  /**
   * Claim types the engine fetches (at sign-in, when the app did not give the value) and refetches
   * when stale (on refresh, and before a validator that finds them stale fails). Default: none; claims
   * set with `setClaimValue` work without registering them.
   */
  claims?: readonly SessionClaim[] | undefined;
  /** Lifecycle hooks (see {@link SessionHooks}: what each may change). Default: none. */
  hooks?: SessionHooks | undefined;
  /** Revocation fan-out between instances (e.g. Redis). Default: none. */
  bus?: RevocationBus | undefined;
  /** Source of time. Default: the system clock. For tests. */
  clock?: Clock | undefined;
  /** Start background timers (key schedule, revocation polling, cleanup). Default true; tests on a fake clock turn them off. */
  timers?: boolean | undefined;
}

/** Options after defaults, in milliseconds where the engine computes with time. */
export interface ResolvedSettings {
  issuer: string;
  audience: string;
  idTokenAudience: string;
  clientId: string | undefined;
  signingAlgorithm: SigningAlgorithm;
  accessTokenTtlSeconds: number;
  clockToleranceSeconds: number;
  refreshGraceMs: number;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  keyRotationIntervalMs: number;
  keyPublishLeadMs: number;
  maxTokenBytes: number;
  verifyCacheSize: number;
  apiKeyCacheSize: number;
  apiKeyLastUsedIntervalMs: number;
  revocationPollIntervalMs: number;
  keyCheckIntervalMs: number;
  cleanupIntervalMs: number;
}

const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

function seconds(name: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new TypeError(`latchkey option ${name} must be an integer from ${min} to ${max}`);
  }
  return v;
}

export function resolveSettings(options: LatchkeyOptions): ResolvedSettings {
  if (typeof options.issuer !== 'string' || options.issuer.length === 0) {
    throw new TypeError('latchkey option issuer is required');
  }
  const audience = options.audience ?? 'latchkey';
  const idTokenAudience = options.idTokenAudience ?? `${audience}:front`;
  if (idTokenAudience === audience) throw new TypeError('latchkey option idTokenAudience must differ from audience');
  const signingAlgorithm = options.signingAlgorithm ?? 'EdDSA';
  if (!SIGNING_ALGORITHMS.includes(signingAlgorithm)) {
    throw new TypeError(`latchkey option signingAlgorithm must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  }
  const keyRotationInterval = seconds('keyRotationInterval', options.keyRotationInterval, 604_800, 60);
  const keyPublishLead = Math.min(seconds('keyPublishLead', options.keyPublishLead, 86_400, 0), Math.floor(keyRotationInterval / 2));
  const idleTimeout = seconds('idleTimeout', options.idleTimeout, 1_209_600, 1);
  const absoluteTimeout = seconds('absoluteTimeout', options.absoluteTimeout, 7_776_000, 1);
  return {
    issuer: options.issuer,
    audience,
    idTokenAudience,
    clientId: options.clientId,
    signingAlgorithm,
    accessTokenTtlSeconds: seconds('accessTokenTtl', options.accessTokenTtl, 900, 1, 86_400),
    clockToleranceSeconds: seconds('clockTolerance', options.clockTolerance, 30, 0, 300),
    refreshGraceMs: seconds('refreshGrace', options.refreshGrace, 30, 0, 300) * 1000,
    idleTimeoutMs: idleTimeout * 1000,
    absoluteTimeoutMs: absoluteTimeout * 1000,
    keyRotationIntervalMs: keyRotationInterval * 1000,
    keyPublishLeadMs: keyPublishLead * 1000,
    maxTokenBytes: seconds('maxTokenBytes', options.maxTokenBytes, 8192, 256, 65_536),
    verifyCacheSize: seconds('verifyCacheSize', options.verifyCacheSize, 10_000, 0),
    apiKeyCacheSize: seconds('apiKeyCacheSize', options.apiKeyCacheSize, 10_000, 0),
    apiKeyLastUsedIntervalMs: seconds('apiKeyLastUsedInterval', options.apiKeyLastUsedInterval, 60, 1, MAX_TIMER_SECONDS) * 1000,
    // Timer periods stay below setInterval's 2^31 ms limit, past which Node fires every millisecond.
    revocationPollIntervalMs: seconds('revocationPollInterval', options.revocationPollInterval, 5, 0, MAX_TIMER_SECONDS) * 1000,
    keyCheckIntervalMs: seconds('keyCheckInterval', options.keyCheckInterval, 60, 1, MAX_TIMER_SECONDS) * 1000,
    cleanupIntervalMs: seconds('cleanupInterval', options.cleanupInterval, 3600, 0, MAX_TIMER_SECONDS) * 1000,
  };
}
