#!/usr/bin/env node
// Makes `npm start`, `npm test` and `npm run bench` work on a fresh clone with no other step:
// installs dependencies when node_modules is missing or older than the lockfile, then builds
// the TypeScript packages (incremental, so a second run costs about a second).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lockfile = join(root, 'package-lock.json');
const stamp = join(root, 'node_modules', '.latchkey-lock-hash');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(args) {
  execFileSync(npm, args, { cwd: root, stdio: 'inherit' });
}

const lockHash = existsSync(lockfile)
  ? createHash('sha256').update(readFileSync(lockfile)).digest('hex')
  : 'no-lockfile';
const installedHash = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';

if (lockHash !== installedHash) {
  console.error(`[latchkey] installing dependencies (${installedHash ? 'lockfile changed' : 'first run'})…`);
  run(existsSync(lockfile) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']);
  const fresh = existsSync(lockfile)
    ? createHash('sha256').update(readFileSync(lockfile)).digest('hex')
    : 'no-lockfile';
  writeFileSync(stamp, fresh + '\n');
}

if (!process.env.LATCHKEY_SKIP_BUILD) {
  run(['run', 'build', '--silent']);
}
