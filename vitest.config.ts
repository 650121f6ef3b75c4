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

const ALL = ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'bench/test/**/*.test.ts', 'scripts/test/**/*.test.ts'];

/** Suites that drive real Chromium: one at a time, so two browsers never share the two cores. */
/**
 * @latchkey/react under React 18: this file gets packages/react18-compat's React (a workspace of its
 * own, so npm installs React 18 there beside the root's React 19), through the `react18` project's aliases.
 */
const REACT18 = ['packages/react/test/react18.test.ts'];
const react18 = fileURLToPath(new URL('./packages/react18-compat/node_modules/', import.meta.url));

const BROWSER = [
  'packages/client/test/browser.test.ts',
  'packages/client/test/cross-origin.test.ts',
  'packages/react/test/browser.test.ts',
  'packages/latchkey/test/http/browser.test.ts',
  'packages/latchkey/test/hardening/browser-storage.test.ts',
  'packages/latchkey/test/admin/browser.test.ts',
  'examples/*/test/**/*.test.ts',
];

/**
 * Suites whose assertions carry a deadline the system promises (revocation fan-out within 1 s, a
 * reconnect and catch-up after a Redis or PostgreSQL restart, graceful shutdown under load) and that
 * start processes and private servers of their own. They run last, one file at a time, so the
 * deadlines are measured on a machine that is not also running a browser and every other suite.
 */
const TIMED = [
  'packages/latchkey/test/multi-instance/**/*.test.ts',
  'packages/latchkey/test/hardening/load.test.ts',
  'packages/latchkey/test/service/shutdown.test.ts',
  'packages/latchkey/test/service/fanout.test.ts',
];

export default defineConfig({
  plugins: [workspaceSources()],
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      // Two cores: two workers. Suites that share a server create their own database or schema.
      { extends: true, test: { name: 'unit', include: ALL, exclude: [...BROWSER, ...TIMED, ...REACT18], pool: 'forks', maxWorkers: 2, sequence: { groupOrder: 0 } } },
      {
        extends: true,
        resolve: { alias: [{ find: /^react$/, replacement: `${react18}react` }, { find: /^react-dom\/(client|server)$/, replacement: `${react18}react-dom/$1` }] },
        test: { name: 'react18', include: REACT18, pool: 'forks', maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      { extends: true, test: { name: 'browser', include: BROWSER, pool: 'forks', fileParallelism: false, sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'timed', include: TIMED, pool: 'forks', fileParallelism: false, sequence: { groupOrder: 2 } } },
    ],
  },
});
