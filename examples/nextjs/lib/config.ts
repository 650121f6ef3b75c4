/**
 * The example's settings, all from the environment, read when a request needs them (never at import,
 * so `next build` reads none and needs none).
 */

/** A required variable: a clear error at the first request that needs it, instead of a silent default. */
function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new TypeError(`examples/nextjs: set ${name} (see README.md)`);
  return value;
}

export const config = {
  /** The app's public origin: the tokens' issuer, and the origin the proxy fetches the JWKS and the feed from. */
  origin: () => required('APP_ORIGIN'),
  /** Signs the keys at rest; at least 32 bytes. From your secret store, never a file in the build. */
  secret: () => required('LATCHKEY_SECRET'),
  /** The bearer credential the proxy presents to the revocation feed (32+ printable characters, no spaces). */
  feedCredential: () => required('LATCHKEY_FEED_CREDENTIAL'),
  /** SQLite file for sessions, keys and users. Created at the first request, never at build. */
  database: () => process.env.LATCHKEY_DB ?? '.data/latchkey.db',
  /** Access-token lifetime, seconds (latchkey's default 300; the tests use 3 to see refreshes). */
  accessTokenTtl: () => Number(process.env.LATCHKEY_ACCESS_TTL ?? 300),
  /** How often the proxy polls the revocation feed, seconds: the proxy's revocation bound. */
  feedPollInterval: () => Number(process.env.LATCHKEY_FEED_POLL ?? 5),
  /**
   * Seconds between the engine's polls of the store for revocations made by other processes: the
   * safety net under the bus, and the only channel between processes without one (latchkey's
   * default 5; 0 turns it off, leaving the bus alone, as the two-process test does to prove the bus).
   */
  revocationPollInterval: () => Number(process.env.LATCHKEY_REVOCATION_POLL ?? 5),
  /** Redis for the revocation bus between processes (several `next start`s); none for one process. */
  redisUrl: () => process.env.LATCHKEY_REDIS_URL,
};
