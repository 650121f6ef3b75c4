/**
 * The protocol between `bench/run.mjs` and a section script. Every section runs in its own child
 * process (forked by the runner) so that one section's heap, JIT state and open sockets cannot colour
 * the next one's figures, and a crash in one is reported without losing the others.
 *
 * A section receives its options as JSON in `process.argv[2]` and reports over IPC:
 *   { type: 'progress', text }       — a short status for the runner's progress line
 *   { type: 'result', result }       — once, at the end: { status, reason?, rows, notes }
 */

/** Scales a duration in ms by the run's scale factor, never below `min`. */
function scaled(ms, scale, min = 20) {
  return Math.max(min, Math.round(ms * scale));
}

/**
 * Runs `body(ctx)` as a section. `ctx` offers:
 *   quick, scale, ms(full, quick?) — duration for this mode; count(full, quick) — size for this mode;
 *   progress(text); row(row); note(text); skip(reason) — ends the section as skipped.
 */
export async function runSection(name, body) {
  const opts = JSON.parse(process.argv[2] ?? '{}');
  const quick = Boolean(opts.quick);
  const scale = typeof opts.scale === 'number' ? opts.scale : 1;
  const rows = [];
  const notes = [];
  const send = (message) => (process.send ? process.send(message) : process.stdout.write(JSON.stringify(message) + '\n'));
  class Skip extends Error {}
  const ctx = {
    quick,
    scale,
    ms: (full, quickMs = full / 4) => scaled(quick ? quickMs : full, scale),
    count: (full, quickCount) => (quick ? quickCount : full),
    progress: (text) => send({ type: 'progress', text: `${name}: ${text}` }),
    row: (row) => {
      rows.push({ section: name, ...row });
      return rows[rows.length - 1];
    },
    note: (text) => notes.push(text),
    skip: (reason) => {
      throw new Skip(reason);
    },
  };
  // A crash (an 'error' event nobody listens to, say) still reports what it was, with the rows so far.
  const crash = (err) => {
    // A pooled connection that the server terminated (our own DROP DATABASE ... WITH (FORCE) at the
    // end of a section, or another suite restarting backends) is not a benchmark failure.
    if (err?.code === '57P01') {
      notes.push(`A PostgreSQL connection was terminated by the server (${err.message}); ignored.`);
      return;
    }
    send({ type: 'result', result: { status: 'error', reason: `crashed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`.slice(0, 4000), rows, notes } });
    setTimeout(() => process.exit(1), 50);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  let result;
  try {
    await body(ctx);
    result = { status: 'ok', rows, notes };
  } catch (err) {
    if (err instanceof Skip) result = { status: 'skipped', reason: err.message, rows, notes };
    else result = { status: 'error', reason: err instanceof Error ? err.stack ?? err.message : String(err), rows, notes };
  }
  send({ type: 'result', result });
  // Let IPC flush, then leave even if a driver left a handle open.
  setTimeout(() => process.exit(0), 50).unref();
  if (process.send) process.disconnect?.();
}

/**
 * Fills `ratio`, `target` and `met` of `row` against `baseline` (both rows with a `value`).
 * `minRatio`: the target as a minimum ratio (value / baseline); omit for an informational ratio.
 */
export function compare(row, baseline, minRatio, label = baseline?.case) {
  if (!baseline || !(baseline.value > 0) || !(row.value >= 0)) return row;
  row.baseline = label;
  row.ratio = row.value / baseline.value;
  if (minRatio !== undefined) {
    row.target = minRatio < 1 ? `≥ ${Math.round(minRatio * 100)} % of ${label}` : `≥ ${minRatio}× ${label}`;
    row.met = row.ratio >= minRatio;
  }
  return row;
}
