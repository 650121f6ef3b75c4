/**
 * The invariant load driver: many simulated clients against the service over HTTP, each running a
 * random mix of what real clients do and what attackers do, while the test injects faults.
 *
 * Each client owns one user and, at any time, one session. Its moves:
 * - verify its access token (on any instance);
 * - refresh (retrying the SAME token on another instance when a response is lost: a dropped
 *   connection, a killed instance, a 503 while the database restarts);
 * - race: 2-4 refreshes of one token at once on random instances (tabs, devices, retries);
 * - lost response: refresh, throw the answer away, refresh with the same token again;
 * - replay a stolen token: a token at least two rotations old (outside every grace rule: grace
 *   covers only the immediate parent), rotating first when the session is younger than that;
 * - revoke its session, or all of its user's sessions.
 *
 * What must hold is checked as it happens (recorded as violations, never thrown, so that one run
 * reports them all) and at the end from the store itself (see checkStore below).
 */
import { hashRefreshToken } from 'latchkey/refresh/token';
import type { Fleet, Instance } from './fleet.js';

export interface Reply {
  /** 0 when no response arrived (refused, reset, timed out). */
  status: number;
  code: string | undefined;
  json: any;
  text: string;
  instance: string;
}

export interface ClientSession {
  sessionId: string;
  userId: string;
  accessToken: string;
  /** Every refresh token this client was handed for the session, oldest first. */
  received: string[];
  /** How it ended, if it did: by the test's own revocation, or by a replay of a stolen token. */
  ended?: { by: 'revoke' | 'revoke-user' | 'theft'; ackAt: number };
}

export interface LoadCounts {
  requests: number;
  sessions: number;
  verifies: number;
  refreshes: number;
  races: number;
  /** Simulated: a refresh whose answer the client threw away, then retried. */
  lostResponses: number;
  /** Real: requests that got no answer (killed instance, reset connection) or a 503, and were retried. */
  retries: number;
  replays: number;
  theftsDetected: number;
  revocations: number;
  revocationChecks: number;
  /** Revocations checked against the degraded bound (made during a bus outage, or retried after a lost attempt). */
  degradedRevocations: number;
  status503: number;
  status5xxOther: number;
  faults: number;
}

export interface LoadOptions {
  fleet: Fleet;
  apiKey: string;
  clients: number;
  durationMs: number;
  /**
   * Faults, each run once at `at` ms after the start. `degradesFanout`: while it lasts (and 1 s
   * after), revocations get the degraded bound, since only store polling can carry them.
   */
  faults: Array<{ at: number; name: string; run: () => Promise<void>; degradesFanout?: boolean }>;
  /** The bound after which a revoked session's access token must be refused everywhere, ms. */
  fanoutBoundMs: number;
  /** The bound while the fan-out is degraded (store polling interval plus slack), ms. */
  degradedBoundMs: number;
}

export interface LoadResult {
  counts: LoadCounts;
  violations: string[];
  sessions: ClientSession[];
  /** Every error body received, for the secrets check. */
  errorBodies: string[];
  faultLog: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const RETRY_DEADLINE_MS = 20_000;

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { fleet, apiKey } = options;
  const counts: LoadCounts = {
    requests: 0, sessions: 0, verifies: 0, refreshes: 0, races: 0, lostResponses: 0, retries: 0, replays: 0,
    theftsDetected: 0, revocations: 0, revocationChecks: 0, degradedRevocations: 0, status503: 0, status5xxOther: 0, faults: 0,
  };
  const violations: string[] = [];
  const sessions: ClientSession[] = [];
  const errorBodies: string[] = [];
  const faultLog: string[] = [];
  const pendingChecks: Promise<void>[] = [];
  const started = Date.now();
  let degradedUntil = 0;
  const violation = (text: string) => violations.push(`${((Date.now() - started) / 1000).toFixed(2)}s ${text}`);

