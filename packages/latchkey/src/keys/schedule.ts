/**
 * When to create and when to drop signing keys. Pure, so rotation can be tested across many periods
 * on a fake clock.
 *
 * The overlap rules that keep every valid token verifiable while keys rotate:
 * - a new key is published (in the store, hence in every JWKS) at least `publishLeadMs` before it
 *   starts signing, so verifiers that cache the JWKS have it before the first token it signs;
 * - a key that stopped signing stays published for `retainMs` after its successor took over, the
 *   longest lifetime of any token it signed plus the clock tolerance.
 */
import type { SigningKeyRecord } from '../stores/types.js';

export interface KeyScheduleOptions {
  rotationIntervalMs: number;
  publishLeadMs: number;
  retainMs: number;
}

export interface KeyPlan {
  /** A key to create, with its generation and the instant it starts signing. */
  create: { generation: number; activatesAt: number } | null;
  /** Kids no longer needed by any unexpired token. */
  remove: string[];
}

/** The key that signs at `now`: the newest generation already active, else the oldest (never none while keys exist). */
export function activeKey<K extends Pick<SigningKeyRecord, 'generation' | 'activatesAt'>>(keys: readonly K[], now: number): K | undefined {
  let active: K | undefined;
  let oldest: K | undefined;
  for (const key of keys) {
    if (key.activatesAt <= now && (!active || key.generation > active.generation)) active = key;
    if (!oldest || key.generation < oldest.generation) oldest = key;
  }
  return active ?? oldest;
}

export function planKeyMaintenance(keys: readonly SigningKeyRecord[], now: number, options: KeyScheduleOptions): KeyPlan {
  const sorted = [...keys].sort((a, b) => a.generation - b.generation);
  const latest = sorted.at(-1);
  if (!latest) return { create: { generation: 1, activatesAt: now }, remove: [] };

  let create: KeyPlan['create'] = null;
  // Only when the latest key is already signing: a pending successor means the next one is planned.
  // Created one lead earlier than strictly needed, so a maintenance pass that runs a little late
  // (timers tick every minute or so, an instance restarts) still publishes it a full lead ahead and
  // the schedule does not drift.
  if (latest.activatesAt <= now && now >= latest.activatesAt + options.rotationIntervalMs - 2 * options.publishLeadMs) {
    create = {
      generation: latest.generation + 1,
      // If we are late (the process was down), still honour the publish lead rather than the calendar.
      activatesAt: Math.max(latest.activatesAt + options.rotationIntervalMs, now + options.publishLeadMs),
    };
  }

  const remove: string[] = [];
  for (let i = 0; i < sorted.length - 1; i++) {
    const key = sorted[i]!;
    const successor = sorted[i + 1]!;
    if (successor.activatesAt + options.retainMs <= now) remove.push(key.kid);
  }
  return { create, remove };
}
