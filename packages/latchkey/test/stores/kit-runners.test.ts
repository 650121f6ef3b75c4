/**
 * The store conformance kit is shipped for stores written outside latchkey, whose authors use their
 * own test runner. It is written on node:assert/strict alone; this file proves it runs outside vitest:
 * `node --test` runs it from the built package (test/fixtures/store-kit-node-test.mjs, on the memory
 * store) and every case passes, and the same file over a deliberately broken store fails exactly the
 * cases that check what was broken (so the kit's checks can fail under node:test too).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { serviceAvailable } from '../helpers/services.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/store-kit-node-test.mjs', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/stores/index.js', import.meta.url));

const built = await serviceAvailable('built latchkey/stores (run npm run build)', async () => {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing`);
});

/** Runs the fixture under `node --test` with the TAP reporter; never rejects. */
function nodeTest(env: Record<string, string>): Promise<{ code: number; tap: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--test', '--test-reporter=tap', FIXTURE],
      { env: { ...process.env, ...env }, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, tap: `${stdout}\n${stderr}` });
      },
    );
  });
}

/** The TAP summary count named `what` (`# pass 58`). */
function count(tap: string, what: string): number {
  const match = new RegExp(`^# ${what} (\\d+)$`, 'm').exec(tap);
  if (!match) throw new Error(`no "# ${what}" line in:\n${tap.slice(-2000)}`);
  return Number(match[1]);
}

describe.skipIf(!built)('store conformance kit under node:test', () => {
  it('every case of the three contracts passes on the memory store', { timeout: 120_000 }, async () => {
    const { code, tap } = await nodeTest({ LATCHKEY_KIT_BROKEN: '0' });
    expect(count(tap, 'fail'), tap.slice(-4000)).toBe(0);
    // 48 session cases (3 of them claims epochs, issue 16), 12 API-key cases, 1 service-key case: the
    // same cases vitest runs on each store.
    expect(count(tap, 'pass')).toBe(61);
    expect(tap).toContain('ok 1 - SessionStore contract: memory');
    expect(tap).toContain('ok 2 - ApiKeyStore contract: memory');
    expect(tap).toContain('ok 3 - ServiceKeyStore contract: memory');
    expect(code).toBe(0);
  });

  it('a broken store fails the cases that check what it broke, and only those', { timeout: 120_000 }, async () => {
    const { code, tap } = await nodeTest({ LATCHKEY_KIT_BROKEN: '1' });
    expect(code).not.toBe(0);
    const failed = [...tap.matchAll(/^\s*not ok \d+ - (.+)$/gm)]
      .map((m) => m[1])
      .filter((name) => !/contract: broken memory$|^(refresh rotation|revocation|cleanup)$/.test(name!));
    expect(failed.sort()).toEqual(
      [
        // revokeServiceKey always says it revoked:
        'stores, finds by hash, lists oldest first, and revokes once',
        // listRevocationsSince forgets every revocation:
        'after theft the current token is refused as revoked, and the theft is listed',
        'lists revocations at or after a time',
        'deletes sessions that ended before the cutoff, with their refresh-token chains',
      ].sort(),
    );
    expect(count(tap, 'fail')).toBe(4);
    expect(count(tap, 'pass')).toBe(57);
  });
});
