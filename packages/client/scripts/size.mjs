#!/usr/bin/env node
/**
 * Size budget for @latchkey/client: the SDK ships to every page, so it must stay small.
 * Bundles src/index.ts as an app would (esbuild, minified ESM, everything tree-shaken in), gzips it
 * with zlib at the default level, and fails when the result is over BUDGET_BYTES.
 *
 *   node packages/client/scripts/size.mjs        # prints sizes, exit 1 over budget
 * The test suite imports measure() and asserts the same budget.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

// Bytes (SI). Set at 5000 B ("5 kB"), which the SDK had reached exactly. Raised to 5300 B (+6%) for
// issue 11's edge promises, which are behaviour, not convenience: the refresh attempt and its one
// retry fitted into the server's announced grace window (and the window shared between tabs), claim
// updates adopted and announced in both modes, refreshes without a verdict reported as a typed error
// instead of a sign-out, `unauthorised` once per request with the axios interceptor installed twice,
// a stale app-set bearer replaced, and one explicit session state. Measured 5248 B with them after
// trimming ~80 B elsewhere (shared event listeners, shorter messages, simpler error parsing); cutting
// the rest would mean dropping the tested localStorage fallbacks for browsers without Web Locks.
// Raised to 5650 B (+6.6%) for issue 13's DPoP slot in the core, which every header-mode request
// passes through: `Authorization: DPoP` and a proof per request and per refresh attempt (each
// attempt signed afresh, since a resent proof would be a replay), the one resend on a new server
// nonce in the fetch wrapper, the axios interceptor and the refresher, the key id kept with the
// tokens and forgotten with the session, a clear error for `dpop` outside header mode, and
// isDeviceBound(). The signing itself is the separate entry `@latchkey/client/dpop` (DPOP_BUDGET_BYTES).
export const BUDGET_BYTES = 5650;
/**
 * `@latchkey/client/dpop` (key generation, key stores, proof signing), measured alone: what an app
 * that turns DPoP on ships on top of the core (shared helpers are counted in both, so this is an
 * upper bound of the increment).
 */
export const DPOP_BUDGET_BYTES = 1400;
/**
 * `@latchkey/client/claims` (issue 16: the claim validators shared with the server, `withClaims`,
 * the 403 `CLAIM_VALIDATION_FAILED` reader and error), measured alone like the DPoP entry. Kept out
 * of the core, which had 35 B left of its budget: an app without claims ships none of it.
 * Measured 1690 B.
 */
export const CLAIMS_BUDGET_BYTES = 1800;

const BUDGETS = { 'index.ts': BUDGET_BYTES, 'dpop/index.ts': DPOP_BUDGET_BYTES, 'claims/index.ts': CLAIMS_BUDGET_BYTES };

/** @param entry The entry point under src/: `index.ts` (the core), `dpop/index.ts` or `claims/index.ts`. */
export function measure(entry = 'index.ts') {
  return measureBundle(fileURLToPath(new URL(`../src/${entry}`, import.meta.url)), BUDGETS[entry]);
}

/**
 * Bundles one entry as an app would and measures it. `external` are packages the app ships anyway
 * (another package's budget counts only what it adds on top of them: @latchkey/react's, React and the SDK).
 */
export async function measureBundle(entry, budget, external = []) {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    external,
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  return { minified: code.byteLength, gzipped: gzipSync(code).byteLength, budget };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let ok = true;
  for (const [name, entry] of [
    ['@latchkey/client', 'index.ts'],
    ['@latchkey/client/dpop', 'dpop/index.ts'],
    ['@latchkey/client/claims', 'claims/index.ts'],
  ]) {
    const { minified, gzipped, budget } = await measure(entry);
    ok &&= gzipped <= budget;
    console.log(`${name}: ${minified} B minified, ${gzipped} B min+gzip (budget ${budget} B) ${gzipped <= budget ? 'OK' : 'OVER BUDGET'}`);
  }
  process.exit(ok ? 0 : 1);
}
