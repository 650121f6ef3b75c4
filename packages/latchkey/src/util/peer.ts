/**
 * Loads an optional peer dependency (a database driver, a framework, the service's packages).
 *
 * latchkey declares these as optional peers so that an app installs only what it uses. A static
 * `import` of a missing package fails while Node links the module graph, before any of our code
 * runs, with a bare `ERR_MODULE_NOT_FOUND`; loading it here instead turns that into a
 * {@link MissingDependencyError} that names the package and the command that installs it.
 *
 * Callers pass a thunk with a literal `import('pkg')`, so that bundlers still see the dependency and
 * TypeScript still types the module.
 */
import { MissingDependencyError } from '../errors.js';

/** True when `err` says that `name` itself (not something it imports) could not be found. */
export function isMissingPackage(err: unknown, name: string): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  // Node: "Cannot find package 'pg' imported from ...", "Cannot find module 'pg'"; Vite: "Failed to load url pg".
  return typeof message === 'string' && new RegExp(`['"\\s]${escape(name)}(['"/\\s]|$)`).test(message);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** The install command for some packages, in npm's spelling. */
export function installCommand(packages: readonly string[]): string {
  return `npm install ${packages.join(' ')}`;
}

/**
 * Imports a peer dependency; a missing one is a {@link MissingDependencyError} naming it.
 * @param load `() => import('pkg')`
 * @param name the package's name, as npm spells it
 * @param feature what needs it (a subpath such as `latchkey/stores/postgres`), for the message
 */
export async function importPeer<T>(load: () => Promise<T>, name: string, feature: string): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (!isMissingPackage(err, name)) throw err;
    throw new MissingDependencyError(name, feature, `${feature} needs the package "${name}", which is not installed: run \`${installCommand([name])}\``, { cause: err });
  }
}
