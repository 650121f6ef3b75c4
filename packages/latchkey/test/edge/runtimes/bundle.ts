/**
 * Builds the edge test app for the runtimes: one ESM file, latchkey/edge and jose inlined, bundled for
 * the `neutral` platform, where a `node:` import cannot resolve: the bundle failing is the proof that
 * the edge entry needs nothing of Node. Buffer and process are checked for by name as well.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import type { EdgeVerifierOptions } from 'latchkey/edge';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

export async function bundleEdgeApp(entry: string, config: EdgeVerifierOptions | undefined): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    conditions: ['worker', 'browser'],
    alias: { 'latchkey/edge': `${SRC}edge/index.ts`, 'latchkey/adapters/hono-edge': `${SRC}adapters/hono-edge.ts` },
    define: config === undefined ? {} : { LATCHKEY_EDGE_CONFIG: JSON.stringify(config) },
    logLevel: 'silent',
  });
  return result.outputFiles![0]!.text;
}
