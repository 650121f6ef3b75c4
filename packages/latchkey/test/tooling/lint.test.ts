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

  it('unawaited promises and async callbacks are errors in library code', async () => {
    // Pinned through the configuration ESLint resolves for a library module. (Linting a probe text
    // under an existing path gave no typed report in the full suite: the type-aware program reads the
    // file from disk, not the probe, so the probe's positions had no types and nothing was flagged.)
    const config = (await eslint.calculateConfigForFile(fileURLToPath(new URL('../../src/engine.ts', import.meta.url)))) as {
      rules: Record<string, unknown>;
    };
    const severity = (rule: string): unknown => {
      const setting = config.rules[rule];
      return Array.isArray(setting) ? setting[0] : setting;
    };
    for (const rule of ['@typescript-eslint/no-floating-promises', '@typescript-eslint/no-misused-promises']) {
      expect([2, 'error'], rule).toContain(severity(rule));
    }
  }, 120_000);
});
