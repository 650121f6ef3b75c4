/**
 * Proactive refresh: shortly before the access token expires, so that requests rarely meet a 401.
 *
 * - The moment is computed in server time (clock.ts), so a wrong device clock does not move it; and
 *   nothing fires on the device clock's word alone (see plan()).
 * - Jitter spreads the tabs of one origin; the lock and the marker check make the later ones no-ops.
 * - At most one proactive refresh per front token: if a refresh does not produce a new front token
 *   (the server sent none, or cookies are blocked), nothing is rescheduled for the old one, so no
 *   combination of server answers can make this a loop.
 * - Background tabs have their timers throttled (to once a minute or less), so the owner also calls
 *   `check()` when the tab becomes visible and when the device comes back online.
 */
import type { ServerClock } from './clock.js';
import type { FrontToken } from './front-token.js';

/** Refresh when this fraction of the token lifetime is left (at most MAX_LEAD_MS), halved by jitter at most. */
const LEAD_FRACTION = 0.2;
const MAX_LEAD_MS = 60_000;
/** Retry delays after a failed (unreachable) proactive refresh. */
const RETRY_MS = 5_000;
const MAX_RETRY_MS = 60_000;

export interface Scheduler {
  /** (Re)plans the refresh for this front token; `null` stops. */
  plan(front: FrontToken | null): void;
  /** Refreshes now if the token is within its lead time, else re-plans. */
  check(front: FrontToken | null): void;
  stop(): void;
}

/** @param refresh Performs the refresh; resolves true on an answer, false when the server was unreachable. */
export function createScheduler(clock: ServerClock, refresh: (front: FrontToken) => Promise<boolean>): Scheduler {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let firedFor: string | null = null;
  let failures = 0;

  const lead = (front: FrontToken): number =>
    Math.min((front.exp - front.now) * LEAD_FRACTION, MAX_LEAD_MS) * (0.5 + Math.random() * 0.5);

  function arm(delay: number, front: FrontToken): void {
    clearTimeout(timer);
    // Clamped: setTimeout treats anything over 2^31-1 ms as 0, which would fire at once.
    timer = setTimeout(() => void fire(front), Math.min(Math.max(0, delay), 2 ** 31 - 1));
    // A CLI must be able to exit while a refresh is merely planned.
    (timer as { unref?: () => void }).unref?.();
  }

  async function fire(front: FrontToken): Promise<void> {
    firedFor = front.raw;
    if (await refresh(front)) {
      failures = 0;
      return; // the refresh's outcome re-plans from the new front token
    }
    failures += 1;
    firedFor = null;
    arm(Math.min(RETRY_MS * 2 ** (failures - 1), MAX_RETRY_MS), front);
  }

  const scheduler: Scheduler = {
    plan(front) {
      clearTimeout(timer);
      if (!front || front.raw === firedFor) return;
      const delay = front.exp - lead(front) - clock.now();
      // Before any server time is known (a page load with a session), "expired" may only mean the
      // device clock is ahead: refreshing then would cost a refresh per page load on such devices.
      // Wait instead for the first response (it teaches the clock) or a 401 (the server's word).
      if (delay <= 0 && !clock.known()) return;
      arm(delay, front);
    },
    check(front) {
      if (front && front.raw !== firedFor && clock.known() && clock.now() >= front.exp - lead(front)) arm(0, front);
      else scheduler.plan(front);
    },
    stop: () => clearTimeout(timer),
  };
  return scheduler;
}
