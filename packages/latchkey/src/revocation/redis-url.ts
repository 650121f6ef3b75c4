/**
 * The `redis+sentinel://` URL form, for configurations that carry one string (LATCHKEY_REDIS_URL):
 *
 *   redis+sentinel://[[username]:password@]sentinel1:26379[,sentinel2:26379,...]/<primary-name>[/<db>]
 *
 * The hosts are Sentinels, not Redis servers: the client asks them which server is the primary of
 * `<primary-name>` (as in `sentinel monitor <primary-name> ...`), connects there, and asks again
 * after a failover. The user and password are those of the Redis servers (AUTH); Sentinels that
 * need a password of their own, or TLS, are configured through `redisOptions` (`sentinelPassword`,
 * `sentinelTLS`, `enableTLSForSentinelMode`). Read without loading ioredis, so the service's
 * configuration check can use it.
 */

export interface SentinelTarget {
  sentinels: Array<{ host: string; port: number }>;
  name: string;
  username?: string;
  password?: string;
  db?: number;
}

export const SENTINEL_SCHEME = 'redis+sentinel:';

/** Whether `url` uses the Sentinel form. */
export function isSentinelUrl(url: string): boolean {
  return url.toLowerCase().startsWith(`${SENTINEL_SCHEME}//`);
}

/** Parses a `redis+sentinel://` URL. Throws TypeError on a malformed one, never echoing it (it may hold a password). */
export function parseSentinelUrl(url: string): SentinelTarget {
  const m = /^redis\+sentinel:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+)\/([^/?#]+)(?:\/(\d{1,2}))?\/?$/i.exec(url);
  if (!m) throw new TypeError('redis+sentinel URL must look like redis+sentinel://[user:password@]host:port[,host:port...]/primary-name[/db]');
  const [, user, password, hostList, name, db] = m;
  const sentinels = hostList!.split(',').map((item) => {
    const hp = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(item);
    const port = hp?.[2] === undefined ? 26379 : Number(hp[2]);
    if (!hp || port < 1 || port > 65535) throw new TypeError('redis+sentinel URL has a malformed Sentinel host list (host:port,host:port,...)');
    return { host: hp[1]!.replace(/^\[|\]$/g, ''), port };
  });
  const decode = (v: string | undefined) => (v === undefined || v === '' ? undefined : decodeURIComponent(v));
  const target: SentinelTarget = { sentinels, name: decodeURIComponent(name!) };
  const username = decode(user);
  const pass = decode(password);
  if (username !== undefined) target.username = username;
  if (pass !== undefined) target.password = pass;
  if (db !== undefined) target.db = Number(db);
  return target;
}
