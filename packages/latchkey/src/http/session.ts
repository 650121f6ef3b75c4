/**
 * The per-request session object handed to application code, and the public shape of a session on
 * the wire (the sessions list, token responses).
 */
import type { Latchkey, SessionUpdate } from '../engine.js';
import { NotFoundError } from '../errors.js';
import type { JsonMerge } from '../stores/types.js';
import type { AccessTokenClaims, DeviceInfo, JsonObject, Session, VerifiedAccessToken } from '../types.js';
import type { TransportMode } from './options.js';
import type { HeaderSink } from './response.js';

/** A session as the JSON API shows it: no claims, no server-side data, no token material. */
export interface PublicSession {
  id: string;
  userId: string;
  createdAt: string;
  lastActiveAt: string;
  expiresAt: string;
  authTime: string;
  device: DeviceInfo;
  /** In the sessions list: true for the session making the request. */
  current?: boolean;
}

export function toPublicSession(session: Session, currentId?: string): PublicSession {
  const result: PublicSession = {
    id: session.id,
    userId: session.userId,
    createdAt: session.createdAt.toISOString(),
    lastActiveAt: session.lastActiveAt.toISOString(),
    expiresAt: session.expiresAt.toISOString(),
    authTime: session.authTime.toISOString(),
    device: { ...session.device },
  };
  if (currentId !== undefined) result.current = session.id === currentId;
  return result;
}

/** Fresh tokens after {@link LatchkeySession.update}. In header mode, send them to the client. */
export interface SessionUpdateResult {
  session: Session;
  accessToken: string;
  accessTokenExpiresAt: Date;
  idToken: string;
}

/** The authenticated session of one request. */
export interface LatchkeySession {
  readonly userId: string;
  readonly sessionId: string;
  /** Verified access-token claims (frozen). */
  readonly claims: Readonly<AccessTokenClaims>;
  readonly authTime: Date;
  /** When the access token expires. */
  readonly expiresAt: Date;
  /** How this request authenticated. */
  readonly mode: TransportMode;
  /** Server-side session data. Read from the store on first call only (verification never touches it). */
  data(): Promise<JsonObject>;
  /** The full session record (store read, remembered for this request). */
  load(): Promise<Session>;
  /**
   * Replaces access claims, ID claims and/or data, and mints tokens carrying them at once. In cookie
   * mode the new access and front cookies are set on this response; in header mode the response
   * carries `X-Latchkey-Access-Token` (the new access token) and `X-Latchkey-Front` (the new ID
   * token and expiry), which the SDK adopts. Called twice in one request, the last call's cookies
   * and headers are the ones sent.
   */
  update(update: SessionUpdate): Promise<SessionUpdateResult>;
  /** Ends this session everywhere at once. In cookie mode also clears the cookies on this response. */
  revoke(): Promise<boolean>;
}

export interface SessionDeps {
  engine: Latchkey;
  /** Headers to set after `update` (new cookies and front token). */
  reissued(tokens: { accessToken: string; accessTokenExpiresAt: Date; idToken: string }, session: Session, mode: TransportMode): [string, string][];
  /** Headers that end the session on the client (cleared cookies). */
  cleared(mode: TransportMode): [string, string][];
}

/**
 * The update that puts back what `update` changed. A replaced part is replaced again by its old
 * value; a merged part gets back only the keys the merge touched (their old values, or deleted when
 * they were absent), so that another writer's concurrent merge of other keys survives the undo.
 */
function undoOf(update: SessionUpdate, previous: Session): SessionUpdate {
  const restoring = (merged: JsonMerge, before: JsonObject): JsonMerge =>
    Object.fromEntries(Object.keys(merged).map((key) => [key, Object.hasOwn(before, key) ? before[key]! : null]));
  const undo: SessionUpdate = {};
  if (update.accessClaims !== undefined) undo.accessClaims = previous.accessClaims;
  else if (update.mergeAccessClaims !== undefined) undo.mergeAccessClaims = restoring(update.mergeAccessClaims, previous.accessClaims);
  if (update.idClaims !== undefined) undo.idClaims = previous.idClaims;
  else if (update.mergeIdClaims !== undefined) undo.mergeIdClaims = restoring(update.mergeIdClaims, previous.idClaims);
  if (update.data !== undefined) undo.data = previous.data;
  else if (update.mergeData !== undefined) undo.mergeData = restoring(update.mergeData, previous.data);
  return undo;
}

export function createRequestSession(
  verified: VerifiedAccessToken,
  mode: TransportMode,
  deps: SessionDeps,
  sink: HeaderSink | undefined,
): LatchkeySession {
  let loaded: Promise<Session> | undefined;
  const load = (): Promise<Session> => {
    loaded ??= deps.engine.getSession(verified.sessionId).then((s) => {
      if (!s) throw new NotFoundError('session not found');
      return s;
    });
    return loaded;
  };
  // What this session last wrote to the response. A second write (two updates, or an update then a
  // revoke) takes it back first, so each cookie and header is sent once and the last write wins:
  // two access-token Set-Cookie lines would leave a client reading the wrong one.
  let written: [string, string][] = [];
  const emit = (headers: [string, string][]): void => {
    if (!sink) return;
    const same = (a: [string, string]) => (b: [string, string]) => a[0] === b[0] && a[1] === b[1];
    // Only what changed is taken back and added: an identical header (the CORS expose list, which
    // may be joined with the app's own) stays as it is, once.
    if (sink.remove) for (const pair of written) if (!headers.some(same(pair))) sink.remove(pair[0], pair[1]);
    for (const pair of headers) if (!sink.remove || !written.some(same(pair))) sink.append(pair[0], pair[1]);
    written = headers;
  };
  return {
    userId: verified.userId,
    sessionId: verified.sessionId,
    claims: verified.claims,
    authTime: verified.authTime,
    expiresAt: verified.expiresAt,
    mode,
    data: async () => (await load()).data,
    load,
    async update(update) {
      // In cookie mode the new tokens must still fit their cookies (4096 bytes). That is only known
      // after minting, so keep the old claims to put back: a session whose tokens no cookie can hold
      // would fail its next refresh and sign the user out.
      const previous = mode === 'cookie' ? await load() : undefined;
      const session = await deps.engine.updateSession(verified.sessionId, update);
      loaded = Promise.resolve(session);
      const tokens = await deps.engine.reissueTokens(verified.sessionId);
      let headers: [string, string][];
      try {
        headers = deps.reissued(tokens, session, mode);
      } catch (error) {
        if (previous) loaded = Promise.resolve(await deps.engine.updateSession(verified.sessionId, undoOf(update, previous)));
        throw error;
      }
      emit(headers);
      return { session, ...tokens };
    },
    async revoke() {
      const revoked = await deps.engine.revokeSession(verified.sessionId, 'signout');
      emit(deps.cleared(mode));
      return revoked;
    },
  };
}
