/**
 * Service configuration: flags and environment variables (flags win) turned into one validated
 * object. Every bad value stops start-up with a message that names the variable, because a service
 * that starts on a silently ignored setting (a typo'd TTL, a store URL it cannot use) is worse than
 * one that refuses to start.
 */
import { isSentinelUrl, parseSentinelUrl, SENTINEL_SCHEME } from '../revocation/redis-url.js';
import { parseHostList } from '../stores/postgres/host-list.js';
import type { LatchkeyOptions } from '../options.js';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../types.js';

/** A configuration value was refused. `variable` names the environment variable or flag. */
export class ConfigError extends Error {
  readonly variable: string;

  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

/** Where sessions live. */
export type StoreConfig =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; connectionString: string; transactionPooler?: true };

export interface ServiceConfig {
  /** `PORT` / `--port`. Default 4100. 0 picks a free port. */
  port: number;
  /** `HOST` / `--host`. Default `127.0.0.1`: never exposed beyond the machine unless asked. */
  host: string;
  /** `LATCHKEY_STORE`. Default `sqlite:./.latchkey/latchkey.db`. */
  store: StoreConfig;
  /** `LATCHKEY_REDIS_URL`: revocation fan-out between instances. Default none (store polling only). */
  redisUrl: string | undefined;
  /**
   * `LATCHKEY_REDIS_CHANNEL`: the pub/sub channel; every instance of one deployment must share it,
   * and deployments sharing one Redis must not. Default: the bus's own (`latchkey:revocations`).
   */
  redisChannel: string | undefined;
  /** `LATCHKEY_SECRET`: the master secret. Default: read from `secretFile`. */
  secret: string | undefined;
  /** `LATCHKEY_SECRET_FILE`: key file made on first run, mode 0600. Default `.latchkey/secret.key`. */
  secretFile: string;
  /**
   * Service keys accepted besides those stored: `LATCHKEY_SERVICE_KEYS` and (its name before v1.1 of
   * the contract, still read) `LATCHKEY_API_KEYS`, both comma-separated. Default none.
   */
  apiKeys: string[];
  /** `LATCHKEY_ISSUER`. Default `http://<host>:<port>` (after binding, so port 0 gets the real port). */
  issuer: string | undefined;
  /**
   * `LATCHKEY_RESET_ISSUER=1`: replace the issuer recorded in a shared store with `LATCHKEY_ISSUER`
   * (which it requires). Default off: a mismatch refuses to start, since a changed issuer makes every
   * token already issued fail (`claim "iss" is invalid`) and splits a fleet half-way through a deploy.
   */
  resetIssuer: boolean;
  /** `LATCHKEY_AUDIENCE`. Default `latchkey`. */
  audience: string;
  /** `LATCHKEY_SIGNING_ALG`. Default `EdDSA`. */
  signingAlgorithm: SigningAlgorithm;
  /** `LATCHKEY_ACCESS_TTL`, seconds. Default 900. */
  accessTokenTtl: number;
  /** `LATCHKEY_CLOCK_TOLERANCE`, seconds. Default 30. */
  clockTolerance: number;
  /** `LATCHKEY_REFRESH_GRACE`, seconds. Default 30 (v1.1 of the contract; was 10): see the engine's `refreshGrace`. */
  refreshGrace: number;
  /** `LATCHKEY_IDLE_TIMEOUT`, seconds. Default 1 209 600 (14 days). */
  idleTimeout: number;
  /** `LATCHKEY_ABSOLUTE_TIMEOUT`, seconds. Default 7 776 000 (90 days). */
  absoluteTimeout: number;
  /** `LATCHKEY_BODY_LIMIT`, bytes. Default 65 536: no legitimate body comes near it. */
  bodyLimit: number;
  /**
   * `LATCHKEY_SERVICE_KEY_CACHE_MS`: how long a stored service key, once found, is trusted without
   * reading the store again. Default 1000: the bound on refusing a key revoked by another process
   * when the bus did not carry the news (with the bus it is refused on receipt). 0: no cache.
   */
  serviceKeyCacheMs: number;
  /**
   * `LATCHKEY_SHUTDOWN_TIMEOUT`, seconds. Default 10: how long a graceful shutdown waits for
   * in-flight requests before cutting connections.
   */
  shutdownTimeout: number;
  /**
   * `LATCHKEY_AUDIT_RETENTION_DAYS`: audit events older than this are deleted by the hourly cleanup.
   * Default 90: a quarter, long enough for most incident reviews, short enough not to keep IPs forever.
   */
  auditRetentionDays: number;
  /**
   * `LATCHKEY_ADMIN_CONSOLE`: `on` serves the admin console at `/admin` (docs/admin.md), `off` does not.
   * Default on: signing in needs a one-time link that only `latchkey admin login`, run with the store
   * and the master secret, can make, so the console adds no way in; `off` for a service that must
   * expose nothing but the API.
   */
  adminConsole: boolean;
  /** Accepted but unwise settings, logged at start-up. */
  warnings: string[];
}

