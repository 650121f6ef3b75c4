/**
 * The engine reads time only through a {@link Clock}, so that expiry, grace windows and key rotation
 * can be tested on a controlled clock.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
