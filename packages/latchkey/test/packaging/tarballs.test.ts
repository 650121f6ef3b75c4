/**
 * What users install: the packed tarballs of `latchkey`, `@latchkey/client` and `@latchkey/react`.
 *
 * 1. Each tarball ships its built entry points (every `exports` target, and `typesVersions` for
 *    node10), LICENSE and README, no source maps, no README link that breaks on the registry page;
 *    publint and attw find nothing.
 * 2. A fresh app outside the workspace with the engine, SQLite and Express only installs none of the
 *    optional peers, runs the engine on SQLite behind Express over HTTP, and gets a typed error naming
 *    the package for every missing peer and for a native SQLite build that is missing.
 * 3. A fresh app with every peer runs `latchkey serve` (answering /healthz), bundles the SDK for the
 *    browser, and type-checks every TypeScript snippet of the README and docs under strict settings
 *    with `exactOptionalPropertyTypes`, once with nodenext and once with bundler resolution; the
 *    packages' own types check without the DOM library and without skipLibCheck.
 *
 * The apps install with `npm ci --offline` from a lockfile cut from the workspace's (see
 * support/app-lockfile.mjs), so they get exactly the versions the suite tested, from the npm cache
 * that the workspace's install filled: no network needed.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appLockfile } from './support/app-lockfile.mjs';
import { collectSnippets } from './support/snippets.mjs';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const support = fileURLToPath(new URL('./support/', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** The packages' installs are CPU- and disk-bound on a shared two-core machine: generous deadlines, never asserted on. */
const SLOW = 240_000;

const PACKAGES = {
  latchkey: { workspace: 'packages/latchkey' },
  '@latchkey/client': { workspace: 'packages/client' },
  '@latchkey/react': { workspace: 'packages/react' },
} as const;
type PackageName = keyof typeof PACKAGES;

/** The optional peers: an app that does not ask for them must not get them. */
const OPTIONAL_PEERS = ['pg', 'ioredis', 'hono', '@hono/node-server', 'zod', 'prom-client', 'fastify', '@types/pg', '@types/express'];

interface Packed {
  file: string;
  files: string[];
  manifest: { exports: Record<string, string | { types: string; default: string }>; typesVersions?: Record<string, Record<string, string[]>>; bin?: Record<string, string> };
}

const scratch = mkdtempSync(join(tmpdir(), 'latchkey-tarballs-'));
const packed = {} as Record<PackageName, Packed>;

