/**
 * ARCHITECTURE.md's import rules, checked by dependency-cruiser (.dependency-cruiser.mjs): a layer
 * never imports one above it. The same rules run on a fixture tree that breaks each of them once, so
 * a rule that stopped matching anything would fail here rather than pass silently.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const depcruise = fileURLToPath(new URL('../../../../node_modules/dependency-cruiser/bin/dependency-cruise.mjs', import.meta.url));
const FIXTURE = 'packages/latchkey/test/fixtures/layering';
// A few seconds of CPU each; generous for a machine busy with other suites.
const TIMEOUT = 300_000;

interface Violation {
  rule: { name: string; severity: string };
  from: string;
  to: string;
}

async function violations(args: string[]): Promise<Violation[]> {
  // depcruise exits non-zero when it finds violations; the JSON report is on stdout either way.
  const { stdout } = await promisify(execFile)(process.execPath, [depcruise, '--output-type', 'json', ...args], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  // Known violations (the baseline file) are listed too, with severity 'ignore'.
  return (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations.filter((v) => v.rule.severity !== 'ignore');
}

const describeViolation = (v: Violation) => `${v.rule.name}: ${v.from} -> ${v.to}`;

describe('import layers (ARCHITECTURE.md)', () => {
  it(
    'the packages follow every rule (known violations excepted, see the baseline file)',
    async () => {
      const found = await violations([
        '--config',
        '.dependency-cruiser.mjs',
        '--ignore-known',
        '.dependency-cruiser-known-violations.json',
        'packages/latchkey/src',
        'packages/client/src',
        'packages/react/src',
      ]);
      expect(found.map(describeViolation), 'see ARCHITECTURE.md for the layers; .dependency-cruiser.mjs names each rule').toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'each rule reports its violation in the fixture tree, and allowed imports pass',
    async () => {
      const found = await violations(['--config', `${FIXTURE}/.dependency-cruiser.mjs`, `${FIXTURE}/src`, `${FIXTURE}/client`]);
      const short = found.map((v) => `${v.rule.name}: ${v.from.replace(`${FIXTURE}/`, '')} -> ${v.to.replace(`${FIXTURE}/`, '')}`).sort();
      expect(short).toEqual([
        'adapters-stay-apart: src/adapters/express.mjs -> src/adapters/hono.mjs',
        'adapters-translate-only: src/adapters/node.mjs -> src/service/app.mjs',
        'blocks-below-engine: src/keys/ring.mjs -> src/index.mjs',
        'blocks-below-engine: src/tokens/leak.mjs -> src/engine.mjs',
        'cli-uses-no-adapter: src/cli/main.mjs -> src/adapters/hono.mjs',
        'client-is-browser-code: client/bad.mjs -> src/engine.mjs',
        'client-no-node-builtins: client/bad.mjs -> fs',
        'drivers-load-lazily: src/engine.mjs -> src/stores/sqlite.mjs',
        'drivers-stay-apart: src/stores/sqlite.mjs -> src/stores/postgres.mjs',
        'edge-is-verify-only: src/edge/verifier.mjs -> src/engine.mjs',
        'edge-is-web-standard: src/edge/verifier.mjs -> crypto',
        'engine-below-transports: src/engine.mjs -> src/http/core.mjs',
        'foundation-stays-at-the-bottom: src/types.mjs -> src/engine.mjs',
        'http-below-adapters: src/http/core.mjs -> src/adapters/express.mjs',
        'http-is-framework-free: src/http/core.mjs -> node_modules/hono/dist/types/index.d.ts',
        'no-cycles: src/adapters/express.mjs -> src/http/core.mjs',
        'no-cycles: src/cli/main.mjs -> src/service/app.mjs',
        'no-cycles: src/refresh/a.mjs -> src/refresh/b.mjs',
        'service-below-cli: src/service/app.mjs -> src/cli/main.mjs',
      ]);
    },
    TIMEOUT,
  );
});
