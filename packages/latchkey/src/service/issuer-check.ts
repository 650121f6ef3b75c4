/**
 * Refuses to start an instance whose issuer would split a fleet.
 *
 * Why: without `LATCHKEY_ISSUER` the issuer defaults to `http://<host>:<port>`, which differs from
 * one instance to the next. Instances sharing one PostgreSQL store then sign tokens the others refuse
 * (`claim "iss" is invalid`): every request that lands on another instance than the one that signed
 * in fails. So on a shared store the issuer is recorded in the database by the first instance to
 * start, and an instance that would default to another one refuses to start, saying why.
 *
 * An explicit `LATCHKEY_ISSUER` that differs from the recorded one is refused too: a changed issuer
 * makes every token already issued fail, so changing it is a deliberate act, done by starting one
 * instance with `LATCHKEY_RESET_ISSUER=1` (which records the new value) and then every instance with
 * the new `LATCHKEY_ISSUER`. A store a single process uses (SQLite, memory) records nothing and
 * keeps the default.
 */
import type { SessionStore } from '../stores/types.js';
import { ConfigError, type ServiceConfig } from './config.js';
import type { Logger } from './logger.js';

/** Throws {@link ConfigError} naming LATCHKEY_ISSUER when this instance's issuer differs from the fleet's recorded one. */
export async function checkIssuerFitsStore(
  store: SessionStore,
  config: Pick<ServiceConfig, 'issuer' | 'resetIssuer'>,
  issuer: string,
  logger: Logger,
  now = Date.now(),
): Promise<void> {
  if (!store.claimIssuer) return;
  const explicit = config.issuer !== undefined;
  const reset = explicit && config.resetIssuer;
  const { recorded, previous } = await store.claimIssuer(issuer, { replace: reset, now });
  if (reset) {
    if (previous !== null && previous !== issuer) {
      logger.log('warn', 'configuration', {
        warning: `LATCHKEY_RESET_ISSUER: the recorded issuer changed from ${previous} to ${issuer}: tokens issued under the old one are refused; set LATCHKEY_ISSUER=${issuer} on every instance`,
      });
    }
    return;
  }
  if (recorded === issuer) return;
  const how =
    'Instances with different issuers refuse each other\'s tokens (claim "iss" is invalid): set LATCHKEY_ISSUER to the ' +
    'public URL of the service, the same on every instance. To change the recorded issuer deliberately (every token ' +
    'issued under the old one stops working), start one instance with LATCHKEY_ISSUER=<new> and LATCHKEY_RESET_ISSUER=1';
  if (explicit) {
    throw new ConfigError('LATCHKEY_ISSUER', `is ${issuer}, but the store is shared and its recorded issuer is ${recorded}. ${how}`);
  }
  throw new ConfigError(
    'LATCHKEY_ISSUER',
    `is not set, so this instance would default to ${issuer}, but the store is shared and its issuer is ${recorded} ` +
      `(recorded by the first instance to start). ${how}`,
  );
}