/** Flags that override environment variables. */
export interface ConfigFlags {
  port?: string;
  host?: string;
}

/** The environment variables the service reads, with their meaning, for `--help` and the docs. */
export const ENVIRONMENT_VARIABLES: ReadonlyArray<{ name: string; meaning: string; fallback: string }> = [
  { name: 'PORT', meaning: 'port to listen on (flag --port wins)', fallback: '4100' },
  { name: 'HOST', meaning: 'address to listen on (flag --host wins)', fallback: '127.0.0.1' },
  { name: 'LATCHKEY_STORE', meaning: '`sqlite:<path>` or a `postgres://` URL', fallback: 'sqlite:./.latchkey/latchkey.db' },
  { name: 'LATCHKEY_STORE_POOLER', meaning: '`transaction` when LATCHKEY_STORE goes through a transaction-mode pooler (PgBouncer)', fallback: 'none (a direct connection)' },
  { name: 'LATCHKEY_REDIS_URL', meaning: 'Redis for revocation fan-out between instances (`redis://`, `rediss://`, `redis+sentinel://s1:26379,s2:26379/<primary>`)', fallback: 'none' },
  { name: 'LATCHKEY_REDIS_CHANNEL', meaning: 'Redis pub/sub channel (one per deployment sharing a Redis)', fallback: 'latchkey:revocations' },
  { name: 'LATCHKEY_SECRET', meaning: 'master secret (>= 32 bytes) that encrypts signing keys at rest', fallback: 'key file, made on first run' },
  { name: 'LATCHKEY_SECRET_FILE', meaning: 'key file used when LATCHKEY_SECRET is not set (mode 0600)', fallback: '.latchkey/secret.key' },
  { name: 'LATCHKEY_SERVICE_KEYS', meaning: 'comma-separated service keys accepted besides those made with `latchkey service-keys create`', fallback: 'none' },
  { name: 'LATCHKEY_API_KEYS', meaning: 'the name of LATCHKEY_SERVICE_KEYS before v1.1; still read, beside it', fallback: 'none' },
  { name: 'LATCHKEY_ISSUER', meaning: '`iss` of every token', fallback: 'http://<host>:<port>' },
  { name: 'LATCHKEY_RESET_ISSUER', meaning: '`1` to replace the issuer recorded in a shared (PostgreSQL) store with LATCHKEY_ISSUER, deliberately', fallback: 'off (a different issuer refuses to start)' },
  { name: 'LATCHKEY_AUDIENCE', meaning: '`aud` of access tokens', fallback: 'latchkey' },
  { name: 'LATCHKEY_SIGNING_ALG', meaning: '`EdDSA`, `ES256` or `RS256`', fallback: 'EdDSA' },
  { name: 'LATCHKEY_ACCESS_TTL', meaning: 'access-token lifetime, seconds', fallback: '900' },
  { name: 'LATCHKEY_CLOCK_TOLERANCE', meaning: 'leeway for exp/nbf/iat, seconds', fallback: '30' },
  { name: 'LATCHKEY_REFRESH_GRACE', meaning: 'seconds a just-rotated refresh token may be presented again', fallback: '30' },
  { name: 'LATCHKEY_IDLE_TIMEOUT', meaning: 'session idle lifetime, seconds', fallback: '1209600' },
  { name: 'LATCHKEY_ABSOLUTE_TIMEOUT', meaning: 'session absolute lifetime, seconds', fallback: '7776000' },
  { name: 'LATCHKEY_BODY_LIMIT', meaning: 'largest request body, bytes', fallback: '65536' },
  { name: 'LATCHKEY_AUDIT_RETENTION_DAYS', meaning: 'days the audit log keeps events (deleted by the hourly cleanup)', fallback: '90' },
  { name: 'LATCHKEY_ADMIN_CONSOLE', meaning: 'on: serve the admin console at /admin (docs/admin.md); off: do not', fallback: 'on' },
  { name: 'LATCHKEY_SERVICE_KEY_CACHE_MS', meaning: 'how long a stored service key is trusted without a store read, ms (revocation bound without the bus; 0: no cache)', fallback: '1000' },
  { name: 'LATCHKEY_SHUTDOWN_TIMEOUT', meaning: 'seconds a graceful shutdown waits for in-flight requests', fallback: '10' },
];

