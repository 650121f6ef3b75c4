/**
 * Prettier (.prettierrc.json) on every TypeScript and JavaScript file except those grandfathered in
 * .prettierignore (see CONTRIBUTING.md). `npm run format` fixes what this reports.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const prettier = join(root, 'node_modules/prettier/bin/prettier.cjs');
const FORMATTED = '**/*.{ts,mts,cts,mjs,js,cjs}';

/** The files prettier would change, relative to the repository root. */
async function unformatted(cwd: string, pattern: string, extra: string[] = []): Promise<string[]> {
  // --list-different exits 1 when it lists anything; the list is on stdout either way.
  const { stdout } = await promisify(execFile)(process.execPath, [prettier, '--list-different', ...extra, pattern], { cwd }).catch(
    (err: { stdout?: string; code?: number }) => {
      if (err.code !== 1) throw err;
      return { stdout: err.stdout ?? '' };
    },
  );
  return stdout.split('\n').filter(Boolean);
}

describe('format', () => {
  it('every file not grandfathered is formatted (npm run format)', async () => {
    expect(await unformatted(root, FORMATTED), 'run `npm run format` (or npx prettier --write <file>)').toEqual([]);
  }, 300_000);

  it('the check reports a badly formatted file under the repository settings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-format-'));
    try {
      writeFileSync(join(dir, 'probe.ts'), 'export const probe = {a:1,"b" : [ 2,3 ]}\n');
      writeFileSync(join(dir, 'fine.ts'), 'export const fine = { a: 1, b: [2, 3] };\n');
      expect(await unformatted(dir, '*.ts', ['--config', join(root, '.prettierrc.json')])).toEqual(['probe.ts']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
