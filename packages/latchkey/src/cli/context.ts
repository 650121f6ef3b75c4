/**
 * Opens what a command needs, from the same configuration as `serve`: the store alone (API keys,
 * migrations) or the engine over it (sessions, keys), and closes it all afterwards.
 */
import { createLatchkey, type Latchkey } from '../engine.js';
import type { SessionStore } from '../stores/types.js';
import { openBus, openStore } from '../service/backends.js';
import { engineOptionsFromConfig, loadServiceConfig, resolveIssuer, type ServiceConfig } from '../service/config.js';
import { withDeadline } from '../service/deadline.js';
import { checkSecretFitsStore } from '../service/secret-check.js';

/** How long a command waits for the store before exiting 69. */
const STORE_DEADLINE_MS = 10_000;

export interface AdminContext {
  config: ServiceConfig;
  store(): Promise<SessionStore>;
  engine(): Promise<Latchkey>;
  close(): Promise<void>;
}

export function adminContext(env: Readonly<Record<string, string | undefined>>): AdminContext {
  const config = loadServiceConfig(env);
  let store: Promise<SessionStore> | undefined;
  let engine: Promise<Latchkey> | undefined;
  const openMigrated = async () => {
    const opened = await openStore(config.store);
    try {
      // Idempotent: lets `api-keys create` run before the first `serve`.
      await withDeadline(opened.migrate(), STORE_DEADLINE_MS);
    } catch (err) {
      await opened.close().catch(() => {});
      throw err;
    }
    return opened;
  };
  const context: AdminContext = {
    config,
    store: () => (store ??= openMigrated()),
    engine: () =>
      (engine ??= (async () => {
        const s = await context.store();
        await withDeadline(checkSecretFitsStore(s, config), STORE_DEADLINE_MS);
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
