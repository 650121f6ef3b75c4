/**
 * The service logs every theft detection with its reason, so that an operator can tell a very late
 * retry of a lost answer (`parent-after-grace`, with how late) from a replayed old token
 * (`rotated-out-replay`), and never logs a token while doing so.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadServiceConfig, startService, type LogLevel, type RunningService } from 'latchkey/service';
import { API_KEY, tempDir, testClock } from './helpers.js';

describe('theft detections in the service log', () => {
  let service: RunningService | undefined;
  afterEach(() => service?.close());

  it('carry the reason and the time since rotation, never a token', async () => {
    const dir = tempDir('latchkey-theft-log-');
    const lines: Array<{ level: LogLevel; msg: string; fields: Record<string, unknown> }> = [];
    const clock = testClock();
    service = await startService({
      config: loadServiceConfig({ PORT: '0', LATCHKEY_STORE: `sqlite:${join(dir, 'db.sqlite')}`, LATCHKEY_SECRET_FILE: join(dir, 'secret.key'), LATCHKEY_API_KEYS: API_KEY }),
      logger: { log: (level, msg, fields = {}) => void lines.push({ level, msg, fields }) },
      defaultMetrics: false,
      engineOptions: { clock },
    });
    const call = async (path: string, body: unknown) => {
      const res = await fetch(service!.url + path, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as Record<string, any> };
    };
    const tokens: string[] = [];
    const detections = () => lines.filter((l) => l.msg.includes('theft detected'));

    // A parent presented 40 s after its rotation, its successor never used: parent-after-grace.
    const late = await call('/v1/sessions', { userId: 'late' });
    const lateNext = await call('/v1/sessions/refresh', { refreshToken: late.json.refreshToken });
    clock.advance(40_000);
    expect((await call('/v1/sessions/refresh', { refreshToken: late.json.refreshToken })).status).toBe(401);
    // A grandparent: rotated-out-replay.
    const old = await call('/v1/sessions', { userId: 'old' });
    const oldNext = await call('/v1/sessions/refresh', { refreshToken: old.json.refreshToken });
    await call('/v1/sessions/refresh', { refreshToken: oldNext.json.refreshToken });
    expect((await call('/v1/sessions/refresh', { refreshToken: old.json.refreshToken })).status).toBe(401);
    tokens.push(late.json.refreshToken, lateNext.json.refreshToken, old.json.refreshToken, oldNext.json.refreshToken, late.json.accessToken);

    expect(detections().map((l) => [l.level, l.fields.userId, l.fields.reason])).toEqual([
      ['warn', 'late', 'parent-after-grace'],
      ['warn', 'old', 'rotated-out-replay'],
    ]);
    expect(detections()[0]!.fields.msSinceRotation).toBeGreaterThanOrEqual(40_000);
    expect(detections()[0]!.fields.msSinceRotation).toBeLessThan(45_000);
    const everything = JSON.stringify(lines);
    for (const token of tokens) expect(everything).not.toContain(token);
  });
});
