/**
 * The console on PostgreSQL, two instances on one database: a login link redeemed from many requests
 * at once on both instances signs in exactly once (the store's atomic revoke), and a console session
 * opened on one instance works on the other until it is signed out, after which both refuse it at once.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { postgresAvailable } from '../helpers/postgres.js';
import { startTestService, type TestService } from '../service/helpers.js';
import { createTestDatabase, type TestDatabase } from '../service/pg-database.js';
import { ConsoleClient, startAdminService, type AdminService } from './helpers.js';

const available = await postgresAvailable();

describe.skipIf(!available)('admin console on PostgreSQL, two instances', () => {
  let db: TestDatabase;
  let a: AdminService;
  let b: TestService;
  beforeAll(async () => {
    db = await createTestDatabase('lk_admin');
    const env = {
      LATCHKEY_STORE: db.url,
      LATCHKEY_SECRET: randomBytes(32).toString('base64url'),
      LATCHKEY_ISSUER: 'https://auth.admin-pg.test',
    };
    a = await startAdminService({ env });
    b = await startTestService({ env });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await db?.drop();
  });

  test('ten redemptions of one link at once, on both instances: exactly one signs in', async () => {
    const link = await a.link('alice');
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => new ConsoleClient(i % 2 === 0 ? a.url : b.url).signIn(link)));
    expect(replies.filter((r) => r.status === 303)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 401)).toHaveLength(9);
    expect(await a.service.engine.listSessions('admin:alice')).toHaveLength(1);
  });

  test('a console session works on either instance; signed out on one, both refuse it', async () => {
    const onA = new ConsoleClient(a.url);
    expect((await onA.signIn(await a.link('bea'))).status).toBe(303);
    const onB = new ConsoleClient(b.url);
    for (const [n, v] of onA.jar) onB.jar.set(n, v);
    expect((await onB.get('/admin/keys')).status).toBe(200);
    expect((await onA.post('/admin/logout', { _csrf: await onA.csrf() })).status).toBe(303);
    expect((await onB.get('/admin/keys')).location).toBe('/admin/login');
  });
});
