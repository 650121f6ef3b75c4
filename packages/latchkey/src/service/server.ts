/**
 * Runs the service: opens the store and bus, starts the engine, listens, and shuts down gracefully.
 *
 * Graceful shutdown (SIGTERM/SIGINT in the CLI, `close()` here): stop accepting connections; answer
 * any request that arrives on an open keep-alive connection with 503 `SHUTTING_DOWN` and
 * `Connection: close`; let in-flight requests finish (each store change is atomic, so none is left
 * half done); then close the engine (timers, bus) and the store. After `shutdownTimeout` seconds the
 * remaining connections are cut.
 */
import type { Server } from 'node:http';
import { isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import { AuditRecorder } from '../audit/recorder.js';
import { MemoryAuditStore } from '../audit/memory.js';
import type { AuditStore } from '../audit/types.js';
import { createLatchkey, type Latchkey } from '../engine.js';
import { secretFromFile } from '../keys/secret.js';
import type { LatchkeyOptions } from '../options.js';
import type { DpopReplayCache } from '../dpop/replay.js';
import type { RevocationBus } from '../revocation/bus.js';
import type { ServiceSessionStore } from '../stores/types.js';
import { createAdminConsole } from './admin/console.js';
import { ServiceKeyChecker } from './api-keys.js';
import { createServiceApp } from './app.js';
import { openAuditStore, openBus, openDpopReplayCache, openStore, type OpenedAuditStore } from './backends.js';
import { engineOptionsFromConfig, resolveIssuer, type ServiceConfig } from './config.js';
import { withDeadline } from './deadline.js';
import { ServiceError } from './errors.js';
import { checkIssuerFitsStore } from './issuer-check.js';
import { checkSecretFitsStore } from './secret-check.js';
import { jsonLogger, type Logger } from './logger.js';
import { ServiceMetrics } from './metrics.js';

/** Start-up may take this long to reach the store before giving up with `STORE_UNAVAILABLE`. */
const STARTUP_DEADLINE_MS = 15_000;

export interface StartServiceOptions {
  config: ServiceConfig;
  /** Default: JSON lines on stdout. */
  logger?: Logger;
  /** Use this store instead of the configured one; the caller keeps ownership (it is not closed). */
  store?: ServiceSessionStore;
  /**
   * The audit log's store; the caller keeps ownership. Default: a table in the configured store's
   * database, or, when `store` is given, an in-memory audit store.
   */
  auditStore?: AuditStore;
  /** Extra engine options (a test clock, timers off). Config values win for what they cover. */
  engineOptions?: Partial<LatchkeyOptions>;
  /** Default process metrics (CPU, memory, event loop). Default true. */
  defaultMetrics?: boolean;
}

export interface RunningService {
  /** Base URL, e.g. `http://127.0.0.1:4100`. */
  url: string;
  port: number;
  engine: Latchkey;
  /** Writes the engine's events to the audit log in batches (`flush()` writes what is buffered now). */
  audit: AuditRecorder;
  /**
   * The store the service runs on (the configured one, or `options.store`), for admin work the engine
   * does not do, such as service keys. Change sessions through `engine`: a write straight to the store
   * bypasses its denylist and the revocation bus.
   */
  store: ServiceSessionStore;
  app: Hono<{ Variables: { route: string } }>;
  server: Server;
  /**
   * The service-key check of this instance. Revoke a stored key through its `revoke` to have it
   * refused here from the next request on and announced on the bus; a key revoked in the store by
   * another process (the CLI) is refused when the bus says so, or within its cache TTL (1 s).
   */
  serviceKeys: ServiceKeyChecker;
  /** Graceful shutdown; resolves when everything is closed. Idempotent. */
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Starts the service. Requests that arrive while the engine is still starting wait for it.
 *
 * @example
 * const service = await startService({ config: loadServiceConfig() });
 * process.once('SIGTERM', () => void service.close());
 */
export async function startService(options: StartServiceOptions): Promise<RunningService> {
  const { config } = options;
  const logger = options.logger ?? jsonLogger();
  const metrics = new ServiceMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  let draining = false;

  let resolveApp!: (app: Hono<{ Variables: { route: string } }>) => void;
  const appReady = new Promise<Hono<{ Variables: { route: string } }>>((resolve) => (resolveApp = resolve));
  // The node-server env (the raw request and its socket) is passed on: the admin console reads the
  // client's address from it (getConnInfo).
  const server = createAdaptorServer({ fetch: async (request: Request, env: unknown) => (await appReady).fetch(request, env) }) as Server;
  // Slow-loris bounds: a client gets this long to send headers and a whole request.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const port = await listen(server, config.port, config.host);
  const issuer = resolveIssuer(config, port);

  const ownsStore = options.store === undefined;
  let store: ServiceSessionStore | undefined;
  let engine: Latchkey | undefined;
  let bus: RevocationBus | undefined;
  let replayCache: DpopReplayCache | undefined;
  let audit: OpenedAuditStore | undefined;
  try {
    store = options.store ?? (await openStore(config.store));
    await withDeadline(checkSecretFitsStore(store, config), STARTUP_DEADLINE_MS);
    await withDeadline(checkIssuerFitsStore(store, config, issuer, logger), STARTUP_DEADLINE_MS);
    if (options.auditStore) audit = { store: options.auditStore, close: () => Promise.resolve() };
    else if (options.store) {
      const memory = new MemoryAuditStore();
      audit = { store: memory, close: () => memory.close() };
    } else audit = await openAuditStore(config.store);
    await withDeadline(audit.store.migrate(), STARTUP_DEADLINE_MS);
    bus = await openBus(config.redisUrl, config.redisChannel);
    replayCache = await openDpopReplayCache(config.redisUrl);
    const engineOptions = options.engineOptions;
    engine = await withDeadline(
      createLatchkey({
        ...engineOptions,
        ...engineOptionsFromConfig(config, issuer),
        store,
        ...(bus ? { bus } : {}),
        ...(replayCache && engineOptions?.dpop?.replayCache === undefined ? { dpop: { ...engineOptions?.dpop, replayCache } } : {}),
      }),
      STARTUP_DEADLINE_MS,
    );
  } catch (err) {
    // Anyone who connected while we were starting gets a clean 503, then every socket is closed.
    const failed = new Hono<{ Variables: { route: string } }>();
    failed.all('*', (c) => c.json(new ServiceError(503, 'STORE_UNAVAILABLE', 'the service failed to start').body(), 503));
    resolveApp(failed);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 1_000).unref();
    await closed;
    await bus?.close().catch(() => {});
    await replayCache?.close?.().catch(() => {});
    await audit?.close().catch(() => {});
    if (ownsStore) await store?.close().catch(() => {});
    throw err;
  }
  const running = engine;
  running.on('error', ({ error, during }) => logger.log('error', 'engine error', { during, err: error }));
  // Ids and the kind of replay only, never a token: `parent-after-grace` with a small msSinceRotation
  // is likely a client retrying far too late; `rotated-out-replay` is two holders of one chain.
  running.on('session.theft_detected', ({ sessionId, userId, reason, msSinceRotation }) =>
    logger.log('warn', 'refresh token theft detected; session revoked', { sessionId, userId, reason, msSinceRotation }),
  );
  metrics.attach(running);
  const liveBus = bus;
  const serviceKeys = new ServiceKeyChecker(store, config.apiKeys, {
    cacheTtlMs: config.serviceKeyCacheMs,
    ...(liveBus ? { announce: (keyIds: string[]) => liveBus.publish({ type: 'service-keys-changed', keyIds }) } : {}),
  });
  // Another instance (or the CLI) revoked service keys, or the bus reconnected: forget them here at once.
  running.on('service_key.changed', ({ keyIds }) => serviceKeys.invalidate(keyIds));
  const auditStore = audit;
  // Retention runs with the engine's hourly cleanup (the recorder registers with it).
  const recorder = new AuditRecorder({
    store: auditStore.store,
    source: running,
    retentionDays: config.auditRetentionDays,
    ...(options.engineOptions?.clock ? { clock: options.engineOptions.clock } : {}),
    onError: (error, during) => logger.log('error', 'audit log', { during, err: error }),
  });
  const app = createServiceApp({
    engine: running,
    audit: auditStore.store,
    apiKeys: serviceKeys,
    metrics,
    logger,
    bodyLimit: config.bodyLimit,
    isDraining: () => draining,
  });
  if (config.adminConsole) {
    // The admin console (docs/admin.md) at /admin: sign-in by one-time link from `latchkey admin login`.
    const pingable = liveBus as (RevocationBus & { ping?: () => Promise<void> }) | undefined;
    const adminConsole = createAdminConsole({
      engine: running,
      // The engine has read or created the key file by now; the console derives its own key from it.
      secret: config.secret ?? secretFromFile(config.secretFile),
      audit: { store: auditStore.store, recorder },
      store,
      onError: (err) => logger.log('error', 'admin console', { err }),
      ...(pingable?.ping ? { health: { redis: () => pingable.ping!() } } : {}),
      clientIp: (c) => {
        try {
          const address = getConnInfo(c).remote.address;
          return address !== undefined && isIP(address) !== 0 ? address : undefined;
        } catch {
          // Not served by node-server (an in-process app.request()): no address to record.
          return undefined;
        }
      },
    });
    const toConsole = (c: Context<{ Variables: { route: string } }>) => {
      c.set('route', '/admin');
      return adminConsole.fetch(c.req.raw, c.env);
    };
    app.all('/admin', toConsole);
    app.all('/admin/*', toConsole);
  }
  resolveApp(app);
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  for (const warning of config.warnings) logger.log('warn', 'configuration', { warning });
  logger.log('info', 'listening', { url, issuer, store: config.store.kind, redis: config.redisUrl !== undefined });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      draining = true;
      logger.log('info', 'shutting down', {});
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive connections would hold close() open; busy ones close after their response.
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), config.shutdownTimeout * 1000);
      await closed;
      clearInterval(sweep);
      clearTimeout(cut);
      // The buffered events are written before the engine and the stores go.
      await recorder.close();
      await running.close();
      await auditStore.close();
      if (ownsStore) await store.close();
      logger.log('info', 'stopped', {});
    })());

  return { url, port, engine: running, audit: recorder, store, app, server, serviceKeys, close };
}

