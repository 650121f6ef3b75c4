// Decides whether `scripts/ensure.mjs` must install dependencies, from file contents alone (no I/O
// here, so the decision is unit-tested: scripts/test/install-state.test.ts).
//
// Installed is current when either
// - ensure.mjs's own stamp holds the lockfile's hash (it ran `npm ci` for this lockfile), or
// - npm's hidden lockfile (node_modules/.package-lock.json, which npm rewrites after every install
//   to describe the tree it left) lists exactly the packages the lockfile pins: the user ran
//   `npm install` (or `npm ci`) themselves. Without this, `npm install && npm start` on a fresh clone
//   installed everything twice.
// Packages the lockfile marks optional (another platform's binary, an optional peer) may be missing.
import { createHash } from 'node:crypto';

/** sha256 of the lockfile text, or 'no-lockfile'. */
export function lockHash(lockText) {
  return lockText === undefined ? 'no-lockfile' : createHash('sha256').update(lockText).digest('hex');
}

/** True when the hidden lockfile describes an install of exactly this lockfile. */
export function hiddenLockMatches(lockText, hiddenText) {
  let lock;
  let hidden;
  try {
    lock = JSON.parse(lockText);
    hidden = JSON.parse(hiddenText);
  } catch {
    return false;
  }
  const want = lock?.packages;
  const have = hidden?.packages;
  if (!want || typeof want !== 'object' || !have || typeof have !== 'object') return false;
  for (const [path, entry] of Object.entries(want)) {
    if (path === '') continue; // the root project: the hidden lockfile never lists it
    const got = have[path];
    if (got === undefined) {
      if (entry.optional || entry.devOptional || entry.peer) continue;
      return false;
    }
    if ((entry.version ?? null) !== (got.version ?? null)) return false;
    if (Boolean(entry.link) !== Boolean(got.link) || (entry.link && entry.resolved !== got.resolved)) return false;
  }
  // Something installed that this lockfile does not pin: the tree came from another lockfile.
  for (const path of Object.keys(have)) if (!(path in want)) return false;
  return true;
}

/**
 * @param {{ lockText?: string, hiddenText?: string, stamp?: string }} state  file contents; undefined when missing
 * @returns {{ install: boolean, reason: string, stamp: string }}  `stamp` is what to record afterwards
 */
export function installDecision({ lockText, hiddenText, stamp }) {
  const hash = lockHash(lockText);
  if (stamp !== undefined && stamp.trim() === hash) return { install: false, reason: 'installed by ensure', stamp: hash };
  if (lockText !== undefined && hiddenText !== undefined && hiddenLockMatches(lockText, hiddenText)) {
    return { install: false, reason: 'installed by npm install', stamp: hash };
  }
  const reason = hiddenText === undefined && stamp === undefined ? 'first run' : 'lockfile changed';
  return { install: true, reason, stamp: hash };
}
