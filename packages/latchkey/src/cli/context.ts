/**
 * Opens what a command needs, from the same configuration as `serve`: the store alone (API keys,
 * migrations) or the engine over it (sessions, keys), and closes it all afterwards.
 *
 * An admin command never creates a store, a schema or a key file unless told to (`migrate`, or
 * `--init`). Why: run from the wrong folder, a relative `LATCHKEY_STORE` or `LATCHKEY_SECRET_FILE`
 * points at nothing, and creating a fresh, empty store there would answer "(none)" or "no active
 * session with that id" about a store the operator never meant, while the real one is untouched.
 * Every command also says which store it opened (stderr, or the `store` field of its JSON).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createLatchkey, type Latchkey } from '../engine.js';
import type { MigrationReport, ServiceSessionStore } from '../stores/types.js';
import { openBus, openStore } from '../service/backends.js';
import { ConfigError, engineOptionsFromConfig, loadServiceConfig, resolveIssuer, type ServiceConfig, type StoreConfig } from '../service/config.js';
import { withDeadline } from '../service/deadline.js';
import { checkSecretFitsStore } from '../service/secret-check.js';
import type { CliIo } from './io.js';
import type { OptionsConfig } from './command.js';

/** `--init`, accepted by every command that opens the store or the engine. */
export const INIT_OPTION: OptionsConfig = { init: { type: 'boolean' } };

/** Help text for `--init`. */
export const INIT_HELP = '--init creates the store, its schema and the key file when they do not exist yet (otherwise the command refuses, so that a run in the wrong folder cannot create a stray empty store).';

/** Which store a command opened, as printed: never a password. */
export interface StoreLocation {
  kind: StoreConfig['kind'];
  /** The SQLite file's absolute path, or the PostgreSQL URL without password or query. */
  location: string;
}

export function storeLocation(store: StoreConfig): StoreLocation {
  if (store.kind === 'sqlite') return { kind: 'sqlite', location: store.path === ':memory:' ? ':memory:' : resolve(store.path) };
  try {
    const url = new URL(store.connectionString);
    // A password may sit in the URL or in its query (`?password=`): neither is ever printed.
    url.password = '';
    url.search = '';
    return { kind: 'postgres', location: url.toString() };
  } catch {
    return { kind: 'postgres', location: '(connection string not shown)' };
  }
}

function uninitialised(where: StoreLocation, what: string): ConfigError {
  return new ConfigError(
    'LATCHKEY_STORE',
    `${what} at ${where.location}; run the command where the service runs (relative paths are read from the working directory), ` +
      'point LATCHKEY_STORE at its store, or pass --init to create one (`latchkey migrate` does too)',
  );
}

export interface AdminContextOptions {
  /** May create the store, its schema and the key file (`--init`, and `migrate` for the store). */
  init?: boolean;
  /** JSON output: the store is reported in the JSON (see {@link AdminContext.json}), not on stderr. */
  json?: boolean;
  /**
   * JSON output whose stdout shape is fixed by the contract (`service-keys create`), so the store
   * cannot go in it: it is named on stderr as a JSON `info` line instead, keeping stderr JSON-only.
   */
  jsonStoreNotice?: boolean;
}

/** How long a command waits for the store before exiting 69. */
const STORE_DEADLINE_MS = 10_000;

export interface AdminContext {
  config: ServiceConfig;
  /** Which store this context opens. */
  readonly where: StoreLocation;
  store(): Promise<ServiceSessionStore>;
  /** What opening the store migrated (undefined before `store()`, or when the store does not report). */
  migration(): MigrationReport | undefined;
  engine(): Promise<Latchkey>;
  /** `value` with the `store` field (kind and location) every admin command's JSON output carries. */
  json<T extends object>(value: T): T & { store: StoreLocation };
  close(): Promise<void>;
}

export function adminContext(io: CliIo, options: AdminContextOptions = {}): AdminContext {
  const config = loadServiceConfig(io.env);
  const where = storeLocation(config.store);
  const init = options.init === true;
  let store: Promise<ServiceSessionStore> | undefined;
  let engine: Promise<Latchkey> | undefined;
  let report: MigrationReport | undefined;
  const openMigrated = async () => {
    // SQLite creates a missing file on open: look before opening.
    if (!init && config.store.kind === 'sqlite' && config.store.path !== ':memory:' && !existsSync(config.store.path)) {
      throw uninitialised(where, 'no latchkey store');
    }
    const opened = await openStore(config.store);
    try {
      const notice = `${where.kind} store at ${where.location}`;
      if (options.jsonStoreNotice) io.stderr(`${JSON.stringify({ info: { code: 'STORE', message: notice, store: where } })}\n`);
      else if (!options.json) io.stderr(`latchkey: ${notice}\n`);
      if (!init && opened.schemaVersion !== undefined && (await withDeadline(opened.schemaVersion(), STORE_DEADLINE_MS)) === 0) {
        throw uninitialised(where, 'no latchkey schema in the store');
      }
      // Upgrades an existing schema (idempotent); creates one only with --init or `migrate`.
      report = (await withDeadline(opened.migrate(), STORE_DEADLINE_MS)) ?? undefined;
    } catch (err) {
      await opened.close().catch(() => {});
      throw err;
    }
    return opened;
  };
  const context: AdminContext = {
    config,
    where,
    store: () => (store ??= openMigrated()),
    migration: () => report,
    json: (value) => ({ ...value, store: where }),
    engine: () =>
      (engine ??= (async () => {
        const s = await context.store();
        await withDeadline(checkSecretFitsStore(s, config), STORE_DEADLINE_MS);
        // The engine would make a key file on first use: only when asked to (the store had no keys,
        // or checkSecretFitsStore would have refused above).
        if (!init && config.secret === undefined && !existsSync(config.secretFile)) {
          throw new ConfigError(
            'LATCHKEY_SECRET_FILE',
            `no key file at ${resolve(config.secretFile)}; run the command where the service runs, set LATCHKEY_SECRET_FILE or LATCHKEY_SECRET, or pass --init to create one`,
          );
        }
        const bus = await openBus(config.redisUrl, config.redisChannel);
        try {
          return await withDeadline(
            createLatchkey({
              ...engineOptionsFromConfig(config, resolveIssuer(config, config.port)),
              store: s,
              // A one-shot command: no background key schedule or revocation polling.
              timers: false,
              ...(bus ? { bus } : {}),
            }),
            STORE_DEADLINE_MS,
          );
        } catch (err) {
          await bus?.close().catch(() => {});
          throw err;
        }
      })()),
    async close() {
      const e = await engine?.catch(() => undefined);
      await e?.close();
      const s = await store?.catch(() => undefined);
      await s?.close();
    },
  };
  return context;
}
