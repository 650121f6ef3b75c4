/**
 * Loads better-sqlite3 and its native binding, so that a failed native build is reported when
 * `latchkey/stores/sqlite` is imported, with what to do about it, instead of as a raw "Could not
 * locate the bindings file" at the first query.
 *
 * better-sqlite3 is an optional dependency: npm installs it by default (SQLite is the embedded
 * default store), but a machine that can neither download a prebuilt binary nor compile one still
 * installs latchkey, and only the SQLite store is unavailable there.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { MissingDependencyError } from '../../errors.js';
import { importPeer, installCommand } from '../../util/peer.js';

const FEATURE = 'latchkey/stores/sqlite';

/** What better-sqlite3 (through `bindings` and `process.dlopen`) throws when its binary is absent or built for another Node.js. */
const BINDING_FAILURE = /Could not locate the bindings file|NODE_MODULE_VERSION|was compiled against a different Node\.js version|invalid ELF header|wrong ELF class|ERR_DLOPEN_FAILED/;

/** True when `err` is a missing or incompatible native binding, not a problem with a database. */
export function isBindingFailure(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  return code === 'ERR_DLOPEN_FAILED' || (typeof message === 'string' && BINDING_FAILURE.test(message));
}

export function bindingFailure(cause: unknown): MissingDependencyError {
  return new MissingDependencyError(
    'better-sqlite3',
    FEATURE,
    `${FEATURE} could not load the native part of better-sqlite3 (it was not built, or was built for another Node.js version than ${process.version}). ` +
      'Run `npm rebuild better-sqlite3`; where no prebuilt binary can be downloaded this compiles it, which needs python3, make and a C++ compiler ' +
      '(Debian/Ubuntu: `apt-get install python3 make g++`; Alpine: `apk add python3 make g++`). Or use another store (latchkey/stores/postgres, latchkey/stores/memory).',
    { cause },
  );
}

/** better-sqlite3's `Database` class, with its binding loaded and working. */
export async function loadBetterSqlite3(): Promise<typeof BetterSqlite3> {
  // A CommonJS module: Node's import() puts module.exports on `default` (its `export =` typings say otherwise).
  const load = () => import('better-sqlite3') as Promise<unknown> as Promise<{ default: typeof BetterSqlite3 }>;
  const { default: Database } = await importPeer(load, 'better-sqlite3', FEATURE).catch((err: unknown) => {
    if (err instanceof MissingDependencyError) {
      // Not installed: most likely its native build failed during `npm install` (npm then drops an optional dependency).
      throw new MissingDependencyError('better-sqlite3', FEATURE, `${err.message} (if it was, its native build failed; run \`${installCommand(['better-sqlite3'])}\` and read its output)`, { cause: err.cause });
    }
    throw err;
  });
  try {
    // better-sqlite3 loads its binding on first use; open a throwaway in-memory database to load it now.
    new Database(':memory:').close();
  } catch (err) {
    if (isBindingFailure(err)) throw bindingFailure(err);
    throw err;
  }
  return Database;
}
