/**
 * ESLint (eslint.config.js) over the whole repository, as part of `npm test`. Run `npm run lint` for
 * the same report on the command line and `npm run lint -- --fix` for what it can fix.
 *
 * The second case pins the rules that stop security bugs: if someone turned no-floating-promises or
 * no-misused-promises off, an unawaited revocation would pass the first case without complaint.
 */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

describe('lint', () => {
  const eslint = new ESLint({ cwd: root });

  it('the repository has no lint errors (npm run lint)', async () => {
    const results = await eslint.lintFiles(['.']);
    const errors = results.filter((r) => r.errorCount > 0 || r.fatalErrorCount > 0);
    const report = errors.length ? await (await eslint.loadFormatter('stylish')).format(errors) : '';
    expect(errors.length, report).toBe(0);
    // Type-aware linting builds the programs of three tsconfig files: about a minute of CPU, longer on a
    // loaded machine.
  }, 600_000);

  it('an unawaited promise and an async listener are errors in library code', async () => {
    // The text is linted as if it were a module of the library, with its types. A fresh ESLint of its
    // own: the first case's project service already holds engine.ts as it is on disk, and linting
    // other text under that path through it gave no type information in one CI run (so no report).
    const probe = new ESLint({ cwd: root });
    const [result] = await probe.lintText(
      [
        "import type { SessionStore } from './stores/types.js';",
        'export function signOutEverywhere(store: SessionStore, userId: string, on: (f: () => void) => void): void {',
        "  store.revokeUserSessions(userId, Date.now(), 'revoke-all');",
        "  on(async () => { await store.revokeUserSessions(userId, Date.now(), 'revoke-all'); });",
        '}',
        '',
      ].join('\n'),
      { filePath: fileURLToPath(new URL('../../src/engine.ts', import.meta.url)) },
    );
    const rules = result!.messages.map((m) => `${m.ruleId}@${m.line}:${m.severity}`);
    expect(rules).toEqual(['@typescript-eslint/no-floating-promises@3:2', '@typescript-eslint/no-misused-promises@4:2']);
  }, 120_000);
});
