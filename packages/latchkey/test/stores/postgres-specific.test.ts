/**
 * PostgreSQL-only behaviour the shared contract cannot express: migrations under least privilege and
 * from a newer release, option checks, pool ownership, error translation, and surviving connections
 * killed by the server.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createLatchkey, isLatchkeyError } from 'latchkey';
import { postgresStore, type PostgresStore } from 'latchkey/stores/postgres';
import { dropSchema, PG_URL, pgExec, postgresAvailable, uniqueName } from '../helpers/postgres.js';
import { freePort } from '../helpers/private-servers.js';
import { sessionFixture } from 'latchkey/stores';

const available = await postgresAvailable();

describe('postgresStore options', () => {
  it.each([
    ['a schema that is not a plain identifier', { connectionString: PG_URL, schema: 'x"; DROP TABLE y; --' }],
    ['neither connectionString nor pool', {}],
    ['a zero timeout', { connectionString: PG_URL, operationTimeoutMs: 0 }],
    ['a fractional pool size', { connectionString: PG_URL, max: 2.5 }],
  ])('refuses %s with a TypeError', (_, options) => {
    expect(() => postgresStore(options)).toThrow(TypeError);
  });
});

describe('postgresStore with the server unreachable', () => {
  it('fails fast and typed, and so does starting an engine on it', async () => {
    const store = postgresStore({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/test`, operationTimeoutMs: 1000 });
    try {
      await expect(store.ping()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      await expect(createLatchkey({ issuer: 'https://pg.example', secret: 'y'.repeat(32), store, timers: false })).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
      });
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(!available)('postgresStore on PostgreSQL', () => {
  const schemas: string[] = [];
  const stores: PostgresStore[] = [];
  const schema = () => {
    const name = uniqueName('lk_pg');
    schemas.push(name);
    return name;
  };
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
  });
  afterAll(async () => {
    for (const s of schemas) await dropSchema(s);
  });

  it('lets a role without CREATE privileges start and work once an owner has migrated', async () => {
    const name = schema();
    const owner = postgresStore({ connectionString: PG_URL, schema: name });
    stores.push(owner);
    await owner.migrate();
    const role = `lk_app_${randomBytes(4).toString('hex')}`;
    await pgExec(`CREATE ROLE ${role} LOGIN`);
    try {
      await pgExec(`GRANT USAGE ON SCHEMA "${name}" TO ${role}; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${name}" TO ${role}`);
      const app = postgresStore({ connectionString: PG_URL.replace('postgres@', `${role}@`), schema: name });
      stores.push(app);
      await app.migrate();
      const created = sessionFixture();
      await app.createSession(created);
      expect(await app.getSession(created.session.id)).toEqual(created.session);
      await app.close();
    } finally {
      await pgExec(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });

  it('refuses to run against a schema migrated by a newer release', async () => {
    const name = schema();
    const store = postgresStore({ connectionString: PG_URL, schema: name });
    stores.push(store);
    await store.migrate();
    await pgExec(`INSERT INTO "${name}".latchkey_migrations (version, applied_at) VALUES (99, 0)`);
    await expect(store.migrate()).rejects.toThrow(/version 99, newer than this release knows/);
  });

  it('keeps errors that are not unavailability as they are', async () => {
    const store = postgresStore({ connectionString: PG_URL, schema: schema() });
    stores.push(store);
    await store.migrate();
    const created = sessionFixture();
    await store.createSession(created);
    const error = await store.createSession(created).catch((err: unknown) => err);
    expect(isLatchkeyError(error)).toBe(false);
    expect((error as { code?: string }).code).toBe('23505'); // unique_violation
  });

  it('never ends a pool it was given', async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    try {
      const store = postgresStore({ pool, schema: schema() });
      await store.migrate();
      await store.close();
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      expect(pool.listenerCount('error')).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('survives its idle connections being killed by the server, and reports them', async () => {
    const application = `lk_kill_${randomBytes(4).toString('hex')}`;
    const pool = new pg.Pool({ connectionString: PG_URL, max: 3, application_name: application });
    const errors: Error[] = [];
    try {
      const store = postgresStore({ pool, schema: schema(), onConnectionError: (e) => errors.push(e) });
      await store.migrate();
      const created = sessionFixture();
      await Promise.all([store.createSession(created), store.ping(), store.ping()]);
      // Only this test's own connections, found by their unique application_name.
      const killed = await pgExec<{ ok: boolean }>('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [application]);
      expect(killed.length).toBeGreaterThan(0);
      // Every killed connection is reported before the next query: until a connection has read its
      // termination it still looks idle, and the pool could hand it out (a race the Node.js 24 run
      // lost under load, when only the first report was awaited).
      const deadline = Date.now() + 5000;
      while (errors.length < killed.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(errors).toHaveLength(killed.length);
      expect((await store.getSession(created.session.id))?.id).toBe(created.session.id);
      await store.close();
    } finally {
      await pool.end();
    }
  });
});
