/**
 * The import rules of ARCHITECTURE.md, checked by dependency-cruiser
 * (`npx depcruise packages --config .dependency-cruiser.mjs`; a test runs them on every `npm test`).
 *
 * Layers of packages/latchkey/src, lowest first. A module may import its own layer and the layers
 * below it, never one above:
 *
 *   foundation   types, errors, clock, events, util/
 *   blocks       tokens/, keys/, refresh/, revocation/, stores/, api-keys/, dpop/, dbsc/, audit/, claims/ (store contract: stores/types.ts)
 *   engine       engine.ts, options.ts, engine/
 *   edge         edge/            (verify-only, web standards alone; beside the engine, never importing it)
 *   http         http/            (the framework-free transport core)
 *   adapters     adapters/        (each translates one framework to http/; never another adapter)
 *   service      service/         (the standalone service; uses engine and http helpers)
 *   cli          cli/
 *   entry points index.ts and each folder index.ts, testing/ (nothing in src imports them: they only re-export)
 *
 * Rules are written against a source root so that a test can run the same rules on a small fixture
 * tree with deliberate violations and see each one reported.
 */

/** @param {string} src the source root, relative to the repository root, e.g. 'packages/latchkey/src' */
export function layerRules(src) {
  const at = (pattern) => `^${src}/${pattern}`;
  const FOUNDATION = at('(types|errors|clock|events)\\.[cm]?[jt]s$|^' + src + '/util/');
  const BLOCKS = at('(tokens|keys|refresh|revocation|stores|api-keys|dpop|dbsc|audit|claims)/');
  const ENGINE = at('(engine|options)\\.[cm]?[jt]s$|^' + src + '/engine/');
  const EDGE = at('edge/');
  const HTTP = at('http/');
  const ADAPTERS = at('adapters/');
  const SERVICE = at('service/');
  const CLI = at('cli/');
  const ENTRY = [at('index\\.[cm]?[jt]s$'), at('[a-z-]+/index\\.[cm]?[jt]s$'), at('testing/')].join('|');
  const DRIVERS = at('(stores/(memory|sqlite|postgres)|revocation/(redis|pg-notify)|dpop/redis)\\.[cm]?[jt]s$');
  const above = (...layers) => layers.join('|');

  return [
    {
      name: 'foundation-stays-at-the-bottom',
      comment: 'types, errors, clock, events and util import nothing of latchkey above them.',
      severity: 'error',
      from: { path: FOUNDATION },
      to: { path: above(BLOCKS, ENGINE, EDGE, HTTP, ADAPTERS, SERVICE, CLI, ENTRY) },
    },
    {
      name: 'blocks-below-engine',
      comment: 'Tokens, keys, refresh rotation, revocation and stores know nothing of the engine or any transport.',
      severity: 'error',
      from: { path: BLOCKS },
      to: { path: above(ENGINE, EDGE, HTTP, ADAPTERS, SERVICE, CLI, ENTRY) },
    },
    {
      name: 'engine-below-transports',
      comment: 'The engine is transport-free: it never imports the HTTP layer, an adapter, the service or the CLI.',
      severity: 'error',
      from: { path: ENGINE },
      to: { path: above(HTTP, ADAPTERS, SERVICE, CLI, ENTRY) },
    },
    {
      name: 'edge-is-verify-only',
      comment: 'latchkey/edge verifies with the shared blocks alone: no engine, store driver or transport (they need Node).',
      severity: 'error',
      from: { path: EDGE },
      to: { path: above(ENGINE, HTTP, ADAPTERS, SERVICE, CLI, DRIVERS, ENTRY) },
    },
    {
      name: 'edge-is-web-standard',
      comment:
        'latchkey/edge runs in Bun, Deno, workerd and Next.js proxies: no Node built-in. (What it reaches in ' +
        'tokens/ and revocation/ is held to the same by test/edge/runtimes.test.ts, which bundles it for ' +
        "esbuild's neutral platform.)",
      severity: 'error',
      from: { path: EDGE },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'http-below-adapters',
      comment: 'The transport core never imports an adapter, the service or the CLI.',
      severity: 'error',
      from: { path: HTTP },
      to: { path: above(ADAPTERS, SERVICE, CLI, ENTRY) },
    },
    {
      name: 'adapters-translate-only',
      comment: 'An adapter imports the core below it, never the service or the CLI.',
      severity: 'error',
      from: { path: ADAPTERS },
      to: { path: above(SERVICE, CLI, ENTRY) },
    },
    {
      name: 'adapters-stay-apart',
      comment: 'One adapter never imports another: shared glue belongs in http/.',
      severity: 'error',
      from: { path: at('adapters/([^/]+)') },
      to: { path: ADAPTERS, pathNot: at('adapters/$1') },
    },
    {
      name: 'service-below-cli',
      comment: 'The service never imports an adapter or the CLI.',
      severity: 'error',
      from: { path: SERVICE },
      to: { path: above(ADAPTERS, CLI, ENTRY) },
    },
    {
      name: 'cli-uses-no-adapter',
      comment: 'The CLI drives the engine, the stores and the service; it has no use for a framework adapter.',
      severity: 'error',
      from: { path: CLI },
      to: { path: above(ADAPTERS, ENTRY) },
    },
    {
      name: 'drivers-load-lazily',
      comment:
        'Store and bus drivers pull in native or network clients (better-sqlite3, pg, ioredis). Only the ' +
        'CLI and the service import them statically; elsewhere they are loaded on demand, so an app loads ' +
        'only the drivers it uses.',
      severity: 'error',
      from: { path: above(FOUNDATION, BLOCKS, ENGINE, HTTP, ADAPTERS), pathNot: DRIVERS },
      to: { path: DRIVERS, dependencyTypesNot: ['dynamic-import', 'type-only'] },
    },
    {
      name: 'drivers-stay-apart',
      comment: 'A store or bus driver never imports another driver.',
      severity: 'error',
      from: { path: DRIVERS },
      to: { path: DRIVERS },
    },
    {
      name: 'http-is-framework-free',
      comment: 'The engine and the transport core run on any runtime: no web framework below the adapters.',
      severity: 'error',
      from: { path: above(FOUNDATION, BLOCKS, ENGINE, HTTP) },
      to: { path: '(^|/)node_modules/(express|fastify|hono|@hono/[^/]+)/' },
    },
    {
      name: 'no-cycles',
      comment: 'A cycle makes two modules one: split out what both need.',
      severity: 'error',
      from: { path: at('') },
      to: { circular: true },
    },
  ];
}

