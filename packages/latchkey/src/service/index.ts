/**
 * `latchkey/service`: the standalone session service, for backends in any language.
 *
 * Run it with `npx latchkey serve`, or embed it:
 *
 * @example
 * import { loadServiceConfig, startService } from 'latchkey/service';
 * const service = await startService({ config: loadServiceConfig(process.env) });
 * process.once('SIGTERM', () => void service.close());
 */
export { startService, type RunningService, type StartServiceOptions } from './server.js';
export { createAdminConsole, type AdminConsoleEnv, type AdminConsoleOptions } from './admin/console.js';
export type { ConsoleIdentity } from './admin/auth.js';
export { createLoginLink, DEFAULT_CONSOLE_IDLE_MS, DEFAULT_TICKET_TTL_MS, type CreateLoginLinkOptions, type LoginLink } from './admin/auth.js';
export { createServiceApp, sessionToJson, type ServiceAppOptions } from './app.js';
export { ConfigError, ENVIRONMENT_VARIABLES, loadServiceConfig, resolveIssuer, type ConfigFlags, type ServiceConfig, type StoreConfig } from './config.js';
export {
  API_KEY_PREFIX,
  ApiKeyChecker,
  createApiKey,
  createServiceKey,
  hashApiKey,
  hashServiceKey,
  SERVICE_KEY_CACHE_MAX,
  SERVICE_KEY_CACHE_TTL_MS,
  SERVICE_KEY_PREFIX,
  ServiceKeyChecker,
  type ApiKeyIdentity,
  type ServiceKeyCheckerOptions,
  type ServiceKeyIdentity,
} from './api-keys.js';
export { openBus, openStore } from './backends.js';
export { ServiceError } from './errors.js';
export { jsonLogger, silentLogger, type Logger, type LogLevel } from './logger.js';
export { ServiceMetrics } from './metrics.js';
export { buildOpenApiDocument, openApiText, SERVICE_API_VERSION } from './openapi.js';
export * as schemas from './schemas.js';
