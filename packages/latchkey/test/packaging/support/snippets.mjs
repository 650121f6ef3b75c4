/**
 * The TypeScript snippets of the README and the docs, for the tarball test to type-check against the
 * packed packages. Every ```ts block is checked, as its own module, with support/snippet-globals.d.ts
 * declaring the names that snippets use without defining (`user`, `app`, `verifyPassword`...).
 *
 * Markers, on the line just above a block's fence (HTML comments: invisible on the rendered page):
 * - `<!-- snippet: skip (reason) -->` leaves the block out (a fragment that cannot stand alone).
 * - `<!-- snippet-prelude: declare const x: T; -->` puts declarations in front of the block.
 * Blocks of Next.js app code (imports of `next/...` or the app alias `@/...`) are left out: they need
 * a Next.js project around them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SNIPPET_SOURCES = ['README.md', 'packages/latchkey/README.md', 'packages/client/README.md', 'packages/react/README.md'];

/** @returns {{ checked: { file: string, source: string, line: number, code: string, prelude: string }[], skipped: { source: string, line: number, reason: string }[] }} */
export function collectSnippets(root) {
  const sources = [...SNIPPET_SOURCES, ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)].filter((f) => existsSync(join(root, f)));
  const checked = [];
  const skipped = [];
  for (const source of sources) {
    const lines = readFileSync(join(root, source), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const fence = /^```(ts|typescript)\s*$/.exec(lines[i]);
      if (!fence) {
        // Skip over other fenced blocks whole, so that a ``` inside them is not taken for an opening.
        if (/^```/.test(lines[i])) while (++i < lines.length && !/^```\s*$/.test(lines[i]));
        continue;
      }
      const start = i + 1;
      let end = start;
      while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
      const code = lines.slice(start, end).join('\n');
      const markers = [];
      for (let j = i - 1; j >= 0 && /^<!--.*-->\s*$/.test(lines[j]); j--) markers.unshift(lines[j]);
      const skip = markers.map((m) => /<!--\s*snippet:\s*skip\s*(.*?)\s*-->/.exec(m)).find(Boolean);
      const prelude = markers.map((m) => /<!--\s*snippet-prelude:\s*(.*?)\s*-->/.exec(m)?.[1]).filter(Boolean).join('\n');
      if (skip) skipped.push({ source, line: start, reason: skip[1] || 'marked skip' });
      else if (/from\s+'(next\/|@\/)/.test(code)) skipped.push({ source, line: start, reason: 'Next.js app code' });
      else checked.push({ file: `${source.replace(/[^\w]+/g, '_')}_L${start}.ts`, source, line: start, code, prelude });
      i = end;
    }
  }
  return { checked, skipped };
}