type Env = Readonly<Record<string, string | undefined>>;

function text(env: Env, name: string): string | undefined {
  const value = env[name];
  // An empty variable is treated as unset: `FOO= cmd` is how shells clear things.
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function onOff(variable: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined) return fallback;
  if (raw === 'on') return true;
  if (raw === 'off') return false;
  throw new ConfigError(variable, "must be on or off");
}

function integer(variable: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(variable, `must be a whole number from ${min} to ${max}`);
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(variable, `must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function parseStore(raw: string | undefined): StoreConfig {
  const value = raw ?? 'sqlite:./.latchkey/latchkey.db';
  if (value.startsWith('sqlite:')) {
    const path = value.slice('sqlite:'.length);
    if (path === '') throw new ConfigError('LATCHKEY_STORE', 'sqlite: needs a file path, e.g. sqlite:./.latchkey/latchkey.db');
    return { kind: 'sqlite', path };
  }
  if (/^postgres(ql)?:\/\//.test(value)) {
    try {
      // Not URL(): a multi-host string (db1:5432,db2:5432, for failover) is valid and no WHATWG URL.
      parseHostList(value);
    } catch (err) {
      throw new ConfigError('LATCHKEY_STORE', `is not a valid postgres:// URL (${(err as Error).message.replace(/^postgres connection string:? ?/, '')})`);
    }
    return { kind: 'postgres', connectionString: value };
  }
  // Never echo the value: it may be a URL with a password in it.
  throw new ConfigError('LATCHKEY_STORE', 'must be sqlite:<path> or a postgres:// URL');
}

/**
 * `LATCHKEY_STORE_POOLER=transaction`: the store connects through PgBouncer in transaction mode (or
 * another transaction pooler), so no session settings are sent (see PostgresStoreOptions.transactionPooler).
 */
function withPooler(store: StoreConfig, raw: string | undefined): StoreConfig {
  if (raw === undefined) return store;
  if (raw !== 'transaction') throw new ConfigError('LATCHKEY_STORE_POOLER', 'must be transaction (or unset for a direct connection)');
  if (store.kind !== 'postgres') throw new ConfigError('LATCHKEY_STORE_POOLER', 'applies to a postgres:// LATCHKEY_STORE only');
  return { ...store, transactionPooler: true };
}

