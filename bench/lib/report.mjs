/** The terminal table and number formatting shared by the runner and the docs renderer. */

export function formatValue(row) {
  if (row.status === 'skipped') return 'skipped';
  if (row.status === 'error') return 'error';
  const v = row.value;
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  if (row.metric === 'ms') return `${v < 10 ? v.toFixed(2) : v.toFixed(0)} ms`;
  if (row.metric === 'bytes/session') return `${v.toFixed(0)} B/session`;
  if (row.metric === 'MB') return `${v.toFixed(1)} MB`;
  if (row.metric === 'ratio') return `${v.toFixed(2)}×`;
  if (row.metric === 'µs') return `${v.toFixed(v < 10 ? 1 : 0)} µs`;
  const unit = row.metric ?? '';
  const n = v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : v >= 1e4 ? `${(v / 1e3).toFixed(1)} k` : v >= 100 ? v.toFixed(0) : v.toFixed(1);
  return `${n} ${unit}`.trim();
}

export function formatMs(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '';
  if (ms < 0.01) return `${(ms * 1000).toFixed(1)} µs`;
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  return `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
}

export function formatRatio(row) {
  return typeof row.ratio === 'number' ? `${row.ratio.toFixed(2)}× ${row.baseline ?? ''}`.trim() : '';
}

export function formatMet(row) {
  if (row.met === true) return 'met';
  if (row.met === false) return 'NOT MET';
  return '';
}

/** Rows of cells for every section (skipped/errored sections get one line saying why). */
export function tableRows(results) {
  const out = [];
  for (const section of results.sections) {
    if (section.status !== 'ok' && section.rows.length === 0) {
      out.push([section.name, `${section.status}: ${firstLine(section.reason)}`, '', '', '', '', '']);
      continue;
    }
    for (const row of section.rows) {
      const caseText = row.status === 'skipped' ? `${row.case} (skipped: ${firstLine(row.reason)})` : row.case;
      out.push([section.name, caseText, formatValue(row), formatMs(row.p99Ms), formatRatio(row), row.target ?? '', formatMet(row)]);
    }
    if (section.status !== 'ok') out.push([section.name, `${section.status}: ${firstLine(section.reason)}`, '', '', '', '', '']);
  }
  return out;
}

export const TABLE_HEADER = ['section', 'case', 'ops/s | req/s | value', 'p99', 'ratio vs baseline', 'target', 'met'];

export function firstLine(text) {
  return String(text ?? '').split('\n')[0].slice(0, 160);
}

export function renderTable(results) {
  const rows = [TABLE_HEADER, ...tableRows(results)];
  const widths = TABLE_HEADER.map((_, i) => Math.min(90, Math.max(...rows.map((r) => String(r[i]).length))));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** Every row that carries a target, for the summary and the chart. */
export function targetRows(results) {
  return results.sections.flatMap((s) => s.rows.filter((r) => typeof r.met === 'boolean'));
}