  async function send(instance: Instance, method: string, path: string, body?: unknown): Promise<Reply> {
    counts.requests++;
    try {
      const res = await fetch(instance.url + path, {
        method,
        headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(5_000),
      });
      const text = await res.text();
      let json: any;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      const code = json?.error?.code as string | undefined;
      if (res.status >= 400) errorBodies.push(text);
      if (res.status === 503) counts.status503++;
      else if (res.status >= 500) {
        counts.status5xxOther++;
        violation(`${method} ${path} on ${instance.name}: ${res.status} ${text.slice(0, 200)}`);
      }
      return { status: res.status, code, json, text, instance: instance.name };
    } catch {
      return { status: 0, code: undefined, json: undefined, text: '', instance: instance.name };
    }
  }

  /** Sends until an answer that is not "lost" (no response, or 503): the retry a real client makes. */
  async function sendRetrying(method: string, path: string, body?: unknown): Promise<Reply & { lost: number }> {
    const deadline = Date.now() + RETRY_DEADLINE_MS;
    let lost = 0;
    for (;;) {
      const reply = await send(fleet.pick(), method, path, body);
      if (reply.status !== 0 && reply.status !== 503) return { ...reply, lost };
      lost++;
      counts.retries++;
      if (Date.now() > deadline) {
        violation(`${method} ${path}: no answer for ${RETRY_DEADLINE_MS} ms`);
        return { ...reply, lost };
      }
      await sleep(50 + Math.random() * 100);
    }
  }

  async function newSession(userId: string): Promise<ClientSession | undefined> {
    const reply = await sendRetrying('POST', '/v1/sessions', { userId });
    if (reply.status !== 201) {
      violation(`create for ${userId}: ${reply.status} ${reply.text.slice(0, 200)}`);
      return undefined;
    }
    counts.sessions++;
    const s: ClientSession = { sessionId: reply.json.session.id, userId, accessToken: reply.json.accessToken, received: [reply.json.refreshToken] };
    sessions.push(s);
    return s;
  }

  /** A refresh the client sees succeed, or the failure (a violation here: the session is live). */
  async function refresh(s: ClientSession, token: string, what: string): Promise<string | undefined> {
    const reply = await sendRetrying('POST', '/v1/sessions/refresh', { refreshToken: token });
    if (reply.status === 200) return reply.json.refreshToken as string;
    // A benign retry or race must never be taken for theft, and a live session never refused.
    violation(`${what} on live session ${s.sessionId} (after ${reply.lost} lost): ${reply.status} ${reply.code}`);
    return undefined;
  }

  /** After an acknowledged revocation: every instance refuses the access token once the bound has passed. */
  function scheduleRevocationCheck(s: ClientSession, ackAt: number, lostAttempts: number): void {
    // A lost attempt may have committed on an instance that died before publishing to the bus: the
    // retry finds the session already revoked and has nothing to announce, so only store polling
    // carries this revocation to the other instances (a documented limit, see docs/security.md).
    const degraded = Date.now() < degradedUntil || lostAttempts > 0;
    if (degraded) counts.degradedRevocations++;
    const bound = degraded ? options.degradedBoundMs : options.fanoutBoundMs;
    pendingChecks.push(
      (async () => {
        // checkStore reads the session itself: refused at once, on any instance, with no fan-out delay.
        const checked = await sendRetrying('POST', '/v1/sessions/verify', { accessToken: s.accessToken, checkStore: true });
        counts.revocationChecks++;
        if (checked.status !== 401) violation(`revoked session ${s.sessionId} (${s.ended?.by}) accepted with checkStore right after the acknowledgement: ${checked.status}`);
        await sleep(Math.max(0, ackAt + bound - Date.now()));
        // A fault that began after the revocation can have delayed the fan-out too.
        const degradedNow = !degraded && Date.now() < degradedUntil;
        if (degradedNow) await sleep(options.degradedBoundMs - options.fanoutBoundMs);
        for (const instance of fleet.up()) {
          const reply = await send(instance, 'POST', '/v1/sessions/verify', { accessToken: s.accessToken });
          if (reply.status === 0 || reply.status === 503) continue; // went down meanwhile; the final sweep covers it
          counts.revocationChecks++;
          if (reply.status !== 401) violation(`revoked session ${s.sessionId} (${s.ended?.by}) still accepted on ${instance.name} ${Date.now() - ackAt} ms after the acknowledgement`);
        }
      })(),
    );
  }

