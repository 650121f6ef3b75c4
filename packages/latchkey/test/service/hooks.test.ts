/**
 * Lifecycle hooks of an engine the service embeds (`engineOptions.hooks`, issue 16): a beforeCreate
 * refusal is answered 403 SESSION_REFUSED with the hook's message, any other throw a bare 500 that
 * names nothing of the cause, and neither leaves a session behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionRefusedError } from 'latchkey';
import { schemas } from 'latchkey/service';
import { startTestService, type TestService } from './helpers.js';

describe('service: beforeCreate of the embedded engine', () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({
      engineOptions: {
        hooks: {
          beforeCreate: ({ userId }) => {
            if (userId === 'banned') throw new SessionRefusedError('this account is suspended');
            if (userId === 'broken') throw new Error('ECONNREFUSED 10.0.0.7:5432');
            return { accessClaims: { tier: 'gold' } };
          },
        },
      },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a refusal is 403 SESSION_REFUSED, a failing hook a bare 500; no session either way; an enriched session otherwise', async () => {
    const refused = await t.call('POST', '/v1/sessions', { body: { userId: 'banned' } });
    expect(refused.status).toBe(403);
    expect(schemas.ErrorResponse.parse(refused.json)).toEqual({ error: { code: 'SESSION_REFUSED', message: 'this account is suspended' } });
    const broken = await t.call('POST', '/v1/sessions', { body: { userId: 'broken' } });
    expect(broken.status).toBe(500);
    expect(broken.json.error.code).toBe('INTERNAL_ERROR');
    expect(broken.text).not.toContain('ECONNREFUSED');
    for (const userId of ['banned', 'broken']) expect((await t.call('GET', `/v1/users/${userId}/sessions`)).json).toEqual({ sessions: [] });
    const ok = await t.call('POST', '/v1/sessions', { body: { userId: 'fine' } });
    expect(ok.status).toBe(201);
    expect(ok.json.session.accessClaims).toEqual({ tier: 'gold' });
  });
});
