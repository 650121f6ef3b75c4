/**
 * Test access to the machine's shared PostgreSQL (127.0.0.1:5432, trust auth) and Redis. Every suite
 * works in a schema (or on a channel) of its own, with a random name, dropped afterwards, so suites
 * can run side by side with each other and with other engineers' suites.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { serviceAvailable } from './services.js';

export const PG_URL = process.env.LATCHKEY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.LATCHKEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A random suffix for schema and channel names. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

export function postgresAvailable(): Promise<boolean> {
  return serviceAvailable('PostgreSQL', async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
    await client.connect();
    try {
      await client.query('SELECT 1');
    } finally {
      await client.end();
    }
  });
}

export function redisAvailable(): Promise<boolean> {
  return serviceAvailable('Redis', async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await redis.connect();
      await redis.ping();
    } finally {
      redis.disconnect();
    }
  });
}

/** Runs one statement on its own short-lived connection (for setup, teardown and inspection). */
export async function pgExec<R extends pg.QueryResultRow = pg.QueryResultRow>(
  sql: string,
  params: unknown[] = [],
  url = PG_URL,
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string, url = PG_URL): Promise<void> {
  await pgExec(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`, [], url);
}
