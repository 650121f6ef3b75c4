/**
 * One latchkey engine per process, shared by route handlers and server components.
 *
 * Why a lazy singleton on `globalThis`: Next.js bundles route handlers, pages and the proxy into
 * separate module graphs, so a module-level `const engine = ...` would give each its own engine, and
 * a sign-out through one (its denylist) would not be seen by the others for seconds. `globalThis` is
 * the one object they share in a process. Created by the first request that needs it, never at import:
 * `next build` imports these modules and must open no database and connect to nothing.
 *
 * Between processes, revocations travel on the bus (Redis, when LATCHKEY_REDIS_URL is set), the same
 * mechanism as any fleet of latchkey instances. The proxy runs the edge verifier instead (proxy.ts).
 */
import type { Latchkey } from 'latchkey';
import type { LatchkeyHttp } from 'latchkey/http';
import { config } from './config';

export interface Auth {
  engine: Latchkey;
  http: LatchkeyHttp;
}

const KEY = Symbol.for('latchkey.examples.nextjs.auth');
type Holder = { [KEY]?: Promise<Auth> };

export function getAuth(): Promise<Auth> {
  const holder = globalThis as Holder;
  // A failed start is not cached: the next request tries again (the database may come back).
  return (holder[KEY] ??= start().catch((error: unknown) => {
    delete holder[KEY];
    throw error;
  }));
}

async function start(): Promise<Auth> {
  // Imported here, not at the top: the build never loads the SQLite driver or the Redis client.
  const [{ createLatchkey }, { sqliteStore }, { createLatchkeyHttp }, { mkdirSync }, { dirname }] = await Promise.all([
    import('latchkey'),
    import('latchkey/stores/sqlite'),
    import('latchkey/http'),
    import('node:fs'),
    import('node:path'),
  ]);
  const path = config.database();
  mkdirSync(dirname(path), { recursive: true });
  const redisUrl = config.redisUrl();
  const bus = redisUrl ? (await import('latchkey/revocation/redis')).redisBus({ url: redisUrl }) : undefined;
  const engine = await createLatchkey({
    issuer: config.origin(),
    store: sqliteStore({ path }),
    secret: config.secret(),
    accessTokenTtl: config.accessTokenTtl(),
    revocationPollInterval: config.revocationPollInterval(),
    ...(bus ? { bus } : {}),
  });
  const http = createLatchkeyHttp(engine, { revocationFeed: { credentials: [config.feedCredential()] } });
  return { engine, http };
}
