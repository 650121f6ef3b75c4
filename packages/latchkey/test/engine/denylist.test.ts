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

  it('remembers which sessions were revoked for theft, keeps it across re-announcements, and prunes them alike', () => {
    const list = new RevocationDenylist(1_000, t0);
    list.add('plain', t0 + 100, t0 + 100);
    list.add('stolen', t0 + 100, t0 + 100, true);
    expect([list.denied('plain'), list.denied('stolen'), list.denied('other')]).toEqual(['revoked', 'theft', undefined]);
    // A later plain announcement of the same session (an older release's message) keeps the theft.
    list.add('stolen', t0 + 900, t0 + 900);
    expect(list.denied('stolen')).toBe('theft');
    // A theft learned after a plain entry upgrades it.
    list.add('plain', t0 + 100, t0 + 900, true);
    expect(list.denied('plain')).toBe('theft');
    // The later announcement extended the theft entry's life; the sign never confuses pruning.
    list.prune(t0 + 1_500);
    expect(list.denied('stolen')).toBe('theft');
    list.prune(t0 + 3_000);
    expect([list.has('plain'), list.has('stolen'), list.size]).toEqual([false, false, 0]);
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
