/**
 * A package-lock.json for a scratch app outside the workspace, cut from the workspace's own lockfile:
 * the app's dependencies at exactly the versions the workspace installed (and CI tested), and our
 * packed tarballs in place of the workspace links. With it, `npm ci --offline` installs the app from
 * the npm cache that the workspace's `npm ci` filled, on a fresh machine and without the network:
 * a plain `npm install` would need each package's registry metadata, which `npm ci` never fetches.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The directory of a lockfile key: 'node_modules/a/node_modules/b' → 'node_modules/a'; a top-level one → ''. */
function parentOf(key) {
  const at = key.lastIndexOf('/node_modules/');
  if (at >= 0) return key.slice(0, at);
  return '';
}

/**
 * @param {object} options
 * @param {string} options.workspaceLockfile path of the workspace's package-lock.json
 * @param {Record<string, { tarball: string, workspace: string }>} options.packed our packages: the
 *   tarball (relative to the app, e.g. '../latchkey-0.1.0.tgz') and the workspace folder ('packages/latchkey')
 * @param {string[]} options.dependencies other packages the app depends on, by name (the workspace's versions)
 * @param {string} options.appDir the app's folder (the tarball paths are relative to it)
 * @returns {{ packageJson: object, lockfile: object }}
 */
export function appLockfile({ workspaceLockfile, packed, dependencies, appDir }) {
  const lock = JSON.parse(readFileSync(workspaceLockfile, 'utf8'));
  const all = lock.packages;
  const workspaceOf = Object.fromEntries(Object.entries(packed).map(([name, p]) => [p.workspace, name]));

  /** Node's lookup: the nearest node_modules/<name> from `from` upwards, in the workspace's layout. */
  function resolve(from, name) {
    for (let dir = from; ; dir = parentOf(dir)) {
      const key = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
      if (all[key] && !all[key].link) return key;
      if (all[key]?.link) return all[key].resolved; // a workspace package
      if (dir === '') return undefined;
    }
  }
  /** Where a workspace key lands in the app: packages/latchkey/node_modules/x → node_modules/latchkey/node_modules/x. */
  function appKey(key) {
    for (const [workspace, name] of Object.entries(workspaceOf)) {
      if (key === workspace) return `node_modules/${name}`;
      if (key.startsWith(`${workspace}/`)) return `node_modules/${name}/${key.slice(workspace.length + 1)}`;
    }
    return key;
  }

  const out = {};
  const queue = [];
  const visit = (key) => {
    if (key === undefined || out[appKey(key)]) return;
    const entry = { ...all[key] };
    delete entry.dev; delete entry.devOptional; delete entry.peer; delete entry.optional;
    out[appKey(key)] = entry;
    queue.push(key);
  };
  for (const name of [...Object.keys(packed), ...dependencies]) {
    const key = packed[name] ? packed[name].workspace : resolve('', name);
    if (key === undefined) throw new Error(`${name} is not installed in the workspace`);
    visit(key);
  }
  while (queue.length > 0) {
    const key = queue.shift();
    const entry = all[key];
    const wanted = { ...entry.dependencies, ...entry.optionalDependencies };
    for (const [name] of Object.entries(entry.peerDependencies ?? {})) {
      if (!entry.peerDependenciesMeta?.[name]?.optional) wanted[name] = entry.peerDependencies[name];
    }
    for (const name of Object.keys(wanted)) {
      const target = resolve(key, name);
      // Only the optional dependencies of platform packages (esbuild's other platforms) may be absent.
      if (target === undefined) {
        if (entry.optionalDependencies?.[name]) continue;
        throw new Error(`${key} needs ${name}, which the workspace did not install`);
      }
      visit(target);
    }
  }

  const rootDeps = {};
  for (const [name, p] of Object.entries(packed)) {
    rootDeps[name] = `file:${p.tarball}`;
    const key = `node_modules/${name}`;
    const tarball = readFileSync(new URL(p.tarball, `file://${appDir}/`));
    const { version, license, dependencies: deps, optionalDependencies, peerDependencies, peerDependenciesMeta, bin, engines } = out[key];
    out[key] = {
      version, resolved: `file:${p.tarball}`, integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
      license, dependencies: deps, optionalDependencies, peerDependencies, peerDependenciesMeta, bin, engines,
    };
    for (const field of Object.keys(out[key])) if (out[key][field] === undefined) delete out[key][field];
  }
  for (const name of dependencies) rootDeps[name] = all[resolve('', name)].version;

  const packageJson = { name: 'latchkey-smoke-app', private: true, type: 'module', dependencies: rootDeps };
  const lockfile = { name: packageJson.name, lockfileVersion: 3, requires: true, packages: { '': { name: packageJson.name, dependencies: rootDeps }, ...out } };
  return { packageJson, lockfile };
}
