#!/usr/bin/env node
/**
 * Writes packages/latchkey/openapi.json from the zod schemas (via the built service module), so the
 * committed document is exactly what `/openapi.json` serves. Run after building:
 *
 *   npx tsc -b packages/latchkey && node packages/latchkey/scripts/generate-openapi.mjs
 *
 * With --check it writes nothing and exits 1 when the committed file is stale (for CI).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const target = fileURLToPath(new URL('../openapi.json', import.meta.url));
let openApiText;
try {
  ({ openApiText } = await import('../dist/service/openapi.js'));
} catch (err) {
  console.error('generate-openapi: build the package first (npx tsc -b packages/latchkey)');
  console.error(err instanceof Error ? err.message : err);
  process.exit(2);
}
const text = openApiText();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // No file yet: compared with '' it is stale.
  }
  if (current !== text) {
    console.error('openapi.json is stale: run node packages/latchkey/scripts/generate-openapi.mjs');
    process.exit(1);
  }
  console.log('openapi.json is up to date');
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