  async function client(index: number): Promise<void> {
    const userId = `load-user-${index}`;
    let s = await newSession(userId);
    // The first client opens with a stolen-token replay, so that every run proves theft detection
    // however few moves a loaded machine lets the clients make (a 6 s run can be ~20 moves in all).
    let replayFirst = index === 0;
    while (s && Date.now() - started < options.durationMs) {
      const roll = replayFirst ? 85 : Math.random() * 100;
      replayFirst = false;
      if (roll >= 82 && roll < 90) {
        // A stolen token is one at least two rotations old: rotate first if the session is too young.
        while (s.received.length < 3) {
          counts.refreshes++;
          const next = await refresh(s, s.received.at(-1)!, 'refresh before a replay');
          if (!next) break;
          s.received.push(next);
        }
      }
      const current = s.received.at(-1)!;
      if (roll < 35) {
        counts.verifies++;
        const reply = await sendRetrying('POST', '/v1/sessions/verify', { accessToken: s.accessToken });
        if (reply.status !== 200) violation(`verify of live session ${s.sessionId}: ${reply.status} ${reply.code}`);
      } else if (roll < 60) {
        counts.refreshes++;
        const next = await refresh(s, current, 'refresh');
        if (next) s.received.push(next);
      } else if (roll < 72) {
        counts.races++;
        const k = 2 + Math.floor(Math.random() * 3);
        const results = await Promise.all(Array.from({ length: k }, () => refresh(s!, current, `race x${k}`)));
        const distinct = new Set(results.filter((r) => r !== undefined));
        if (distinct.size > 1) violation(`race x${k} on ${s.sessionId} handed out ${distinct.size} different successors`);
        const next = [...distinct][0];
        if (next) s.received.push(next);
      } else if (roll < 82) {
        counts.lostResponses++;
        const first = await refresh(s, current, 'first of a lost-response pair');
        const again = await refresh(s, current, 'retry after a lost response');
        if (first && again && first !== again) violation(`retry after a lost response on ${s.sessionId} got a different successor`);
        if (again) s.received.push(again);
      } else if (roll < 90) {
        if (s.received.length < 3) continue;
        counts.replays++;
        const stolen = s.received.at(-3)!;
        const reply = await sendRetrying('POST', '/v1/sessions/refresh', { refreshToken: stolen });
        // A lost first attempt may have committed the theft revocation; the retry then finds it revoked.
        const ok = (reply.status === 401 && reply.code === 'TOKEN_THEFT_DETECTED' && reply.json.error.sessionId === s.sessionId && reply.json.error.userId === userId)
          || (reply.lost > 0 && reply.status === 401 && reply.code === 'UNAUTHORISED');
        if (!ok) violation(`stolen-token replay on ${s.sessionId} not detected: ${reply.status} ${reply.code}`);
        if (reply.code === 'TOKEN_THEFT_DETECTED') counts.theftsDetected++;
        s.ended = { by: 'theft', ackAt: Date.now() };
        // The legitimate holder's current token is dead too, and not reported as a second theft.
        const holder = await sendRetrying('POST', '/v1/sessions/refresh', { refreshToken: current });
        if (holder.status !== 401 || holder.code !== 'UNAUTHORISED') violation(`current token of theft-revoked ${s.sessionId}: ${holder.status} ${holder.code}`);
        scheduleRevocationCheck(s, s.ended.ackAt, reply.lost);
        s = await newSession(userId);
      } else if (roll < 97) {
        counts.revocations++;
        const reply = await sendRetrying('DELETE', `/v1/sessions/${s.sessionId}`);
        if (reply.status !== 204) violation(`revoke ${s.sessionId}: ${reply.status} ${reply.code}`);
        s.ended = { by: 'revoke', ackAt: Date.now() };
        scheduleRevocationCheck(s, s.ended.ackAt, reply.lost);
        s = await newSession(userId);
      } else {
        counts.revocations++;
        const reply = await sendRetrying('DELETE', `/v1/users/${userId}/sessions`);
        // A lost first attempt may have revoked already: then the retry revokes nothing.
        // A create whose response was lost may have left a second session of the user: >= 1.
        if (reply.status !== 200 || !(reply.json.revoked >= 1 || (reply.lost > 0 && reply.json.revoked === 0))) {
          violation(`revoke-user ${userId}: ${reply.status} ${reply.text.slice(0, 100)}`);
        }
        s.ended = { by: 'revoke-user', ackAt: Date.now() };
        scheduleRevocationCheck(s, s.ended.ackAt, reply.lost);
        s = await newSession(userId);
      }
      await sleep(Math.random() * 20);
    }
  }

