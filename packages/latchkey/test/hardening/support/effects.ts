/**
 * A real store wrapped to record, besides every call (as `countingStore` in helpers/engine.ts does),
 * every call that CHANGED something. Some reads go through write-shaped methods on purpose: a
 * well-formed but unknown refresh token must reach `rotateRefreshToken` to be found unknown, and a
 * DELETE of a missing session calls `revokeSession`, which returns null. So "never a store write on
 * rejected input" is checked on effects: a rotation or theft, a session created, revoked or updated,
 * a key inserted or deleted.
 */
import type { SessionStore } from 'latchkey';

export interface EffectLog {
  store: SessionStore;
  calls: Map<string, number>;
  /** Calls that changed state, by method. */
  effects: Map<string, number>;
  totalCalls(): number;
  totalEffects(): number;
}

function changed(method: string, args: unknown[], result: unknown): boolean {
  switch (method) {
    case 'createSession':
    case 'insertServiceKey':
    case 'insertApiKey':
    case 'touchApiKeys':
      return true;
    case 'updateSession':
    case 'revokeSession':
      return result !== null;
    case 'rotateRefreshToken': {
      const kind = (result as { kind?: string } | null)?.kind;
      return kind === 'rotated' || kind === 'theft';
    }
    case 'revokeUserSessions':
      return Array.isArray(result) && result.length > 0;
    case 'insertSigningKey':
    case 'revokeServiceKey':
    case 'rotateApiKey':
      return result === true;
    case 'revokeApiKey':
      return result !== null;
    case 'deleteSigningKeys':
      return Array.isArray(args[0]) && args[0].length > 0;
    case 'deleteExpired': {
      const r = result as { sessions?: number; refreshTokens?: number } | null;
      return (r?.sessions ?? 0) + (r?.refreshTokens ?? 0) > 0;
    }
    default:
      return false;
  }
}

export function effectStore<S extends SessionStore>(inner: S): EffectLog & { store: S } {
  const calls = new Map<string, number>();
  const effects = new Map<string, number>();
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const method = String(prop);
      return (...args: unknown[]) => {
        bump(calls, method);
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (result instanceof Promise) {
          return result.then((resolved: unknown) => {
            if (changed(method, args, resolved)) bump(effects, method);
            return resolved;
          });
        }
        if (changed(method, args, result)) bump(effects, method);
        return result;
      };
    },
  });
  const sum = (map: Map<string, number>) => [...map.values()].reduce((a, b) => a + b, 0);
  return { store, calls, effects, totalCalls: () => sum(calls), totalEffects: () => sum(effects) };
}
