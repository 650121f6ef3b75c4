/**
 * Optional peers and the native SQLite binding: a missing or broken one is a typed error that names
 * the package and the fix. (The tarball smoke test checks the same from a real install without them.)
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLatchkeyError, MissingDependencyError } from 'latchkey';
import { mapError } from '../../src/http/errors.js';
import { importServiceModule } from '../../src/service/peers.js';
import { bindingFailure, isBindingFailure } from '../../src/stores/sqlite/driver.js';
import { importPeer, isMissingPackage } from '../../src/util/peer.js';

const scratch = mkdtempSync(join(tmpdir(), 'latchkey-peer-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// A package that is certainly not installed; a variable, so that neither TypeScript nor Vite resolves it ahead of time.
const ABSENT = 'latchkey-test-package-that-is-not-installed';
const importAbsent = () => import(/* @vite-ignore */ ABSENT) as Promise<unknown>;

describe('importPeer', () => {
  it('names a missing package and the command that installs it', async () => {
    const err = await importPeer(importAbsent, ABSENT, 'latchkey/stores/example').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingDependencyError);
    expect(isLatchkeyError(err, 'MISSING_DEPENDENCY')).toBe(true);
    const missing = err as MissingDependencyError;
    expect([missing.dependency, missing.feature]).toEqual([ABSENT, 'latchkey/stores/example']);
    expect(missing.message).toContain(`npm install ${ABSENT}`);
    expect(missing.message).toContain('latchkey/stores/example');
  });

  it('returns the module when it is installed', async () => {
    const mod = await importPeer(() => import('jose'), 'jose', 'test');
    expect(typeof mod.SignJWT).toBe('function');
  });

  it('passes any other failure through untouched', async () => {
    const boom = new TypeError('the module threw while loading');
    await expect(importPeer(() => Promise.reject(boom), 'jose', 'test')).rejects.toBe(boom);
  });

  it('does not blame the package for a missing package that it imports', async () => {
    // pg is installed; a module *inside* it (or one of its own dependencies) missing is another problem.
    const inner = Object.assign(new Error("Cannot find package 'pg-protocol' imported from /x/node_modules/pg/lib/index.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    expect(isMissingPackage(inner, 'pg')).toBe(false);
    expect(isMissingPackage(inner, 'pg-protocol')).toBe(true);
    await expect(importPeer(() => Promise.reject(inner), 'pg', 'test')).rejects.toBe(inner);
  });

  it('recognises scoped names and deep imports of the package', () => {
    const scoped = Object.assign(new Error("Cannot find package '@hono/node-server' imported from /x.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    expect(isMissingPackage(scoped, '@hono/node-server')).toBe(true);
    expect(isMissingPackage(scoped, 'hono')).toBe(false);
    const deep = Object.assign(new Error("Cannot find module 'hono/body-limit'"), { code: 'MODULE_NOT_FOUND' });
    expect(isMissingPackage(deep, 'hono')).toBe(true);
  });
});

describe('the service packages', () => {
  it('lists what to install when one of them is missing', async () => {
    const honoMissing = Object.assign(new Error("Cannot find package 'hono' imported from /x/dist/service/server.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    // All four are installed in this workspace, so the listing falls back to the package that failed.
    const err = await importServiceModule(() => Promise.reject(honoMissing), 'latchkey serve').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingDependencyError);
    expect((err as MissingDependencyError).message).toContain('latchkey serve needs');
    expect((err as MissingDependencyError).message).toMatch(/npm install/);
  });

  it('passes other failures through', async () => {
    const boom = new Error('port in use');
    await expect(importServiceModule(() => Promise.reject(boom), 'latchkey serve')).rejects.toBe(boom);
  });
});

describe('the SQLite native binding', () => {
  it('turns a binary that will not load into guidance naming the fix', () => {
    // A real load failure: better-sqlite3 asked to load a "binary" that is not one (what a build for
    // another platform or a truncated download looks like to the dynamic loader).
    const fake = join(scratch, 'better_sqlite3.node');
    writeFileSync(fake, 'not a shared object');
    let thrown: unknown;
    try {
      new Database(':memory:', { nativeBinding: fake }).close();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeDefined();
    expect(isBindingFailure(thrown)).toBe(true);
    const err = bindingFailure(thrown);
    expect(err.code).toBe('MISSING_DEPENDENCY');
    expect(err.dependency).toBe('better-sqlite3');
    expect(err.message).toContain('npm rebuild better-sqlite3');
    expect(err.message).toMatch(/python3, make and a C\+\+ compiler/);
    expect(err.message).toContain(process.version);
  });

  it('recognises the message of the bindings package, and nothing else', () => {
    expect(isBindingFailure(new Error('Could not locate the bindings file. Tried:\n → /x/build/better_sqlite3.node'))).toBe(true);
    expect(isBindingFailure(new Error('SQLITE_CANTOPEN: unable to open database file'))).toBe(false);
    expect(isBindingFailure(null)).toBe(false);
  });
});

describe('in the HTTP layer', () => {
  it('is an internal error, never shown to a client', () => {
    const mapped = mapError(new MissingDependencyError('pg', 'latchkey/stores/postgres', 'latchkey/stores/postgres needs "pg"'), 'cookie');
    expect(mapped.status).toBe(500);
    expect(mapped.body.error.code).toBe('INTERNAL_ERROR');
    expect(mapped.expected).toBe(false);
  });
});
