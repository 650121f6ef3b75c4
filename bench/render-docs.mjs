#!/usr/bin/env node
/**
 * Renders docs/performance.md and docs/performance-ratios.svg from a results file (default
 * bench/results/latest.json): `node bench/render-docs.mjs [--in file] [--md file] [--svg file]`.
 * Every figure in the page comes from the results; the prose says what each section measures and how
 * to read it, and states targets as met or not met exactly as the run found them.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { firstLine, formatMet, formatMs, formatRatio, formatValue, targetRows } from './lib/report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

const SECTION_TEXT = {
  verify: 'Access-token verification on one core, calls per second, on the same latchkey-issued tokens for every library (iss, aud and exp checked by each). The floor is `crypto.verify` from node:crypto on the token\'s signature: nothing can verify a JWS for less. "cache off" is `verifyCacheSize: 0` over 2 000 distinct tokens (500 in --quick), so every call checks a signature; "cache on" is the default engine over the same tokens, which checks each signature once and then only expiry and the revocation denylist (the cache never changes an answer). `WebCrypto subtle.verify` is the same signature check through `crypto.subtle`, which is what jose v6 uses.',
  refresh: 'Refresh-token rotation (one durable write per call, plus minting an access and an ID token), 8 concurrent clients each following its own token chain. SQLite is a file in a temp dir with the store\'s own pragmas (WAL, synchronous=NORMAL); its floor is one single-row UPDATE per transaction on the same settings. PostgreSQL is compared with pgbench on the same server, same client count and duration, running a one-UPDATE-per-transaction script: the durable-write floor (the target). For explanation only, pgbench also runs a transaction of the same shape as a latchkey refresh (BEGIN; SELECT … FOR UPDATE; UPDATE + INSERT in one statement; COMMIT: four round trips) and the one-statement UPDATE + INSERT proposed in the analysis below (one round trip), in pgbench and from Node through node-postgres (what the driver and event loop cost before latchkey does anything). CPU/call is the Node process\'s CPU time per refresh, all threads.',
  http: 'An authenticated `GET /me` (access token in the `__Host-lk_access` cookie, as a browser sends it; and, in the "API key" rows, a user API key in `Authorization: Bearer lk_...` behind the adapter\'s `requireApiKey({ scopes })`, as a script sends it) through the latchkey adapter of each framework, against the same framework serving the same route without authentication; and against Express with express-session + connect-redis (a Redis read and touch per request) and with iron-session (a sealed cookie decrypted per request). autocannon runs in its own process, the server in another, on 127.0.0.1. autocannon reports latency in whole milliseconds, so p99 reads 0 ms below 1 ms. Because requests per second on a shared 2-core machine move with whatever else runs, the server also reports its own CPU time per request (`process.cpuUsage()` over the measured load ÷ requests served): the "server CPU per request" rows, lower is better, which other load disturbs far less.',
  service: 'The standalone service\'s hot routes, `POST /v1/sessions/verify` and `POST /v1/sessions/refresh`, against a bare Hono route that reads the same JSON body and answers JSON: in process through the Hono app\'s `fetch` (no sockets), one request at a time, on the in-memory store, so the figures are the service\'s own per-request work (service-key check, body limit, schema, log line, metrics, the engine).',
  scale: 'Verification throughput with 1 and 2 processes (one per core), memory per revoked session in the in-memory revocation denylist (heapUsed growth after forced GC, the session-id strings included since the denylist is what keeps them alive), and what a large SQLite store costs: file size, resident memory of an engine process, and refresh rate against an empty store.',
  'api-keys': 'User API key verification (`latchkey.apiKeys.verify`) on one core, calls per second, over 2 000 distinct keys (500 in --quick), cycled. "cached" is the default engine after every key was verified once: a hit still computes the SHA-256 of the presented key and compares it with the stored hash in constant time, and checks revocation and expiry; its baseline is a cached session-token verification (`verifyAccessToken`, cache on) over as many tokens, in the same run. "uncached" is `apiKeyCacheSize: 0`, every call a store read; its floor is one SHA-256 of the key plus one `store.getApiKey` by id, on the same store, which no verification can undercut. CPU/call is the process\'s CPU time per call, which other load on the machine disturbs less than calls per second.',
  fanout: 'Revoke-to-refusal delay between two instances (two processes over one PostgreSQL schema): from the start of `revokeSession` on instance A to the first refused verification of that session\'s (cached) access token on instance B, with the Redis bus and, for contrast, with the store poll alone.',
  dpop: 'What device binding costs. Engine: `verifyAccessToken` of a DPoP-bound token with a fresh proof per call (signature, `ath`, thumbprint, replay cache: work no cache can skip, since every proof is new) against the same engine\'s Bearer verification with its cache on. HTTP: `GET /me` behind `requireSession` on node:http in header mode, the same route and server for both, Bearer against DPoP with a fresh pre-signed ES256 proof per request, 16 keep-alive connections from a load generator in another process (autocannon sends one fixed request, and a proof is single-use); the server\'s CPU time per request is measured inside it. Memory: the `jti` replay cache per 1M proofs, in memory (V8 heap growth after a forced GC for N entries, scaled) and in Redis (INFO used_memory growth for N keys, and MEMORY USAGE of a sample of them, scaled).',
};

function table(header, rows) {
  const esc = (c) => String(c ?? '').replace(/\|/g, '\\|');
  return [`| ${header.join(' | ')} |`, `|${header.map(() => ' --- ').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

function find(results, section, caseName) {
  return results.sections.find((s) => s.name === section)?.rows.find((r) => r.case === caseName);
}

function pct(x) {
  return `${Math.round(x * 100)} %`;
}

/** Sentences computed from the figures, for the verify section's known facts. */
function verifyFindings(results) {
  const out = [];
  for (const alg of ['EdDSA', 'ES256', 'RS256']) {
    const floor = find(results, 'verify', `${alg} node:crypto verify (floor)`);
    const jose = find(results, 'verify', `${alg} jose jwtVerify`);
    const subtle = find(results, 'verify', `${alg} WebCrypto subtle.verify`);
    const off = find(results, 'verify', `${alg} latchkey (cache off)`);
    const on = find(results, 'verify', `${alg} latchkey (cache on)`);
    if (!floor?.value || !jose?.value || !off?.value || !on?.value) continue;
    out.push(`- **${alg}**: node:crypto ${formatValue(floor)}; WebCrypto alone ${subtle?.value ? pct(subtle.value / floor.value) : '–'} of it; jose \`jwtVerify\` ${pct(jose.value / floor.value)}; latchkey with the cache off ${pct(off.value / floor.value)} (${(off.value / jose.value).toFixed(2)}× jose); with the cache on ${formatValue(on)} (${(on.value / floor.value).toFixed(0)}× the floor).`);
  }
  return out.join('\n');
}

