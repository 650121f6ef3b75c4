import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = fileURLToPath(new URL('./packages/latchkey/src/', import.meta.url));
const clientSrc = fileURLToPath(new URL('./packages/client/src/', import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the sources; a packaging test checks that the exports map resolves in dist/.
    // Subpaths mirror source paths: `latchkey/stores/sqlite` is src/stores/sqlite.ts.
    alias: [
      { find: /^latchkey$/, replacement: `${src}index.ts` },
      { find: /^latchkey\/(.*)$/, replacement: `${src}$1.ts` },
      { find: /^@latchkey\/client$/, replacement: `${clientSrc}index.ts` },
      { find: /^@latchkey\/client\/(.*)$/, replacement: `${clientSrc}$1.ts` },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'bench/test/**/*.test.ts'],
    pool: 'forks',
    // Two cores: keep it modest. Suites that share a server create their own database or schema.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
