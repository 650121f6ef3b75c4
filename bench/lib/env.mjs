/**
 * What the figures were measured on: the machine and the exact versions of latchkey and of every
 * library it is compared with (read from each package's own package.json, not from our ranges).
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import os from 'node:os';

const require = createRequire(import.meta.url);

export const PEER_PACKAGES = [
  'latchkey', 'jose', 'fast-jwt', 'jsonwebtoken', 'better-sqlite3', 'pg', 'ioredis', 'redis',
  'express', 'fastify', 'hono', '@hono/node-server', 'express-session', 'connect-redis', 'iron-session',
  'autocannon', 'better-auth',
];

/** The installed version of `name`, or null when it is not installed. */
export function installedVersion(name) {
  try {
    const path = require.resolve(`${name}/package.json`);
    return JSON.parse(readFileSync(path, 'utf8')).version ?? null;
  } catch {
    // Packages whose exports map hides package.json: walk up from the main entry instead.
    try {
      let dir = require.resolve(name);
      for (let i = 0; i < 6; i++) {
        dir = dir.slice(0, dir.lastIndexOf('/'));
        try {
          const pkg = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8'));
          if (pkg.name === name) return pkg.version ?? null;
        } catch { /* keep walking */ }
      }
    } catch { /* not installed */ }
    return null;
  }
}

export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg(),
  };
}

export function peerVersions() {
  return Object.fromEntries(PEER_PACKAGES.map((name) => [name, installedVersion(name)]));
}
