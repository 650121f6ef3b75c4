/**
 * Small server-rendered SVG bar charts (refreshes and thefts per hour). Inline SVG with presentation
 * attributes only: no script, no inline style, so the console's CSP (`style-src 'self'`, no script)
 * holds. Escaping is the `html` template's: every value in the markup is a number or escaped text.
 */
import { html } from 'hono/html';

export interface Series {
  /** Start of each bucket, epoch ms, oldest first. */
  starts: number[];
  counts: number[];
}

/** Counts events into `buckets` equal buckets ending at `now`. `at` and `count` per event (a folded refresh row counts its refreshes). */
export function bucketise(events: readonly { at: number; count: number }[], now: number, buckets: number, bucketMs: number): Series {
  const first = now - buckets * bucketMs;
  const counts = new Array<number>(buckets).fill(0);
  for (const e of events) {
    const i = Math.floor((e.at - first) / bucketMs);
    if (i >= 0 && i < buckets) counts[i]! += e.count;
  }
  return { starts: counts.map((_, i) => first + i * bucketMs), counts };
}

function hour(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

/**
 * A bar chart with a text alternative: the SVG's title and description say what a screen reader
 * needs (total, peak and when), the bars carry a tooltip each.
 */
export function barChart(id: string, title: string, series: Series, colour: string) {
  const width = 480;
  const height = 120;
  const pad = 20;
  const max = Math.max(1, ...series.counts);
  const barWidth = (width - pad) / Math.max(1, series.counts.length);
  const total = series.counts.reduce((a, b) => a + b, 0);
  const peak = series.counts.indexOf(Math.max(...series.counts));
  const summary =
    total === 0
      ? `${title}: none in the last ${series.counts.length} hours.`
      : `${title}: ${total} in the last ${series.counts.length} hours; most (${series.counts[peak]}) in the hour from ${hour(series.starts[peak] ?? 0)} UTC.`;
  const bars = series.counts.map((count, i) => {
    const h = Math.round((count / max) * (height - pad - 4));
    const x = Math.round(pad + i * barWidth);
    return html`<rect x="${x}" y="${height - pad - h}" width="${Math.max(1, Math.floor(barWidth) - 2)}" height="${h}" fill="${colour}">
      <title>${hour(series.starts[i] ?? 0)} UTC: ${count}</title>
    </rect>`;
  });
  return html`<figure class="chart">
    <svg
      id="${id}"
      role="img"
      aria-labelledby="${id}-title ${id}-desc"
      viewBox="0 0 ${width} ${height}"
      width="${width}"
      height="${height}"
    >
      <title id="${id}-title">${title}</title>
      <desc id="${id}-desc">${summary}</desc>
      <line x1="${pad}" y1="${height - pad}" x2="${width}" y2="${height - pad}" stroke="#444" />
      <text x="0" y="12" font-size="11" fill="#222">${max}</text>
      <text x="0" y="${height - pad}" font-size="11" fill="#222">0</text>
      <text x="${pad}" y="${height - 4}" font-size="11" fill="#222">${hour(series.starts[0] ?? 0)}</text>
      <text x="${width - 40}" y="${height - 4}" font-size="11" fill="#222">now</text>
      ${bars}
    </svg>
    <figcaption>${summary}</figcaption>
  </figure>`;
}
