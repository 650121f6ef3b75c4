/**
 * The standalone service runs on Hono, zod and prom-client. They are optional peer dependencies of
 * latchkey (an app that embeds the engine never loads them), so the CLI loads the service lazily
 * through here: a missing one is a {@link MissingDependencyError} that names every missing package
 * at once, instead of one `ERR_MODULE_NOT_FOUND` per attempt.
 */
import { MissingDependencyError } from '../errors.js';
import { installCommand, isMissingPackage } from '../util/peer.js';

/** What `latchkey serve` and `latchkey/service` need beside latchkey itself. */
export const SERVICE_PACKAGES = ['hono', '@hono/node-server', 'zod', 'prom-client'] as const;

async function isInstalled(name: string): Promise<boolean> {
  try {
    await import(name);
    return true;
  } catch (err) {
    if (isMissingPackage(err, name)) return false;
    throw err;
  }
}

/**
 * Imports a module of the service (`() => import('./server.js')`); when one of the service's
 * packages is missing, says which ones and how to install them.
 */
export async function importServiceModule<T>(load: () => Promise<T>, feature: string): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (!SERVICE_PACKAGES.some((name) => isMissingPackage(err, name))) throw err;
    const missing: string[] = [];
    for (const name of SERVICE_PACKAGES) if (!(await isInstalled(name))) missing.push(name);
    throw new MissingDependencyError(
      missing[0] ?? 'hono',
      feature,
      `${feature} needs the service's packages, optional peer dependencies of latchkey; missing: ${missing.join(', ')}. Run \`${installCommand(missing)}\``,
      { cause: err },
    );
  }
}
