import { test, expect } from 'vitest';
import { createLatchkey, TokenTheftError } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { sqliteStore } from 'latchkey/stores/sqlite';
test('smoke', async () => {
  for (const store of [memoryStore(), sqliteStore({ path: ':memory:' })]) {
    const lk = await createLatchkey({ issuer: 'https://i.example', store, secret: 'x'.repeat(32), timers: false });
    const t = await lk.createSession({ userId: 'u1', accessClaims: { role: 'admin' } });
    const v = await lk.verifyAccessToken(t.accessToken);
    expect(v.userId).toBe('u1');
    const r1 = await lk.refresh(t.refreshToken);
    const r1b = await lk.refresh(t.refreshToken);
    expect(r1b.refreshToken).toBe(r1.refreshToken);
    const r2 = await lk.refresh(r1.refreshToken);
    await expect(lk.refresh(t.refreshToken)).rejects.toBeInstanceOf(TokenTheftError);
    await expect(lk.verifyAccessToken(r2.accessToken)).rejects.toMatchObject({ code: 'UNAUTHORISED' });
    await lk.close();
  }
});
