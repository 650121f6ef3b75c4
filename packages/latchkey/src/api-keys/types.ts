/** The public shapes of user API keys, as the engine hands them out. */
import type { JsonObject } from '../types.js';

/** A key as its owner and the app see it: never the key itself, never its hash. */
export interface ApiKey {
  id: string;
  ownerId: string;
  name: string;
  scopes: readonly string[];
  /** The non-secret start of the key (`lk_Ab3dEf9h`), so a person can recognise it in a list. */
  prefix: string;
  metadata: JsonObject;
  createdAt: Date;
  /** Null: never expires. */
  expiresAt: Date | null;
  /** Recorded in batches, about once a minute: up to that much behind. Null: never used. */
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface CreateApiKeyInput {
  /** Whose key it is: usually a user id (also an organisation's or a service account's). */
  ownerId: string;
  /** For people: "CI deploys", "billing export". 1 to 200 characters. */
  name: string;
  /** What the key may do (RFC 6749 scope tokens, e.g. `invoices:read`). Default: none. */
  scopes?: readonly string[];
  /** Lifetime, seconds. Default: no expiry (prefer one: a forgotten key then ends by itself). */
  expiresIn?: number;
  /** App data kept with the key and returned on every verification (up to 8 KiB of JSON). */
  metadata?: JsonObject;
}

/** A new key: `key` is the plaintext, returned here once and never again. */
export interface CreatedApiKey {
  key: string;
  apiKey: ApiKey;
}

export interface VerifyApiKeyOptions {
  /** Scopes the key must all hold; otherwise `INSUFFICIENT_SCOPE` naming the missing ones. Default: none. */
  scopes?: readonly string[];
}

/** A verified key (frozen: the same object may serve many requests). */
export interface VerifiedApiKey {
  keyId: string;
  ownerId: string;
  name: string;
  scopes: readonly string[];
  metadata: Readonly<JsonObject>;
  /** The key's record as of its last load from the store. */
  apiKey: Readonly<ApiKey>;
}

export interface RotateApiKeyOptions {
  /**
   * Seconds the old key keeps working beside the new one, so clients can be switched over without
   * an outage. Default: the old key stops at once.
   */
  expiresPreviousIn?: number;
  /** Lifetime of the new key, seconds. Default: the old key's original lifetime, or none if it had none. */
  expiresIn?: number;
}

/** Why a key was refused (in the `api_key.rejected` event and `UnauthorisedError.reason`). */
export type ApiKeyRejectReason = 'malformed' | 'unknown' | 'revoked' | 'expired' | 'insufficient_scope';