/** A horizontal bar per targeted ratio, log scale, the target marked; green met, red not met. */
export function renderSvg(results) {
  const rows = targetRows(results).filter((r) => typeof r.ratio === 'number' && r.ratio > 0);
  const width = 880;
  const labelWidth = 430;
  const barArea = width - labelWidth - 90;
  const rowHeight = 22;
  const top = 48;
  const height = top + rows.length * rowHeight + 40;
  const lo = -1; // 0.1×
  const hi = Math.max(1, Math.ceil(Math.log10(Math.max(2, ...rows.map((r) => r.ratio)))));
  const x = (ratio) => labelWidth + ((Math.log10(Math.min(Math.max(ratio, 10 ** lo), 10 ** hi)) - lo) / (hi - lo)) * barArea;
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="20" font-size="14" font-weight="600">latchkey: ratio against the baseline measured in the same run (log scale; | = target)</text>`,
    `<text x="12" y="36" fill="#555">${esc(`${results.mode} run, ${results.startedAt}, ${results.machine.cpuModel} × ${results.machine.cores}, Node ${results.machine.node}`)}</text>`,
  ];
  for (let d = lo; d <= hi; d++) {
    const gx = x(10 ** d).toFixed(1);
    parts.push(`<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${top + rows.length * rowHeight}" stroke="#ddd"/>`);
    parts.push(`<text x="${gx}" y="${top + rows.length * rowHeight + 16}" text-anchor="middle" fill="#555">${10 ** d}×</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowHeight;
    const target = /≥ (\d+) %/.exec(r.target ?? '') ? Number(/≥ (\d+) %/.exec(r.target)[1]) / 100 : Number(/≥ ([\d.]+)×/.exec(r.target ?? '')?.[1] ?? NaN);
    parts.push(`<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${esc(`${r.section}: ${r.case}`.slice(0, 70))}</text>`);
    parts.push(`<rect x="${labelWidth}" y="${y + 4}" width="${Math.max(1, x(r.ratio) - labelWidth).toFixed(1)}" height="${rowHeight - 8}" fill="${r.met ? '#2e7d32' : '#c62828'}"/>`);
    if (Number.isFinite(target)) parts.push(`<line x1="${x(target).toFixed(1)}" y1="${y + 1}" x2="${x(target).toFixed(1)}" y2="${y + rowHeight - 1}" stroke="#000" stroke-width="2"/>`);
    parts.push(`<text x="${(x(r.ratio) + 6).toFixed(1)}" y="${y + 15}">${r.ratio.toFixed(2)}×</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export function renderMarkdown(results, svgPath) {
  const m = results.machine;
  const targets = targetRows(results);
  const lines = [];
  lines.push('# Performance', '');
  lines.push('<!-- Generated by `node bench/render-docs.mjs` from bench/results/latest.json. Do not edit by hand: re-run the benchmarks. -->', '');
  lines.push('Performance is measured here, never asserted in tests. Every comparison is a ratio against a baseline measured in the same run on the same machine, and every target is reported as met or not met as found.', '');
  lines.push('Run it yourself: `npm run bench` (builds, then the full suite, about 10 minutes), `node bench/run.mjs --quick` (under 2 minutes), `node bench/run.mjs --only verify,http` (some sections). Results go to `bench/results/<timestamp>.json` and `bench/results/latest.json`; `node bench/render-docs.mjs` rewrites this page from the latest.', '');
  lines.push('## This run', '');
  if (results.mode !== 'full') lines.push(`> **These figures come from a \`${results.mode}\` run${results.scale !== 1 ? ` at duration scale ${results.scale}` : ''}**: shorter rounds and smaller counts than the full suite, so they are rougher. Re-run \`npm run bench\` for the full figures.`, '');
  lines.push(table(['', ''], [
    ['Command', `\`${results.command}\``],
    ['Started', results.startedAt],
    ['Duration', `${Math.round(results.durationSeconds)} s`],
    ['CPU', `${m.cpuModel}, ${m.cores} cores`],
    ['Memory', `${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB`],
    ['Node', `${m.node} (V8 ${m.v8})`],
    ['OS', m.platform],
    ['Load average (1 min) at start', m.loadAverageAtStart.map((x) => x.toFixed(2)).join(', ')],
  ]), '');
  lines.push('The machine is shared (other processes ran during the run): each section records the 1-minute load average before and after it, below. Figures taken under load understate throughput; ratios suffer less, since baseline and subject ran interleaved.', '');
  lines.push('### Versions', '');
  lines.push(table(['Package', 'Version'], Object.entries(results.versions).map(([k, v]) => [k, v ?? 'not installed'])), '');
  lines.push('## Targets', '');
  lines.push(`${targets.filter((r) => r.met).length} of ${targets.length} targets met.`, '');
  if (svgPath) lines.push(`![Ratios against baselines](${svgPath})`, '');
  lines.push(table(['Section', 'Case', 'Value', 'Ratio', 'Target', 'Result'], targets.map((r) => [r.section, r.case, formatValue(r), formatRatio(r), r.target, formatMet(r)])), '');
  for (const s of results.sections) {
    lines.push(`## ${s.name}`, '');
    if (SECTION_TEXT[s.name]) lines.push(SECTION_TEXT[s.name], '');
    lines.push(`Status: ${s.status}${s.reason ? ` (${firstLine(s.reason)})` : ''}; ${Math.round(s.seconds)} s; load average ${s.loadAverage?.before?.toFixed(2)} → ${s.loadAverage?.after?.toFixed(2)}.`, '');
    if (s.rows.length > 0) {
      // CPU time per call (process-wide, all threads), where the section measured it.
      const cpuOf = (r) => r.cpuMicrosPerOp ?? undefined;
      const withCpu = s.rows.some((r) => cpuOf(r) > 0);
      lines.push(table(['Case', 'Value', 'p50', 'p99', ...(withCpu ? ['CPU/call'] : []), 'Ratio', 'Target', 'Result'], s.rows.map((r) => [
        r.status && r.status !== 'ok' ? `${r.case} (${r.status}: ${firstLine(r.reason)})` : r.case,
        formatValue(r), formatMs(r.p50Ms), formatMs(r.p99Ms), ...(withCpu ? [cpuOf(r) > 0 ? `${cpuOf(r).toFixed(1)} µs` : ''] : []), formatRatio(r), r.target ?? '', formatMet(r),
      ])), '');
    }
    if (s.name === 'verify') {
      const findings = verifyFindings(results);
      if (findings) lines.push('What the figures say:', '', findings, '');
    }
    for (const n of s.notes ?? []) lines.push(`- ${n}`);
    if ((s.notes ?? []).length) lines.push('');
  }
  return lines.join('\n');
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const { values } = parseArgs({
    options: {
      in: { type: 'string', default: join(here, 'results', 'latest.json') },
      md: { type: 'string', default: join(root, 'docs', 'performance.md') },
      svg: { type: 'string', default: join(root, 'docs', 'performance-ratios.svg') },
      // Hand-written analysis appended after the figures; default bench/analysis.md when present.
      extra: { type: 'string' },
    },
  });
  const results = JSON.parse(readFileSync(values.in, 'utf8'));
  writeFileSync(values.svg, renderSvg(results));
  let md = renderMarkdown(results, relative(dirname(values.md), values.svg));
  // Hand-written analysis (profiling findings, explanations) appended verbatim when given.
  const extra = values.extra ?? (existsSync(join(here, 'analysis.md')) ? join(here, 'analysis.md') : undefined);
  if (extra) md += `\n${readFileSync(extra, 'utf8')}`;
  writeFileSync(values.md, md.endsWith('\n') ? md : `${md}\n`);
  console.log(`wrote ${values.md} and ${values.svg}`);
}
