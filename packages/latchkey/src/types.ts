/**
 * Public record types shared by the engine, the stores and the HTTP layers.
 */
import type { TheftReason } from './errors.js';

/** A JSON value, as stored in session data and carried in token claims. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** What the caller tells latchkey about the device a session was created from. Shown in "your devices" lists. */
export interface DeviceInfo {
  /** The User-Agent header as sent (cut to 512 characters). */
  userAgent?: string | undefined;
  /** The client's IPv4 or IPv6 address (`node:net` isIP); anything else is refused with a TypeError. */
  ip?: string | undefined;
}

/** Why a session ended early. */
export type RevocationReason = 'signout' | 'signout-others' | 'revoke-all' | 'admin' | 'theft';
export const REVOCATION_REASONS: readonly RevocationReason[] = ['signout', 'signout-others', 'revoke-all', 'admin', 'theft'];

/**
 * The theft reasons a refresh rotation can detect (`decideRotation`): a parent presented after the
 * grace window, or any other replay of a rotated-out token. The third {@link TheftReason},
 * `revoked-for-theft`, is reported later, to the holders of a session already revoked for theft.
 */
export type DetectedTheftReason = Exclude<TheftReason, 'revoked-for-theft'>;

/** A session as the application sees it. Never carries refresh-token material. */
export interface Session {
  /** Random, unguessable session id; the `sid` claim of its tokens. */
  id: string;
  /** The user id; the immutable `sub` claim. */
  userId: string;
  createdAt: Date;
  /** When the session was created or last refreshed. */
  lastActiveAt: Date;
  /** The earlier of the idle and the absolute expiry: after it, refresh fails. */
  expiresAt: Date;
  idleExpiresAt: Date;
  absoluteExpiresAt: Date;
  /** When the user last authenticated (the `auth_time` claim), for freshness checks. */
  authTime: Date;
  device: DeviceInfo;
  /** Server-side data: never enters a token. */
  data: JsonObject;
  /** Extra claims put into every access token minted for this session. */
  accessClaims: JsonObject;
  /** Extra claims put into every ID (front) token minted for this session. */
  idClaims: JsonObject;
  revokedAt: Date | null;
  revokedReason: RevocationReason | null;
  /**
   * The key the session is bound to: `dpop` (RFC 9449, from sign-in), `dbsc` (a browser's Device
   * Bound Session Credentials key, registered after sign-in), or null for a bearer session.
   */
  deviceBinding: 'dpop' | 'dbsc' | null;
}

/** The signing algorithms latchkey supports. Each key is bound to exactly one of them. */
export type SigningAlgorithm = 'EdDSA' | 'ES256' | 'RS256';
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'ES256', 'RS256'];

/** The claims of a verified access token. */
export interface AccessTokenClaims {
  iss: string;
  aud: string | string[];
  sub: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
  auth_time: number;
  client_id?: string;
  [claim: string]: JsonValue | undefined;
}

/** Everything a successful create or refresh hands back. */
export interface IssuedTokens {
  session: Session;
  /** Opaque to clients: send it, never parse it. */
  accessToken: string;
  accessTokenExpiresAt: Date;
  /** Opaque; present it once to `refresh`. Only its hash is stored. */
  refreshToken: string;
  /** The front (ID) token: readable claims for the UI. Never accepted as an access token. */
  idToken: string;
  /**
   * `DPoP` when the session is bound to a DPoP key (send the access token as `Authorization: DPoP`
   * with a proof), `Bearer` otherwise (RFC 9449 §5 `token_type`).
   */
  tokenType: 'Bearer' | 'DPoP';
}

/** The result of a successful access-token verification. */
export interface VerifiedAccessToken {
  sessionId: string;
  userId: string;
  claims: AccessTokenClaims;
  /** From `auth_time`. */
  authTime: Date;
  expiresAt: Date;
  /** For a DPoP-bound token: the RFC 7638 thumbprint of its key (`cnf.jkt`), whose proof was checked. */
  boundKey?: string;
}