  const faults = options.faults.map(async (fault) => {
    await sleep(fault.at);
    const at = Date.now();
    faultLog.push(`${((at - started) / 1000).toFixed(2)}s ${fault.name}`);
    // Revocations acknowledged while the bus is down get the degraded bound (store polling).
    if (fault.degradesFanout) degradedUntil = Number.POSITIVE_INFINITY;
    try {
      await fault.run();
      counts.faults++;
    } finally {
      if (fault.degradesFanout) degradedUntil = Date.now() + 1_000;
      faultLog.push(`${((Date.now() - started) / 1000).toFixed(2)}s ${fault.name} recovered (${Date.now() - at} ms)`);
    }
  });

  await Promise.all([...Array.from({ length: options.clients }, (_, i) => client(i)), ...faults]);
  await Promise.all(pendingChecks);
  return { counts, violations, sessions, errorBodies, faultLog };
}

export interface StoreSnapshot {
  sessions: Array<{ id: string; user_id: string; revoked_at: number | null; revoked_reason: string | null; current_refresh_hash: string; previous_refresh_hash: string | null; generation: number }>;
  tokens: Array<{ hash: string; session_id: string; generation: number }>;
}

/**
 * The end-state invariants, read from the store itself:
 * - every session's chain is consistent: one token per generation 0..n, the current hash is the
 *   generation-n token, the previous hash the generation n-1 one: never two current tokens;
 * - nothing committed was lost: every token a client was handed is in its session's chain, and a
 *   live session's current token is the last one its client received;
 * - every acknowledged revocation is there; every theft-revoked session is one the test replayed
 *   a stolen token on (no benign race was flagged), and every such replay revoked it as theft.
 */
export function checkStore(snapshot: StoreSnapshot, sessions: ClientSession[]): string[] {
  const violations: string[] = [];
  const tokensBySession = new Map<string, StoreSnapshot['tokens']>();
  for (const t of snapshot.tokens) {
    const list = tokensBySession.get(t.session_id) ?? [];
    list.push(t);
    tokensBySession.set(t.session_id, list);
  }
  const rows = new Map(snapshot.sessions.map((r) => [r.id, r]));
  for (const row of snapshot.sessions) {
    const chain = tokensBySession.get(row.id) ?? [];
    const generations = chain.map((t) => Number(t.generation)).sort((a, b) => a - b);
    const n = Number(row.generation);
    const expected = Array.from({ length: n + 1 }, (_, i) => i);
    if (JSON.stringify(generations) !== JSON.stringify(expected)) violations.push(`session ${row.id}: chain generations ${JSON.stringify(generations)} for generation ${n}`);
    const current = chain.filter((t) => t.hash === row.current_refresh_hash);
    if (current.length !== 1 || Number(current[0]!.generation) !== n) violations.push(`session ${row.id}: current hash is not the generation-${n} token`);
    if (n > 0) {
      const previous = chain.find((t) => t.hash === row.previous_refresh_hash);
      if (!previous || Number(previous.generation) !== n - 1) violations.push(`session ${row.id}: previous hash is not the generation-${n - 1} token`);
    }
  }
  const replayed = new Set(sessions.filter((s) => s.ended?.by === 'theft').map((s) => s.sessionId));
  for (const row of snapshot.sessions) {
    if (row.revoked_reason === 'theft' && !replayed.has(row.id)) violations.push(`session ${row.id} revoked as theft, but no stolen token was replayed on it (a benign race flagged)`);
  }
  for (const s of sessions) {
    const row = rows.get(s.sessionId);
    if (!row) {
      violations.push(`session ${s.sessionId} acknowledged to its client is missing from the store`);
      continue;
    }
    const chain = new Set((tokensBySession.get(s.sessionId) ?? []).map((t) => t.hash));
    for (const token of s.received) if (!chain.has(hashRefreshToken(token))) violations.push(`session ${s.sessionId}: a refresh token its client received is not in its chain (lost commit)`);
    if (!s.ended) {
      if (row.revoked_at !== null) violations.push(`live session ${s.sessionId} is revoked (${row.revoked_reason})`);
      if (row.current_refresh_hash !== hashRefreshToken(s.received.at(-1)!)) violations.push(`live session ${s.sessionId}: the current token is not the last one its client received`);
    } else {
      if (row.revoked_at === null) violations.push(`session ${s.sessionId}: acknowledged ${s.ended.by} revocation is not in the store`);
      if (s.ended.by === 'theft' && row.revoked_reason !== 'theft') violations.push(`session ${s.sessionId}: stolen-token replay did not revoke it as theft (${row.revoked_reason})`);
    }
  }
  return violations;
}

