#!/usr/bin/env node
/**
 * Size budget for @latchkey/react: what it adds to a page that already ships React and the SDK.
 * The same measurement as @latchkey/client's (its measureBundle: esbuild, minified ESM, gzip at
 * zlib's default level), with React and @latchkey/client left out of the bundle.
 *
 *   node packages/react/scripts/size.mjs        # prints sizes, exit 1 over budget
 * The test suite imports measure() and asserts the same budget.
 */
import { fileURLToPath } from 'node:url';
import { measureBundle } from '../../client/scripts/size.mjs';

/** Bytes (SI): issue 15's "under 2 kB min+gzip on top of the SDK". */
export const BUDGET_BYTES = 2000;

export function measure() {
  return measureBundle(fileURLToPath(new URL('../src/index.ts', import.meta.url)), BUDGET_BYTES, ['react', '@latchkey/client']);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { minified, gzipped, budget } = await measure();
  const ok = gzipped < budget;
  console.log(
    `@latchkey/react: ${minified} B minified, ${gzipped} B min+gzip on top of React and the SDK (budget: under ${budget} B) ${ok ? 'OK' : 'OVER BUDGET'}`,
  );
  process.exit(ok ? 0 : 1);
}
