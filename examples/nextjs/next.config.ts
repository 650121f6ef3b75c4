import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NextConfig } from 'next';

const here = dirname(fileURLToPath(import.meta.url));

const nextConfig: NextConfig = {
  // Native and server-only: loaded by Node at run time, never bundled.
  serverExternalPackages: ['better-sqlite3', 'latchkey'],
  // The workspace root (the packages resolve from its node_modules).
  turbopack: { root: join(here, '../..') },
  outputFileTracingRoot: join(here, '../..'),
};

export default nextConfig;
