/**
 * The API snapshot (packages/<name>/api/*.api.md, made by api-extractor): a change to any public
 * entry point's types must come with the updated report, so that it shows in review.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkReports, entryPoints, PACKAGES, UPDATE_COMMAND } from '../../../../scripts/api-report.mjs';

describe('API snapshot', () => {
  it('covers every typed entry point of every published package', () => {
    for (const pkgDir of PACKAGES) {
      const manifest = JSON.parse(readFileSync(new URL(`../../../../${pkgDir}/package.json`, import.meta.url), 'utf8')) as {
        exports: Record<string, unknown>;
      };
      const typed = Object.entries(manifest.exports).filter(
        ([, target]) => typeof target === 'object' && target !== null && 'types' in target,
      );
      expect(entryPoints(pkgDir).entries.map((e) => e.subpath)).toEqual(typed.map(([subpath]) => subpath));
      expect(typed.length).toBeGreaterThan(0);
    }
  });

  it('every public entry point matches its committed report', () => {
    const stale = checkReports({ update: false });
    expect(stale, `The public API changed. Review the change, then run: ${UPDATE_COMMAND}`).toEqual([]);
  }, 300_000);

  it('names every string enum it prints, so a clean and an incremental build give the same report', () => {
    // An inferred z.enum record is printed with its keys in the order of the compiler's literal-type
    // ids, which follows the order a build happened to check files in (service.api.md flapped between
    // builds). Such an enum is typed through a named union instead (service/schemas.ts, EnumRecord).
    const inferred: string[] = [];
    for (const pkgDir of PACKAGES) {
      for (const entry of entryPoints(pkgDir).entries) {
        const report = readFileSync(new URL(`../../../../${pkgDir}/api/${entry.name}.api.md`, import.meta.url), 'utf8');
        for (const match of report.matchAll(/ZodEnum<\{([^}]*)\}>/g)) {
          if ((match[1] ?? '').split(';').filter((member) => member.trim() !== '').length > 1)
            inferred.push(`${entry.name}: ${match[0].replace(/\s+/g, ' ')}`);
        }
      }
    }
    expect(inferred).toEqual([]);
  });
});