/**
 * The final sweep, with every instance up and the fan-out healthy: every ended session's access
 * token is refused everywhere and its last refresh token refused as UNAUTHORISED (never rotated,
 * never "theft" again); every live session's access token is accepted everywhere.
 */
export async function finalSweep(fleet: Fleet, apiKey: string, sessions: ClientSession[]): Promise<{ checked: number; violations: string[] }> {
  const violations: string[] = [];
  let checked = 0;
  const post = async (instance: Instance, path: string, body: unknown) => {
    const res = await fetch(instance.url + path, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json: any = await res.json();
    return { status: res.status, code: json?.error?.code as string | undefined };
  };
  const sweepOne = async (s: ClientSession) => {
    for (const instance of fleet.up()) {
      checked++;
      const verified = await post(instance, '/v1/sessions/verify', { accessToken: s.accessToken });
      if (s.ended && verified.status !== 401) violations.push(`ended session ${s.sessionId} (${s.ended.by}) accepted on ${instance.name}: ${verified.status}`);
      if (!s.ended && verified.status !== 200) violations.push(`live session ${s.sessionId} refused on ${instance.name}: ${verified.status} ${verified.code}`);
    }
    if (s.ended) {
      const refreshed = await post(fleet.pick(), '/v1/sessions/refresh', { refreshToken: s.received.at(-1) });
      if (refreshed.status !== 401 || refreshed.code !== 'UNAUTHORISED') violations.push(`ended session ${s.sessionId}: last refresh token answered ${refreshed.status} ${refreshed.code}`);
    }
  };
  // A few at a time: a soak run ends with tens of thousands of sessions.
  for (let i = 0; i < sessions.length; i += 16) await Promise.all(sessions.slice(i, i + 16).map(sweepOne));
  return { checked, violations };
}

/**
 * Credentials that must never appear in logs, metrics or error bodies: every token handed out and
 * the deployment's secrets. Searched by pattern (any refresh token, any JWT-looking string) and by
 * exact value, so a leak of a token the test did not see is caught too.
 */
export function findSecrets(text: string, sessions: ClientSession[], secrets: string[]): string[] {
  const found: string[] = [];
  if (/lkrt_[A-Za-z0-9_-]{8}/.test(text)) found.push('a refresh token (lkrt_...)');
  if (/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/.test(text)) found.push('a JWT (eyJ...)');
  if (/lksk_[A-Za-z0-9_-]{8}/.test(text)) found.push('an API key (lksk_...)');
  for (const secret of secrets) if (secret && text.includes(secret)) found.push(`a deployment secret (${secret.length} chars)`);
  const tokens = new Set(sessions.flatMap((s) => [s.accessToken, ...s.received]));
  for (const match of text.matchAll(/[A-Za-z0-9_.-]{40,}/g)) if (tokens.has(match[0])) found.push('a token handed to a client');
  return found;
}
