/**
 * Typed events for audit logs and metrics. Listeners run synchronously after the change has been
 * committed; an exception in a listener is reported through `error` listeners (or printed) and never
 * undoes or fails the operation.
 */
import type { ApiKeyRejectReason } from './api-keys/types.js';
import type { DetectedTheftReason, DeviceInfo, RevocationReason } from './types.js';

export interface LatchkeyEvents {
  /** `device`: what the caller said about the device (User-Agent, IP); `{}` when it said nothing. */
  'session.created': { sessionId: string; userId: string; at: Date; device: DeviceInfo };
  /** `device`: the refreshing request's device when the caller passed one, else the session's stored device. */
  'session.refreshed': { sessionId: string; userId: string; at: Date; grace: boolean; device: DeviceInfo };
  'session.revoked': { sessionId: string; userId: string; at: Date; reason: RevocationReason };
  /**
   * A rotated-out refresh token was replayed; the session has been revoked. `reason` tells a parent
   * presented after the grace window (`parent-after-grace`: perhaps a very late retry of a lost answer,
   * see `msSinceRotation`) from any other replay (`rotated-out-replay`). `msSinceRotation` is the time
   * since the session's current refresh token was issued (null if it never rotated).
   * Both sides, for the operator who must tell the victim from the thief: `device` is the request that
   * replayed the old token (as the caller passed it; `{}` when it passed none), `sessionDevice` the device
   * the session last recorded (the holder of the current token). Either side may be the thief.
   */
  'session.theft_detected': {
    sessionId: string;
    userId: string;
    at: Date;
    reason: DetectedTheftReason;
    msSinceRotation: number | null;
    device: DeviceInfo;
    sessionDevice: DeviceInfo;
  };
  /**
   * A request to a device-bound session did not prove possession of its key (a refresh with the right
   * refresh token and another key, or none): refused, nothing rotated, the session NOT revoked, so that
   * a thief without the key cannot sign the victim out. Worth an alert: someone holds a copy of the token.
   */
  'session.binding_mismatch': { sessionId: string; userId: string; at: Date; method: 'dpop' | 'dbsc'; reason: 'missing' | 'key_mismatch' };
  /**
   * A session was bound to a key on the user's device: created with a DPoP proof, or a browser
   * registered its DBSC key. From then on only that key's holder refreshes it. `jkt` is the key's RFC 7638
   * thumbprint (public: it names the key, it proves nothing). Not emitted again when a browser registers
   * the same key a second time.
   */
  'session.device_bound': { sessionId: string; userId: string; at: Date; method: 'dpop' | 'dbsc'; jkt: string };
  'keys.rotated': { kid: string; activatesAt: Date; at: Date };
  'api_key.created': { keyId: string; ownerId: string; at: Date };
  'api_key.revoked': { keyId: string; ownerId: string; at: Date };
  /** `previousExpiresAt`: when the old key stops (null: it stopped at once). */
  'api_key.rotated': { keyId: string; previousKeyId: string; ownerId: string; previousExpiresAt: Date | null; at: Date };
  /** A key was refused. `keyId` is the public id inside it (null when malformed); never the key. */
  'api_key.rejected': { keyId: string | null; reason: ApiKeyRejectReason; missingScopes?: string[]; at: Date };
  /**
   * The bus said service keys (the standalone service's callers) were revoked, or, with `keyIds:
   * null`, that the bus reconnected and such news may have been missed. The service drops them from
   * its service-key cache. Nothing else needs it.
   */
  'service_key.changed': { keyIds: readonly string[] | null; at: Date };
  'error': { error: unknown; during: string };
}

export type LatchkeyEventName = keyof LatchkeyEvents;
export type LatchkeyListener<E extends LatchkeyEventName> = (event: LatchkeyEvents[E]) => void;

export class TypedEmitter {
  #listeners = new Map<LatchkeyEventName, Set<(event: never) => void>>();

  on<E extends LatchkeyEventName>(name: E, listener: LatchkeyListener<E>): () => void {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    set.add(listener as (event: never) => void);
    return () => this.off(name, listener);
  }

  off<E extends LatchkeyEventName>(name: E, listener: LatchkeyListener<E>): void {
    this.#listeners.get(name)?.delete(listener as (event: never) => void);
  }

  emit<E extends LatchkeyEventName>(name: E, event: LatchkeyEvents[E]): void {
    const set = this.#listeners.get(name);
    if (!set || set.size === 0) {
      // An error nobody listens for must still be seen.
      if (name === 'error') console.error('latchkey:', (event as LatchkeyEvents['error']).during, (event as LatchkeyEvents['error']).error);
      return;
    }
    for (const listener of set) {
      try {
        (listener as LatchkeyListener<E>)(event);
      } catch (error) {
        if (name === 'error') console.error('latchkey: error listener threw', error);
        else this.emit('error', { error, during: `listener for ${name}` });
      }
    }
  }
}
