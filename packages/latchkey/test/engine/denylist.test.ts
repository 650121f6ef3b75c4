import { describe, expect, it } from 'vitest';
import { RevocationDenylist } from '../../src/revocation/denylist.js';

describe('RevocationDenylist', () => {
  const t0 = Date.UTC(2026, 0, 1);

  it('denies a session until every token issued before its revocation has expired, never a moment less', () => {
    const list = new RevocationDenylist(930_000, t0);
    list.add('s1', t0 + 1_500, t0 + 1_500);
    expect(list.has('s1')).toBe(true);
    list.prune(t0 + 1_500 + 929_999);
    expect(list.has('s1')).toBe(true);
    list.prune(t0 + 1_500 + 931_000);
    expect(list.has('s1')).toBe(false);
  });

  it('ignores revocations too old to matter and keeps the later of two expiries', () => {
    const list = new RevocationDenylist(1_000, t0);
    list.add('old', t0, t0 + 5_000);
    expect(list.has('old')).toBe(false);
    list.add('s', t0 + 5_000, t0 + 5_000);
    list.add('s', t0 + 4_500, t0 + 5_000); // an older message arriving late does not shorten it
    list.prune(t0 + 5_900);
    expect(list.has('s')).toBe(true);
  });

  it('clamps a revocation claimed to lie in the future, so a forged bus message cannot stop pruning', () => {
    const list = new RevocationDenylist(1_000, t0);
    list.add('forged', t0 + 1e12, t0);
    for (let i = 1; i <= 50; i++) list.add(`s${i}`, t0 + i * 100, t0 + i * 100);
    expect(list.has('forged')).toBe(false);
    expect(list.size).toBeLessThanOrEqual(21);
  });

  it('prunes from the front as new revocations arrive', () => {
    const list = new RevocationDenylist(1_000, t0);
    for (let i = 0; i < 100; i++) list.add(`s${i}`, t0 + i * 100, t0 + i * 100);
    // One-second granularity: entries live at most a second past their need.
    expect(list.size).toBeLessThanOrEqual(21);
    expect(list.has('s99')).toBe(true);
    expect(list.has('s0')).toBe(false);
  });
});
