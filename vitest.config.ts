import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vitest/config';

const sources: Record<string, string> = {
  latchkey: fileURLToPath(new URL('./packages/latchkey/src/', import.meta.url)),
  '@latchkey/client': fileURLToPath(new URL('./packages/client/src/', import.meta.url)),
};

/**
 * Tests run against the sources; a packaging test checks that the exports map resolves in dist/.
 * Subpaths mirror source paths: `latchkey/stores/sqlite` is src/stores/sqlite.ts, `latchkey/http`
 * is src/http/index.ts.
 */
function workspaceSources(): Plugin {
  return {
    name: 'latchkey-workspace-sources',
    enforce: 'pre',
    resolveId(id) {
      for (const [name, dir] of Object.entries(sources)) {
        if (id !== name && !id.startsWith(`${name}/`)) continue;
        const sub = id === name ? 'index' : id.slice(name.length + 1);
        for (const candidate of [`${dir}${sub}.ts`, `${dir}${sub}/index.ts`]) {
          if (existsSync(candidate)) return candidate;
        }
      }
      return null;
    },
  };
}

export default defineConfig({
  plugins: [workspaceSources()],
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'bench/test/**/*.test.ts'],
    pool: 'forks',
    // Two cores: keep it modest. Suites that share a server create their own database or schema.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
