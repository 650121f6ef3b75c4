/**
 * Smoke test of the benchmark harness itself (not of latchkey's speed: no timing is asserted).
 * Runs the verify section in --quick mode at a tiny duration scale and checks that the runner
 * produces the documented JSON (rows, ratios computed against the same run's baseline, targets
 * judged from those ratios), the table, and that the docs renderer turns the JSON into a page and
 * a chart. Needs the package built (`npx tsc -b packages/latchkey`), as the benchmarks do.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const built = existsSync(join(root, 'packages/latchkey/dist/index.js'));

interface Row {
  section: string;
  case: string;
  status?: string;
  reason?: string;
  metric?: string;
  value?: number;
  p99Ms?: number;
  baseline?: string;
  ratio?: number;
  target?: string;
  met?: boolean;
}
interface Results {
  mode: string;
  command: string;
  machine: { cpuModel: string; cores: number; memoryBytes: number; node: string };
  versions: Record<string, string | null>;
  sections: Array<{ name: string; status: string; rows: Row[]; notes: string[]; loadAverage: { before: number; after: number } }>;
  summary: { targets: number; met: number };
}

describe.skipIf(!built)('benchmark harness (--quick --only verify)', () => {
  const out = mkdtempSync(join(tmpdir(), 'latchkey-bench-test-'));
  let stdout = '';
  let results: Results;

  beforeAll(async () => {
    const r = await run(process.execPath, ['bench/run.mjs', '--quick', '--only', 'verify', '--scale', '0.1', '--out', out], {
      cwd: root,
      env: { ...process.env, LATCHKEY_BENCH_ALGS: 'EdDSA' },
      timeout: 25_000,
    });
    stdout = r.stdout;
    results = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as Results;
  }, 30_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('writes a timestamped result file and latest.json with the same content', () => {
    const files = readdirSync(out).filter((f) => f.endsWith('.json'));
    expect(files).toContain('latest.json');
    const stamped = files.find((f) => f !== 'latest.json');
    expect(stamped).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(readFileSync(join(out, stamped!), 'utf8')).toBe(readFileSync(join(out, 'latest.json'), 'utf8'));
  });

  it('records the machine, the mode and the installed versions of the compared libraries', () => {
    expect(results.mode).toBe('quick');
    expect(results.command).toContain('--only verify');
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.node).toBe(process.version);
    expect(results.versions.jose).toMatch(/^\d+\.\d+\.\d+/);
    expect(results.versions['fast-jwt']).toMatch(/^\d+\.\d+\.\d+/);
    expect(results.versions['better-auth']).toBeNull();
  });

  it('runs only the requested section, to completion', () => {
    expect(results.sections.map((s) => s.name)).toEqual(['verify']);
    expect(results.sections[0]!.status).toBe('ok');
    expect(typeof results.sections[0]!.loadAverage.before).toBe('number');
  });

  it('measures every case and computes ratios against the floor of the same run', () => {
    const rows = results.sections[0]!.rows;
    const byCase = new Map(rows.map((r) => [r.case, r]));
    const floor = byCase.get('EdDSA node:crypto verify (floor)')!;
    expect(floor.value).toBeGreaterThan(0);
    for (const name of ['latchkey (cache off)', 'latchkey (cache on)', 'jose jwtVerify', 'fast-jwt', 'fast-jwt (cache on)', 'WebCrypto subtle.verify']) {
      const row = byCase.get(`EdDSA ${name}`);
      expect(row, name).toBeDefined();
      expect(row!.metric).toBe('ops/s');
      expect(row!.value).toBeGreaterThan(0);
      expect(row!.p99Ms).toBeGreaterThan(0);
      expect(row!.baseline).toBe('node:crypto');
      expect(row!.ratio).toBeCloseTo(row!.value! / floor.value!, 10);
    }
    // jsonwebtoken cannot verify Ed25519: reported as skipped with the reason, not silently dropped.
    const jwt = byCase.get('EdDSA jsonwebtoken')!;
    expect(jwt.status).toBe('skipped');
    expect(jwt.reason).toMatch(/jsonwebtoken cannot verify EdDSA/);
  });

  it('judges each target from its ratio, and counts them in the summary', () => {
    const targeted = results.sections[0]!.rows.filter((r) => typeof r.met === 'boolean');
    // Two latchkey rows against the floor (90 %) and two against jose (1×).
    expect(targeted.map((r) => r.case).sort()).toEqual([
      'EdDSA latchkey (cache off)', 'EdDSA latchkey (cache off) vs jose', 'EdDSA latchkey (cache on)', 'EdDSA latchkey (cache on) vs jose',
    ]);
    for (const r of targeted) {
      const min = r.target!.includes('90 %') ? 0.9 : 1;
      expect(r.met).toBe(r.ratio! >= min);
    }
    expect(results.summary).toEqual({ targets: 4, met: targeted.filter((r) => r.met).length });
  });

  it('prints a table with a met / NOT MET column and the summary line', () => {
    expect(stdout).toMatch(/section\s+case\s+ops\/s \| req\/s \| value\s+p99\s+ratio vs baseline\s+target\s+met/);
    expect(stdout).toMatch(/EdDSA latchkey \(cache off\).*(met|NOT MET)/);
    expect(stdout).toMatch(/targets met: \d+\/4/);
  });

  it('renders the docs page and the ratio chart from the results', async () => {
    const md = join(out, 'performance.md');
    const svg = join(out, 'performance-ratios.svg');
    await run(process.execPath, ['bench/render-docs.mjs', '--in', join(out, 'latest.json'), '--md', md, '--svg', svg], { cwd: root });
    const page = readFileSync(md, 'utf8');
    expect(page).toContain('# Performance');
    expect(page).toContain('These figures come from a `quick` run');
    expect(page).toContain(`| jose | ${results.versions.jose} |`);
    expect(page).toContain('| EdDSA latchkey (cache off) |');
    expect(page).toContain('![Ratios against baselines](performance-ratios.svg)');
    const chart = readFileSync(svg, 'utf8');
    expect(chart.startsWith('<svg')).toBe(true);
    // One bar per targeted row, coloured by its verdict.
    const bars = chart.match(/<rect x="\d+(\.\d+)?" y="[\d.]+" width="[\d.]+" height="\d+" fill="#(2e7d32|c62828)"\/>/g) ?? [];
    expect(bars).toHaveLength(4);
    expect(chart.match(/fill="#2e7d32"/g)?.length ?? 0).toBe(results.summary.met);
  });
});

describe('benchmark runner arguments', () => {
  it('refuses an unknown section with exit code 2 and names the known ones', async () => {
    const err = await run(process.execPath, ['bench/run.mjs', '--only', 'nope'], { cwd: root }).then(() => null, (e: unknown) => e as { code: number; stderr: string });
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain('unknown section(s): nope');
    expect(err?.stderr).toContain('verify, refresh, http, service, scale, fanout');
  });
});
