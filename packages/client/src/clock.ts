/**
 * Server time as seen from the client. A client clock that is wrong by minutes must change nothing:
 * every expiry the SDK reasons about is in server time, so it keeps the offset between the two
 * clocks and never compares a server timestamp with the raw local clock.
 *
 * The offset comes from the front token's `now` (millisecond precision, issued with every token),
 * or from another tab that learned it so (tabs share the device clock, so its offset is ours), and
 * until then from the HTTP `Date` header (one-second precision: up to half a second off, enough with
 * short-lived tokens to plan a refresh of a token that another tab has only just received). Network
 * latency makes the front-token estimate slightly early at worst, which only makes refreshes slightly
 * early. The server's 401 stays the final word whatever this estimate says.
 */
export interface ServerClock {
  /** Current server time estimate, ms since the epoch. */
  now(): number;
  /** True once any server time has been observed. */
  known(): boolean;
  /** Learns from a front token's `now`, taken at the moment it was received. */
  fromFrontToken(serverNow: number): void;
  /** The offset learned from a front token (for the other tabs), or undefined. */
  skew(): number | undefined;
  /** Learns from a `Date` header, only while nothing better is known. */
  fromDateHeader(value: string | null): void;
}

export function createServerClock(): ServerClock {
  let offset: number | null = null;
  let precise = false;
  return {
    now: () => Date.now() + (offset ?? 0),
    known: () => offset !== null,
    fromFrontToken(serverNow) {
      offset = serverNow - Date.now();
      precise = true;
    },
    skew: () => (precise ? offset! : undefined),
    fromDateHeader(value) {
      if (precise || !value) return;
      const t = Date.parse(value);
      // +500 ms: the header is truncated to the second, so the true time is on average half a second later.
      if (!Number.isNaN(t)) offset = t + 500 - Date.now();
    },
  };
}
