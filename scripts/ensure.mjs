#!/usr/bin/env node
// Makes `npm start`, `npm test` and `npm run bench` work on a fresh clone with no other step:
// installs dependencies when node_modules is missing or does not match the lockfile (an
// `npm install` the user ran first counts: see install-state.mjs), then builds the TypeScript
// packages (incremental, so a second run costs about a second).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installDecision, lockHash } from './install-state.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lockfile = join(root, 'package-lock.json');
const stamp = join(root, 'node_modules', '.latchkey-lock-hash');
// npm's own record of the tree it installed: recognises an `npm install` the user ran first.
const hiddenLockfile = join(root, 'node_modules', '.package-lock.json');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(args) {
  execFileSync(npm, args, { cwd: root, stdio: 'inherit' });
}

const read = (path) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);

const decision = installDecision({ lockText: read(lockfile), hiddenText: read(hiddenLockfile), stamp: read(stamp) });
if (decision.install) {
  console.error(`[latchkey] installing dependencies (${decision.reason})…`);
  run(existsSync(lockfile) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']);
  // `npm install` without a lockfile writes one: stamp what is there now.
  writeFileSync(stamp, `${lockHash(read(lockfile))}\n`);
} else if (read(stamp)?.trim() !== decision.stamp) {
  // Installed by the user's own `npm install`: remember it, so the next run takes the fast path.
  writeFileSync(stamp, `${decision.stamp}\n`);
}

if (!process.env.LATCHKEY_SKIP_BUILD) {
  run(['run', 'build', '--silent']);
}