beforeAll(async () => {
  // The tarballs are built from dist/: bring it up to date with the sources (incremental, about a second when it is).
  await run(npm, ['run', 'build', '--silent'], { cwd: root });
  const { stdout } = await run(npm, ['pack', '--json', '--pack-destination', scratch, ...Object.values(PACKAGES).flatMap((p) => ['-w', p.workspace])], { cwd: root });
  const results = JSON.parse(stdout) as { name: PackageName; filename: string; files: { path: string }[] }[];
  for (const result of results) {
    packed[result.name] = {
      file: join(scratch, result.filename),
      files: result.files.map((f) => f.path),
      manifest: JSON.parse(readFileSync(join(root, PACKAGES[result.name].workspace, 'package.json'), 'utf8')) as Packed['manifest'],
    };
  }
}, SLOW);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the tarballs', () => {
  it('ship every entry point of the exports map, built', () => {
    for (const [name, pkg] of Object.entries(packed)) {
      for (const [subpath, target] of Object.entries(pkg.manifest.exports)) {
        const files = typeof target === 'string' ? [target] : [target.types, target.default];
        for (const file of files) expect(pkg.files, `${name} ${subpath}`).toContain(file.replace(/^\.\//, ''));
      }
    }
  });

  it('map every subpath for moduleResolution node10 too (typesVersions mirrors exports)', () => {
    const { manifest } = packed.latchkey;
    const expected = Object.fromEntries(
      Object.entries(manifest.exports)
        .filter(([subpath, target]) => subpath !== '.' && typeof target === 'object')
        .map(([subpath, target]) => [subpath.slice(2), [(target as { types: string }).types]]),
    );
    expect(manifest.typesVersions?.['*']).toEqual(expected);
  });

  it('ship LICENSE and README, and no source maps or build state', () => {
    for (const [name, pkg] of Object.entries(packed)) {
      expect(pkg.files, name).toContain('LICENSE');
      expect(pkg.files, name).toContain('README.md');
      expect(pkg.files.filter((f) => f.endsWith('.map') || f.endsWith('.tsbuildinfo')), name).toEqual([]);
      // No compiled file points at a map that is not there.
      const dist = join(root, PACKAGES[name as PackageName].workspace);
      const pointing = pkg.files.filter((f) => f.endsWith('.js') || f.endsWith('.d.ts')).filter((f) => readFileSync(join(dist, f), 'utf8').includes('sourceMappingURL'));
      expect(pointing, name).toEqual([]);
    }
    expect(readFileSync(join(root, 'packages/latchkey/LICENSE'), 'utf8')).toMatch(/^MIT License/);
  });

  it('have READMEs whose links work on the registry page (absolute, never relative to the repository)', () => {
    for (const pkg of Object.values(PACKAGES)) {
      const readme = readFileSync(join(root, pkg.workspace, 'README.md'), 'utf8');
      const targets = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
      expect(targets.filter((t) => !/^(https:\/\/|#)/.test(t)), pkg.workspace).toEqual([]);
    }
  });

  it('export the service OpenAPI document', () => {
    expect(packed.latchkey.manifest.exports['./openapi.json']).toBe('./openapi.json');
    expect(packed.latchkey.files).toContain('openapi.json');
  });

  it('pass publint, suggestions included', async () => {
    for (const [name, pkg] of Object.entries(packed)) {
      const tarball = readFileSync(pkg.file);
      const result = await publint({ pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) as ArrayBuffer }, level: 'suggestion', strict: true });
      expect(result.messages.map((m) => `${name}: ${formatMessage(m, result.pkg) ?? m.code}`)).toEqual([]);
    }
  }, SLOW);

  it('pass attw: types resolve under node10, node16 and bundler, for every entry point', async () => {
    for (const [name, pkg] of Object.entries(packed)) {
      // The packages are ESM only on purpose; `require()` of them is Node's require(esm), not a types problem.
      const attw = await run(join(root, 'node_modules/.bin/attw'), [pkg.file, '--format', 'json', '--ignore-rules', 'cjs-resolves-to-esm'], { cwd: scratch, maxBuffer: 64 << 20 }).catch(
        (err: { stdout?: string; code?: number }) => ({ stdout: err.stdout ?? '', failed: err.code }),
      );
      const report = JSON.parse(attw.stdout) as { analysis: { problems: { kind: string }[] } };
      expect(report.analysis.problems.filter((p) => p.kind !== 'CJSResolvesToESM'), name).toEqual([]);
      expect('failed' in attw ? attw.failed : 0, name).toBe(0);
    }
  }, SLOW);
});

// ------------------------------------------------------------------------------------------------
// Scratch apps

/** Installs a scratch app from the tarballs and the workspace's versions of `dependencies`. */
async function installApp(name: string, packages: PackageName[], dependencies: string[]): Promise<string> {
  const dir = join(scratch, name);
  mkdirSync(dir);
  const { packageJson, lockfile } = appLockfile({
    workspaceLockfile: join(root, 'package-lock.json'),
    appDir: dir,
    packed: Object.fromEntries(packages.map((p) => [p, { tarball: `../${packed[p].file.split('/').pop()}`, workspace: PACKAGES[p].workspace }])),
    dependencies,
  });
  writeFileSync(join(dir, 'package.json'), JSON.stringify(packageJson, null, 2));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lockfile, null, 2));
  // --ignore-scripts: better-sqlite3's install script would compile SQLite (minutes) where no prebuilt
  // binary can be downloaded; the apps get the workspace's build of the same version instead (below),
  // which is what a prebuilt download amounts to.
  const args = ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];
  await run(npm, args, { cwd: dir, maxBuffer: 16 << 20 }).catch(async (err: { stderr?: string }) => {
    // A cache that lacks a package (a machine whose cache was cleared since `npm ci`): let npm fetch it.
    if (!String(err.stderr).includes('ENOTCACHED')) throw err;
    await run(npm, args.map((a) => (a === '--offline' ? '--prefer-offline' : a)), { cwd: dir, maxBuffer: 16 << 20 });
  });
  return dir;
}

