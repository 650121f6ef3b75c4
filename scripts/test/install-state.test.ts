/**
 * The decision `npm start` / `npm test` make before running (scripts/ensure.mjs): install, or not.
 * The case that matters: a fresh clone where the user ran `npm install` first must not be installed
 * a second time; a lockfile that changed since (a pull) must be.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hiddenLockMatches, installDecision, lockHash } from '../install-state.mjs';

/** A lockfile as npm writes it: the root, two workspace links, dependencies (one optional, for another platform). */
const LOCK = {
  name: 'latchkey-monorepo',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': { name: 'latchkey-monorepo', workspaces: ['packages/latchkey'] },
    'packages/latchkey': { name: 'latchkey', version: '0.1.0', dependencies: { jose: '^6.0.0' } },
    'node_modules/latchkey': { resolved: 'packages/latchkey', link: true },
    'node_modules/jose': { version: '6.1.0', resolved: 'https://registry.npmjs.org/jose/-/jose-6.1.0.tgz', integrity: 'sha512-x' },
    'node_modules/vitest': { version: '4.1.12', dev: true },
    'node_modules/@esbuild/darwin-arm64': { version: '0.28.2', optional: true, os: ['darwin'], cpu: ['arm64'] },
  },
};

/** npm's hidden lockfile after `npm install` of LOCK on Linux: no root entry, no other platform's binary. */
function hiddenAfterInstall(lock = LOCK): typeof LOCK {
  const packages: Record<string, unknown> = { ...lock.packages };
  delete packages[''];
  delete packages['node_modules/@esbuild/darwin-arm64'];
  return { ...lock, packages } as typeof LOCK;
}

const text = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

describe('installDecision', () => {
  it('a fresh clone (no node_modules): installs, "first run"', () => {
    expect(installDecision({ lockText: text(LOCK) })).toEqual({ install: true, reason: 'first run', stamp: lockHash(text(LOCK)) });
  });

  it('after the user\'s own `npm install`: does not install again, and stamps the lockfile', () => {
    const decision = installDecision({ lockText: text(LOCK), hiddenText: text(hiddenAfterInstall()) });
    expect(decision).toEqual({ install: false, reason: 'installed by npm install', stamp: lockHash(text(LOCK)) });
  });

  it('after its own `npm ci`: the stamp says so', () => {
    expect(installDecision({ lockText: text(LOCK), stamp: `${lockHash(text(LOCK))}\n` })).toMatchObject({ install: false, reason: 'installed by ensure' });
  });

  it('a lockfile that changed since the install (a pull, a new dependency): installs', () => {
    const installed = text(hiddenAfterInstall());
    const upgraded = structuredClone(LOCK);
    upgraded.packages['node_modules/jose'].version = '6.2.0';
    expect(installDecision({ lockText: text(upgraded), hiddenText: installed, stamp: lockHash(text(LOCK)) })).toMatchObject({ install: true, reason: 'lockfile changed' });
    const added = structuredClone(LOCK) as { packages: Record<string, unknown> };
    added.packages['node_modules/zod'] = { version: '4.0.0' };
    expect(installDecision({ lockText: text(added), hiddenText: installed })).toMatchObject({ install: true });
  });

  it('a tree with a package the lockfile does not pin, or a workspace not linked: installs', () => {
    const extra = hiddenAfterInstall() as { packages: Record<string, unknown> };
    extra.packages['node_modules/left-pad'] = { version: '1.3.0' };
    expect(installDecision({ lockText: text(LOCK), hiddenText: text(extra) }).install).toBe(true);
    const copied = hiddenAfterInstall() as { packages: Record<string, unknown> };
    copied.packages['node_modules/latchkey'] = { version: '0.1.0' };
    expect(installDecision({ lockText: text(LOCK), hiddenText: text(copied) }).install).toBe(true);
  });

  it('dev dependencies left out (`npm install --omit=dev`): installs, since tests and the build need them', () => {
    const noDev = hiddenAfterInstall() as { packages: Record<string, unknown> };
    delete noDev.packages['node_modules/vitest'];
    expect(installDecision({ lockText: text(LOCK), hiddenText: text(noDev) }).install).toBe(true);
  });

  it('unreadable files never count as installed', () => {
    expect(hiddenLockMatches('{', text(hiddenAfterInstall()))).toBe(false);
    expect(hiddenLockMatches(text(LOCK), 'not json')).toBe(false);
    expect(installDecision({ lockText: text(LOCK), hiddenText: '{}' }).install).toBe(true);
  });

  it('this repository\'s own lockfile matches itself as an install would list it', () => {
    const lock = readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8');
    const parsed = JSON.parse(lock) as { packages: Record<string, { optional?: boolean }> };
    const hidden = { ...parsed, packages: Object.fromEntries(Object.entries(parsed.packages).filter(([path, entry]) => path !== '' && !entry.optional)) };
    expect(installDecision({ lockText: lock, hiddenText: text(hidden) })).toMatchObject({ install: false, reason: 'installed by npm install' });
  });
});
