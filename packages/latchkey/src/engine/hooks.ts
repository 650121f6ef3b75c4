/**
 * Lifecycle hooks: where an app changes what the engine does without forking it. Each hook is typed
 * and says what it may change:
 *
 * - `beforeCreate` runs before anything is written. It may return claims and data to merge into the
 *   new session, or refuse it by throwing `SessionRefusedError`. Any other throw becomes a
 *   `HookError`; either way no session exists afterwards.
 * - `afterRefresh`, `onRevoke` and `onTheft` run after the change is committed and announced. They may
 *   only observe (send an email, write an audit row). A throw cannot undo a commit, so it is reported
 *   as an `error` event carrying a `HookError`, and the operation's own result stands: the client still
 *   gets its new tokens, the thief still gets `TOKEN_THEFT_DETECTED`.
 */
import { HookError, SessionRefusedError, type HookName, type TheftReason } from '../errors.js';
import type { TypedEmitter } from '../events.js';
import type { JsonObject, RevocationReason, Session } from '../types.js';

/** What `beforeCreate` sees: the session about to be created, after the claim fetches. */
export interface BeforeCreateInput {
  userId: string;
  accessClaims: Readonly<JsonObject>;
  idClaims: Readonly<JsonObject>;
  data: Readonly<JsonObject>;
}

/** What `beforeCreate` may change: each part given is merged (top level) into the new session's. */
export interface BeforeCreateResult {
  accessClaims?: JsonObject | undefined;
  idClaims?: JsonObject | undefined;
  data?: JsonObject | undefined;
}

export interface SessionHooks {
  /** Enrich or refuse a new session (throw `SessionRefusedError`). Runs before any write. */
  beforeCreate?: ((input: BeforeCreateInput) => BeforeCreateResult | void | Promise<BeforeCreateResult | void>) | undefined;
  /** After a refresh is committed (rotated, or a retry inside the grace window). Observe only. */
  afterRefresh?: ((event: { session: Session; grace: boolean }) => void | Promise<void>) | undefined;
  /** After sessions are revoked, on the instance that revoked them. Observe only. */
  onRevoke?:
    | ((event: { sessions: { sessionId: string; userId: string }[]; reason: RevocationReason; at: Date }) => void | Promise<void>)
    | undefined;
  /** After a session was revoked because its refresh token was replayed (e.g. email the user). Observe only. */
  onTheft?: ((event: { sessionId: string; userId: string; reason: TheftReason; at: Date }) => void | Promise<void>) | undefined;
}

/** Checks the option's shape once, at start: a typo'd hook name must not be silently ignored. */
export function validateHooks(hooks: unknown): SessionHooks {
  if (hooks === undefined) return {};
  if (typeof hooks !== 'object' || hooks === null) throw new TypeError('latchkey option hooks must be an object');
  for (const [name, hook] of Object.entries(hooks)) {
    if (!['beforeCreate', 'afterRefresh', 'onRevoke', 'onTheft'].includes(name))
      throw new TypeError(`latchkey option hooks: unknown hook ${name}`);
    if (hook !== undefined && typeof hook !== 'function') throw new TypeError(`latchkey option hooks.${name} must be a function`);
  }
  return hooks as SessionHooks;
}

/** Runs a hook that runs before a write: a refusal passes through, any other throw becomes a HookError. */
export async function runBeforeHook<T>(name: HookName, run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof SessionRefusedError) throw error;
    throw new HookError(name, { cause: error });
  }
}

/** Runs an observing hook after a commit: a throw is reported, never thrown (see the module comment). */
export async function runAfterHook(events: TypedEmitter, name: HookName, run: (() => void | Promise<void>) | undefined): Promise<void> {
  if (run === undefined) return;
  try {
    await run();
  } catch (error) {
    events.emit('error', { error: new HookError(name, { cause: error }), during: `hook ${name}` });
  }
}