/** Gives the app's better-sqlite3 the workspace's native build (same version, same Node.js). */
function installSqliteBinding(dir: string): void {
  const from = join(root, 'node_modules/better-sqlite3');
  const to = join(dir, 'node_modules/better-sqlite3');
  const version = (path: string) => (JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) as { version: string }).version;
  expect(version(to)).toBe(version(from));
  mkdirSync(join(to, 'build/Release'), { recursive: true });
  copyFileSync(join(from, 'build/Release/better_sqlite3.node'), join(to, 'build/Release/better_sqlite3.node'));
}

/** Runs a module in the app; returns what it printed, parsed. */
async function runInApp(dir: string, file: string, source?: string): Promise<unknown> {
  if (source !== undefined) writeFileSync(join(dir, file), source);
  const { stdout } = await run(process.execPath, [file], { cwd: dir, env: { ...process.env, NODE_ENV: 'production' } });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

/** Imports each specifier in the app and reports how it failed, if it did. */
const IMPORT_PROBE = `
const results = {};
for (const specifier of JSON.parse(process.argv[2] ?? '[]')) {
  try { await import(specifier); results[specifier] = 'loaded'; }
  catch (err) { results[specifier] = { name: err.name, code: err.code, dependency: err.dependency, message: err.message }; }
}
console.log(JSON.stringify(results));
`;

async function probeImports(dir: string, specifiers: string[]): Promise<Record<string, { name: string; code: string; dependency: string; message: string } | 'loaded'>> {
  writeFileSync(join(dir, 'probe.mjs'), IMPORT_PROBE);
  const { stdout } = await run(process.execPath, ['probe.mjs', JSON.stringify(specifiers)], { cwd: dir });
  return JSON.parse(stdout) as Awaited<ReturnType<typeof probeImports>>;
}

/** Runs the installed `latchkey` binary. */
async function cli(dir: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(join(dir, 'node_modules/.bin/latchkey'), args, { cwd: dir, env: { ...process.env, ...env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
}

describe('a fresh app with the engine, SQLite and Express only', () => {
  let app: string;
  beforeAll(async () => {
    app = await installApp('minimal', ['latchkey'], ['express']);
  }, SLOW);

  it('installs none of the optional peers', () => {
    expect(OPTIONAL_PEERS.filter((name) => existsSync(join(app, 'node_modules', name)))).toEqual([]);
    expect(existsSync(join(app, 'node_modules/better-sqlite3/package.json'))).toBe(true);
  });

  it('says what to install when better-sqlite3 has no native build', async () => {
    // The install ran no scripts, so better-sqlite3 is there without its binary: what a failed build leaves.
    const result = await probeImports(app, ['latchkey/stores/sqlite']);
    const failure = result['latchkey/stores/sqlite'];
    expect(failure).toMatchObject({ name: 'MissingDependencyError', code: 'MISSING_DEPENDENCY', dependency: 'better-sqlite3' });
    const message = typeof failure === 'object' ? failure.message : '';
    expect(message).toContain('npm rebuild better-sqlite3');
    expect(message).toMatch(/python3, make and a C\+\+ compiler/);
  });

  it('runs the engine on SQLite behind Express, over HTTP', async () => {
    installSqliteBinding(app);
    copyFileSync(join(support, 'smoke-express.mjs'), join(app, 'smoke-express.mjs'));
    const seen = await runInApp(app, 'smoke-express.mjs');
    expect(seen).toEqual({
      verifiedUser: 'u_smoke',
      rotated: true,
      me: { status: 200, body: { userId: 'u_smoke' } },
      anonymous: { status: 401, body: { error: { code: 'UNAUTHORISED', message: expect.any(String) } } },
      jwksKeys: expect.any(Number),
      replay: 'TOKEN_THEFT_DETECTED',
    });
    expect((seen as { jwksKeys: number }).jwksKeys).toBeGreaterThan(0);
  });

  it('names the package to install for every entry point whose peer is missing', async () => {
    const result = await probeImports(app, ['latchkey/stores/postgres', 'latchkey/revocation/pg-notify', 'latchkey/revocation/redis', 'latchkey/rate-limit/redis', 'latchkey/dpop/redis', 'latchkey/adapters/hono', 'latchkey/adapters/express', 'latchkey/adapters/node', 'latchkey/http', 'latchkey/stores/memory']);
    const missing = Object.fromEntries(Object.entries(result).filter(([, r]) => r !== 'loaded').map(([s, r]) => [s, r !== 'loaded' && [r.code, r.dependency]]));
    expect(missing).toEqual({
      'latchkey/stores/postgres': ['MISSING_DEPENDENCY', 'pg'],
      'latchkey/revocation/pg-notify': ['MISSING_DEPENDENCY', 'pg'],
      'latchkey/revocation/redis': ['MISSING_DEPENDENCY', 'ioredis'],
      'latchkey/rate-limit/redis': ['MISSING_DEPENDENCY', 'ioredis'],
      'latchkey/dpop/redis': ['MISSING_DEPENDENCY', 'ioredis'],
      'latchkey/adapters/hono': ['MISSING_DEPENDENCY', 'hono'],
    });
    expect(result['latchkey/stores/postgres']).toMatchObject({ message: expect.stringContaining('npm install pg') });
  });

  it('runs the CLI without the service packages, and `latchkey serve` says what to install', async () => {
    const help = await cli(app, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('serve');
    const serve = await cli(app, ['serve']);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain('npm install hono @hono/node-server zod prom-client');
  });
});

describe('a fresh app with every peer, the SDK and TypeScript', () => {
  let app: string;
  beforeAll(async () => {
    app = await installApp('full', ['latchkey', '@latchkey/client', '@latchkey/react'], [
      'react', '@types/react',
      'express', 'fastify', 'hono', '@hono/node-server', 'zod', 'prom-client', 'pg', 'ioredis',
      '@types/express', '@types/pg', '@types/node', 'typescript', 'esbuild',
    ]);
    installSqliteBinding(app);
  }, SLOW);

  it('runs `latchkey serve`, which answers /healthz and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(join(app, 'node_modules/.bin/latchkey'), ['serve', '--port', String(port)], {
      cwd: app,
      env: { ...process.env, LATCHKEY_ISSUER: 'https://smoke.example', LATCHKEY_SECRET: 'a smoke-test secret that is at least 32 bytes long', LATCHKEY_SERVICE_KEYS: '', LATCHKEY_API_KEYS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let health: { status: number; body: unknown } | undefined;
      for (let i = 0; i < 150 && health === undefined; i++) {
        health = await fetch(`http://127.0.0.1:${port}/healthz`).then(async (r) => ({ status: r.status, body: await r.json() }), () => undefined);
        if (health === undefined) await new Promise((r) => setTimeout(r, 200));
      }
      expect(health, stderr).toEqual({ status: 200, body: { status: 'ok' } });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, SLOW);

  it('bundles the SDK for the browser', async () => {
    writeFileSync(join(app, 'browser-entry.ts'), "import { createLatchkeyClient } from '@latchkey/client';\nexport const client = createLatchkeyClient();\n");
    await run(join(app, 'node_modules/.bin/esbuild'), ['browser-entry.ts', '--bundle', '--platform=browser', '--format=esm', '--outfile=browser.js', '--log-level=error'], { cwd: app });
    const bundle = readFileSync(join(app, 'browser.js'), 'utf8');
    expect(bundle).toContain('X-Latchkey-CSRF');
    expect(bundle).not.toMatch(/from\s*["']node:|require\(["']node:/);
  }, SLOW);

  describe('type-checks', () => {
    const snippets = collectSnippets(root);

    beforeAll(() => {
      const dir = join(app, 'snippets');
      mkdirSync(dir);
      for (const snippet of snippets.checked) writeFileSync(join(dir, snippet.file), `${snippet.prelude}\n${snippet.code}\nexport {};\n`);
      cpSync(join(support, 'snippet-globals.d.ts'), join(dir, 'globals.d.ts'));
      writeFileSync(join(app, 'entry-points.ts'), entryPointsSource(packed.latchkey.manifest));
      writeFileSync(join(app, 'react-only.ts'), "import { useSession, type SessionState } from '@latchkey/react';\nexport const use: () => SessionState = useSession;\n");
      writeFileSync(join(app, 'client-only.ts'), "import { createLatchkeyClient, type LatchkeyClient } from '@latchkey/client';\nexport const client: LatchkeyClient = createLatchkeyClient({ apiBase: 'https://api.example.com' });\n");
    });

    it('finds the documentation snippets', () => {
      expect(snippets.checked.length).toBeGreaterThanOrEqual(10);
      expect(snippets.checked.map((s) => s.source)).toContain('README.md');
    });

    for (const resolution of ['nodenext', 'bundler'] as const) {
      it(`every README and docs snippet, under strict + exactOptionalPropertyTypes, moduleResolution ${resolution}`, async () => {
        // skipLibCheck: the snippets themselves are checked in full; the packages' declarations are checked without it below.
        const errors = await tsc(app, resolution, { include: ['snippets/**/*.ts'], lib: ['ES2023', 'DOM', 'DOM.Iterable'], types: ['node'], skipLibCheck: true });
        expect(errors, describeSnippets(errors, snippets.checked)).toEqual([]);
      }, SLOW);
    }

    it("the server packages' types, every entry point, without the DOM library and without skipLibCheck", async () => {
      expect(await tsc(app, 'nodenext', { files: ['entry-points.ts'], lib: ['ES2023'], types: ['node'], skipLibCheck: false })).toEqual([]);
    }, SLOW);

    it("the SDK's types without the DOM library or @types/node (React Native, workers)", async () => {
      expect(await tsc(app, 'nodenext', { files: ['client-only.ts'], lib: ['ES2023'], types: [], skipLibCheck: false })).toEqual([]);
    }, SLOW);

    it("the React bindings' types without the DOM library and without skipLibCheck", async () => {
      expect(await tsc(app, 'nodenext', { files: ['react-only.ts'], lib: ['ES2023'], types: [], skipLibCheck: false })).toEqual([]);
    }, SLOW);

    it('the server packages under moduleResolution node10 (root entry through "types")', async () => {
      writeFileSync(join(app, 'node10.ts'), "import { createLatchkey } from 'latchkey';\nimport { sqliteStore } from 'latchkey/stores/sqlite';\nexport const make = () => createLatchkey({ issuer: 'https://x.example', store: sqliteStore({ path: ':memory:' }) });\n");
      expect(await tsc(app, 'node10', { files: ['node10.ts'], lib: ['ES2023'], types: ['node'], skipLibCheck: true })).toEqual([]);
    }, SLOW);
  });
});

/** A module that imports every entry point of the package and uses a type from each. */
function entryPointsSource(manifest: Packed['manifest']): string {
  const specifiers = Object.entries(manifest.exports)
    .filter(([, target]) => typeof target === 'object')
    .map(([subpath]) => (subpath === '.' ? 'latchkey' : `latchkey/${subpath.slice(2)}`));
  return specifiers.map((s, i) => `import * as m${i} from '${s}';`).join('\n') + `\nexport const modules = [${specifiers.map((_, i) => `m${i}`).join(', ')}];\n`;
}

interface TscOptions {
  include?: string[];
  files?: string[];
  lib: string[];
  types: string[];
  /** false to check every declaration file too (ours and our dependencies'): thorough, and slow. */
  skipLibCheck: boolean;
}

/** Type-checks in the app with strict settings; returns the diagnostics, one per line. */
async function tsc(app: string, resolution: 'nodenext' | 'bundler' | 'node10', options: TscOptions): Promise<string[]> {
  const compilerOptions = {
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    noImplicitOverride: true,
    skipLibCheck: options.skipLibCheck,
    noEmit: true,
    target: 'ES2022',
    lib: options.lib,
    types: options.types,
    ...(resolution === 'nodenext' ? { module: 'nodenext', moduleResolution: 'nodenext' } : resolution === 'bundler' ? { module: 'esnext', moduleResolution: 'bundler' } : { module: 'commonjs', moduleResolution: 'node10' }),
  };
  const config = `tsconfig.${resolution}.${options.files?.[0]?.replace(/\W/g, '') ?? 'snippets'}.json`;
  writeFileSync(join(app, config), JSON.stringify({ compilerOptions, ...(options.include ? { include: options.include } : { files: options.files }) }, null, 2));
  const result = await run(join(app, 'node_modules/.bin/tsc'), ['-p', config, '--pretty', 'false'], { cwd: app, maxBuffer: 16 << 20 }).then(
    () => '',
    (err: { stdout: string }) => err.stdout,
  );
  return result.split('\n').filter((line) => /error TS\d+/.test(line));
}

function describeSnippets(errors: string[], snippets: { file: string; source: string; line: number }[]): string {
  const where = new Map(snippets.map((s) => [s.file, `${s.source}:${s.line}`]));
  return errors.map((e) => e.replace(/snippets\/([\w.-]+)/, (_, f: string) => `${where.get(f) ?? f} (${f})`)).join('\n');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