function parseUrl(variable: string, raw: string | undefined, protocols: string[]): string | undefined {
  if (raw === undefined) return undefined;
  if (protocols.includes(SENTINEL_SCHEME) && isSentinelUrl(raw)) {
    // Not URL(): a list of Sentinels (s1:26379,s2:26379) is no WHATWG URL.
    try {
      parseSentinelUrl(raw);
    } catch (err) {
      throw new ConfigError(variable, `is not a valid redis+sentinel URL (${(err as Error).message.replace(/^redis\+sentinel URL /, '')})`);
    }
    return raw;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(variable, 'is not a valid URL');
  }
  if (!protocols.includes(url.protocol)) throw new ConfigError(variable, `must use ${protocols.map((p) => `${p}//`).join(' or ')}`);
  return raw;
}

function redisChannel(raw: string | undefined): string | undefined {
  if (raw !== undefined && !/^[\x21-\x7e]{1,200}$/.test(raw)) throw new ConfigError('LATCHKEY_REDIS_CHANNEL', 'must be 1-200 printable characters without spaces');
  return raw;
}

/**
 * Reads the configuration. Throws {@link ConfigError} naming the first bad variable.
 *
 * @example
 * const config = loadServiceConfig(process.env, { port: '4200' });
 */
export function loadServiceConfig(env: Env = process.env, flags: ConfigFlags = {}): ServiceConfig {
  const port = integer(flags.port !== undefined ? '--port' : 'PORT', flags.port ?? text(env, 'PORT'), 4100, 0, 65_535);
  const host = flags.host ?? text(env, 'HOST') ?? '127.0.0.1';
  if (host.length === 0 || /[\s/]/.test(host)) throw new ConfigError(flags.host !== undefined ? '--host' : 'HOST', 'must be a host name or an IP address');

  const secret = text(env, 'LATCHKEY_SECRET');
  if (secret !== undefined && Buffer.byteLength(secret) < 32) throw new ConfigError('LATCHKEY_SECRET', 'must be at least 32 bytes');

  const warnings: string[] = [];
  // Service keys: the v1.1 name and the v1 name are both read (contract v1.1, "Service keys").
  const apiKeys: string[] = [];
  for (const variable of ['LATCHKEY_SERVICE_KEYS', 'LATCHKEY_API_KEYS']) {
    const raw = text(env, variable);
    const keys = raw === undefined ? [] : raw.split(',').map((k) => k.trim()).filter((k) => k.length > 0);
    keys.forEach((key, i) => {
      // Say which position is wrong, never the key.
      if (!/^[\x21-\x7e]+$/.test(key)) throw new ConfigError(variable, `key #${i + 1} has characters that cannot travel in an HTTP header`);
      if (key.length > 512) throw new ConfigError(variable, `key #${i + 1} is longer than 512 characters`);
      // Accepted (the contract sets no minimum, and test set-ups use short keys) but flagged: a short
      // key can be guessed over the network.
      if (key.length < 32) warnings.push(`${variable}: key #${i + 1} is shorter than 32 characters; prefer keys from \`latchkey service-keys create\``);
    });
    apiKeys.push(...keys);
  }

  const issuer = parseUrl('LATCHKEY_ISSUER', text(env, 'LATCHKEY_ISSUER'), ['http:', 'https:']);
  const resetRaw = text(env, 'LATCHKEY_RESET_ISSUER');
  if (resetRaw !== undefined && resetRaw !== '1' && resetRaw !== '0') throw new ConfigError('LATCHKEY_RESET_ISSUER', 'must be 1 or 0');
  const resetIssuer = resetRaw === '1';
  // Resetting to a per-instance default would just move the split: the new issuer must be explicit.
  if (resetIssuer && issuer === undefined) throw new ConfigError('LATCHKEY_RESET_ISSUER', 'needs LATCHKEY_ISSUER set to the new issuer');
  const alg = text(env, 'LATCHKEY_SIGNING_ALG') ?? 'EdDSA';
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new ConfigError('LATCHKEY_SIGNING_ALG', `must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  }
  const audience = text(env, 'LATCHKEY_AUDIENCE') ?? 'latchkey';

  return {
    port,
    host,
    store: withPooler(parseStore(text(env, 'LATCHKEY_STORE')), text(env, 'LATCHKEY_STORE_POOLER')),
    redisUrl: parseUrl('LATCHKEY_REDIS_URL', text(env, 'LATCHKEY_REDIS_URL'), ['redis:', 'rediss:', SENTINEL_SCHEME]),
    redisChannel: redisChannel(text(env, 'LATCHKEY_REDIS_CHANNEL')),
    secret,
    secretFile: text(env, 'LATCHKEY_SECRET_FILE') ?? '.latchkey/secret.key',
    apiKeys,
    issuer,
    resetIssuer,
    audience,
    signingAlgorithm: alg as SigningAlgorithm,
    // Ranges match the engine's, so a bad value is reported here under its variable name.
    accessTokenTtl: integer('LATCHKEY_ACCESS_TTL', text(env, 'LATCHKEY_ACCESS_TTL'), 900, 1, 86_400),
    clockTolerance: integer('LATCHKEY_CLOCK_TOLERANCE', text(env, 'LATCHKEY_CLOCK_TOLERANCE'), 30, 0, 300),
    refreshGrace: integer('LATCHKEY_REFRESH_GRACE', text(env, 'LATCHKEY_REFRESH_GRACE'), 30, 0, 300),
    idleTimeout: integer('LATCHKEY_IDLE_TIMEOUT', text(env, 'LATCHKEY_IDLE_TIMEOUT'), 1_209_600, 1, Number.MAX_SAFE_INTEGER),
    absoluteTimeout: integer('LATCHKEY_ABSOLUTE_TIMEOUT', text(env, 'LATCHKEY_ABSOLUTE_TIMEOUT'), 7_776_000, 1, Number.MAX_SAFE_INTEGER),
    bodyLimit: integer('LATCHKEY_BODY_LIMIT', text(env, 'LATCHKEY_BODY_LIMIT'), 65_536, 1024, 16 * 1024 * 1024),
    auditRetentionDays: integer('LATCHKEY_AUDIT_RETENTION_DAYS', text(env, 'LATCHKEY_AUDIT_RETENTION_DAYS'), 90, 1, 36_500),
    adminConsole: onOff('LATCHKEY_ADMIN_CONSOLE', text(env, 'LATCHKEY_ADMIN_CONSOLE'), true),
    serviceKeyCacheMs: integer('LATCHKEY_SERVICE_KEY_CACHE_MS', text(env, 'LATCHKEY_SERVICE_KEY_CACHE_MS'), 1_000, 0, 60_000),
    warnings,
    shutdownTimeout: integer('LATCHKEY_SHUTDOWN_TIMEOUT', text(env, 'LATCHKEY_SHUTDOWN_TIMEOUT'), 10, 0, 3600),
  };
}

/** The issuer to use once the listening port is known. */
export function resolveIssuer(config: ServiceConfig, port: number): string {
  if (config.issuer) return config.issuer;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${port}`;
}

/** The engine options the configuration determines (store and bus are opened separately). */
export function engineOptionsFromConfig(config: ServiceConfig, issuer: string): Omit<LatchkeyOptions, 'store' | 'bus'> {
  return {
    issuer,
    audience: config.audience,
    ...(config.secret !== undefined ? { secret: config.secret } : { secretFile: config.secretFile }),
    signingAlgorithm: config.signingAlgorithm,
    accessTokenTtl: config.accessTokenTtl,
    clockTolerance: config.clockTolerance,
    refreshGrace: config.refreshGrace,
    idleTimeout: config.idleTimeout,
    absoluteTimeout: config.absoluteTimeout,
  };
}