/** The browser SDK: no server code, no Node built-ins. @param {string} src e.g. 'packages/client/src' */
export function clientRules(src) {
  return [
    {
      name: 'client-is-browser-code',
      comment: 'The SDK runs in browsers: it never imports the server package.',
      severity: 'error',
      from: { path: `^${src}/` },
      to: { path: '^packages/latchkey/|(^|/)node_modules/latchkey/', pathNot: `^${src}/` },
    },
    {
      name: 'client-no-node-builtins',
      comment: 'The SDK runs in browsers: no Node built-in modules.',
      severity: 'error',
      from: { path: `^${src}/` },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'client-no-cycles',
      comment: 'A cycle makes two modules one: split out what both need.',
      severity: 'error',
      from: { path: `^${src}/` },
      to: { circular: true },
    },
  ];
}

export const cruiseOptions = {
  doNotFollow: { path: 'node_modules' },
  tsPreCompilationDeps: true,
  tsConfig: { fileName: 'tsconfig.tests.json' },
  enhancedResolveOptions: {
    exportsFields: ['exports'],
    conditionNames: ['import', 'types', 'default'],
    extensions: ['.ts', '.mjs', '.js', '.d.ts'],
  },
};

export default {
  // @latchkey/react is browser code under the same rules as the SDK it binds.
  forbidden: [...layerRules('packages/latchkey/src'), ...clientRules('packages/client/src'), ...clientRules('packages/react/src')],
  options: cruiseOptions,
};
