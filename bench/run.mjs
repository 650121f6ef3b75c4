#!/usr/bin/env node
/**
 * The latchkey benchmark runner: `node bench/run.mjs [--quick] [--only <section>[,<section>]] [--out <dir>]`.
 *
 * Runs each section in its own child process (see lib/section.mjs), shows a progress line, prints a
 * table of every case with its ratio against the baseline measured in the same run and whether the
 * target is met, and writes the results as JSON to `<out>/<timestamp>.json` and `<out>/latest.json`.
 * Render docs/performance.md from the latest results with `node bench/render-docs.mjs`.
 *
 * Options:
 *   --quick          shorter rounds and smaller counts (whole run well under 2 minutes)
 *   --only a,b       run only these sections
 *   --out <dir>      where results go (default bench/results)
 *   --scale <x>      multiply every duration by x (the harness test uses 0.2; figures at < 1 are rough)
 *   --section-timeout <s>  kill a section that runs longer (default 300 quick, 600 full)
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineInfo, peerVersions } from './lib/env.mjs';
import { firstLine, renderTable, targetRows } from './lib/report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const SECTIONS = ['verify', 'refresh', 'http', 'service', 'scale', 'fanout', 'api-keys', 'dpop', 'audit'];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: join(here, 'results') },
    scale: { type: 'string', default: '1' },
    'section-timeout': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('usage: node bench/run.mjs [--quick] [--only verify,refresh,http,scale,fanout] [--out dir] [--scale x]');
  process.exit(0);
}
const only = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : SECTIONS;
const unknown = only.filter((s) => !SECTIONS.includes(s));
if (unknown.length > 0) {
  console.error(`unknown section(s): ${unknown.join(', ')} (known: ${SECTIONS.join(', ')})`);
  process.exit(2);
}
const scale = Number(values.scale);
if (!(scale > 0)) {
  console.error('--scale must be a positive number');
  process.exit(2);
}
const sectionTimeoutMs = 1000 * Number(values['section-timeout'] ?? (values.quick ? 300 : 600));

const tty = process.stderr.isTTY;
const started = Date.now();
function progress(text) {
  const elapsed = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  const line = `[${elapsed} s] ${text}`;
  if (tty) process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
  else process.stderr.write(`${line}\n`);
}

function runSectionProcess(name) {
  return new Promise((resolvePromise) => {
    const child = fork(join(here, 'sections', `${name}.mjs`), [JSON.stringify({ quick: values.quick, scale })], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      execArgv: ['--expose-gc'],
    });
    let result;
    // Keep the start (where the error is named) and the end of stderr.
    let stderrHead = '';
    let stderr = '';
    child.stderr.on('data', (d) => {
      if (stderrHead.length < 3000) stderrHead += String(d).slice(0, 3000 - stderrHead.length);
      stderr = (stderr + d).slice(-3000);
    });
    child.on('message', (m) => {
      if (m?.type === 'progress') progress(m.text);
      else if (m?.type === 'result') result = m.result;
    });
    const timer = setTimeout(() => {
      stderr += `\nsection timed out after ${sectionTimeoutMs / 1000} s`;
      child.kill('SIGKILL');
    }, sectionTimeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const tail = stderrHead.length < 3000 ? '' : `\n...\n${stderr}`;
      resolvePromise(result ?? { status: 'error', reason: `section process ended (${signal ?? code}) without a result\n${stderrHead}${tail}`, rows: [], notes: [] });
    });
  });
}

const results = {
  startedAt: new Date(started).toISOString(),
  finishedAt: null,
  durationSeconds: null,
  mode: values.quick ? 'quick' : 'full',
  scale,
  command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  machine: machineInfo(),
  versions: peerVersions(),
  sections: [],
};

for (const [index, name] of only.entries()) {
  progress(`${name} (${index + 1}/${only.length}) starting`);
  const t0 = Date.now();
  const loadBefore = os.loadavg()[0];
  const result = await runSectionProcess(name);
  // The 1-minute load average around each section: figures taken while other work ran are suspect.
  results.sections.push({ name, seconds: (Date.now() - t0) / 1000, loadAverage: { before: loadBefore, after: os.loadavg()[0] }, ...result });
  progress(`${name} ${result.status} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (tty) process.stderr.write('\n');
}

results.finishedAt = new Date().toISOString();
results.durationSeconds = (Date.now() - started) / 1000;
const targets = targetRows(results);
results.summary = { targets: targets.length, met: targets.filter((r) => r.met).length };

const outDir = resolve(values.out);
mkdirSync(outDir, { recursive: true });
const json = JSON.stringify(results, null, 2);
const stamp = results.startedAt.replace(/[:.]/g, '-');
writeFileSync(join(outDir, `${stamp}.json`), json);
writeFileSync(join(outDir, 'latest.json'), json);

console.log(`\nlatchkey benchmarks (${results.mode}), ${results.machine.cpuModel} × ${results.machine.cores}, Node ${results.machine.node}\n`);
console.log(renderTable(results));
for (const s of results.sections) for (const n of s.notes ?? []) console.log(`\n[${s.name}] ${n}`);
for (const s of results.sections) if (s.status === 'error') console.log(`\n[${s.name}] ERROR: ${firstLine(s.reason)}`);
console.log(`\ntargets met: ${results.summary.met}/${results.summary.targets}; ${results.durationSeconds.toFixed(0)} s; results in ${join(outDir, 'latest.json')}`);
process.exitCode = results.sections.some((s) => s.status === 'error') ? 1 : 0;
