#!/usr/bin/env node
/**
 * API snapshot: one api-extractor report per public entry point of each published package, committed
 * under `<package>/api/`, so that any change to the public surface shows in review as a diff.
 *
 *   node scripts/api-report.mjs           check: exits 1 and names the stale reports (a test runs this)
 *   node scripts/api-report.mjs --update  rewrite the reports after an intended change (npm run api:update)
 *
 * The entry points are read from each package's `exports` map, so a new subpath gets a report of its
 * own. Reports are made from the built declarations: the script runs the (incremental) build first.
 * Everything runs offline: api-extractor reads only the local .d.ts files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PACKAGES = ['packages/latchkey', 'packages/client', 'packages/react'];
export const UPDATE_COMMAND = 'npm run api:update';

/** `./adapters/express` -> `adapters-express`; `.` -> `index`. */
function reportName(subpath) {
  return subpath === '.' ? 'index' : subpath.replace(/^\.\//, '').replaceAll('/', '-');
}

/** The public entry points of one package: subpath and built declaration file. */
export function entryPoints(pkgDir) {
  const manifest = JSON.parse(readFileSync(join(root, pkgDir, 'package.json'), 'utf8'));
  const entries = [];
  for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
    const types = typeof target === 'object' && target !== null ? target.types : undefined;
    if (typeof types !== 'string' || !types.endsWith('.d.ts')) continue;
    entries.push({ subpath, name: reportName(subpath), types: join(root, pkgDir, types) });
  }
  return { packageName: manifest.name, entries };
}

/**
 * Makes every report into a scratch folder and compares it with the committed one.
 * Returns the reports that differ (or are missing, or are committed for an entry that no longer exists).
 */
export function checkReports({ update = false, build = true } = {}) {
  if (build)
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', ...PACKAGES], { cwd: root, stdio: 'inherit' });
  const stale = [];
  const scratch = mkdtempSync(join(tmpdir(), 'latchkey-api-'));
  try {
    for (const pkgDir of PACKAGES) {
      const { packageName, entries } = entryPoints(pkgDir);
      const reportFolder = join(root, pkgDir, 'api');
      const expected = new Set();
      for (const entry of entries) {
        const file = `${entry.name}.api.md`;
        expected.add(file);
        const fresh = renderReport(pkgDir, packageName, entry, join(scratch, pkgDir));
        const committedPath = join(reportFolder, file);
        const committed = existsSync(committedPath) ? readFileSync(committedPath, 'utf8') : null;
        if (committed === fresh) continue;
        stale.push(relative(root, committedPath));
        if (update) {
          mkdirSync(reportFolder, { recursive: true });
          writeFileSync(committedPath, fresh);
        }
      }
      // A report for an entry point that was removed is stale too.
      for (const file of existsSync(reportFolder) ? readdirSync(reportFolder) : []) {
        if (!file.endsWith('.api.md') || expected.has(file)) continue;
        stale.push(relative(root, join(reportFolder, file)));
        if (update) rmSync(join(reportFolder, file));
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return stale;
}

function renderReport(pkgDir, packageName, entry, outDir) {
  mkdirSync(outDir, { recursive: true });
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: join(root, pkgDir),
      mainEntryPointFilePath: entry.types,
      compiler: {
        // The declarations only; the package's own tsconfig would pull in sources and @types.
        overrideTsconfig: {
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            lib: ['ES2023', 'DOM'],
            types: ['node'],
            skipLibCheck: true,
            strict: true,
          },
          files: [entry.types],
        },
      },
      apiReport: { enabled: true, reportFileName: `${entry.name}.api.md`, reportFolder: outDir, reportTempFolder: outDir },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      newlineKind: 'lf',
      messages: {
        // The report records missing release tags and the like as notes; they are not failures.
        extractorMessageReporting: { default: { logLevel: 'none', addToApiReportFile: false } },
        tsdocMessageReporting: { default: { logLevel: 'none', addToApiReportFile: false } },
        compilerMessageReporting: { default: { logLevel: 'warning' } },
      },
    },
    configObjectFullPath: join(root, pkgDir, 'api-extractor.json'),
    packageJsonFullPath: join(root, pkgDir, 'package.json'),
  });
  // localBuild: write the fresh report (into the scratch folder) rather than failing on a change.
  const result = Extractor.invoke(config, {
    localBuild: true,
    showVerboseMessages: false,
    messageCallback: (m) => {
      if (m.logLevel === 'warning' || m.logLevel === 'error') console.error(`[api-report] ${packageName} ${entry.subpath}: ${m.text}`);
      m.handled = true;
    },
  });
  if (!result.succeeded && result.errorCount > 0) throw new Error(`api-extractor failed on ${packageName} ${entry.subpath}`);
  return readFileSync(join(outDir, `${entry.name}.api.md`), 'utf8');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const update = process.argv.includes('--update');
  const stale = checkReports({ update });
  if (stale.length === 0) console.log('API reports are up to date.');
  else if (update) console.log(`Updated:\n  ${stale.join('\n  ')}`);
  else {
    console.error(
      `The public API changed; these reports are stale:\n  ${stale.join('\n  ')}\nReview the change, then run: ${UPDATE_COMMAND}`,
    );
    process.exit(1);
  }
}
