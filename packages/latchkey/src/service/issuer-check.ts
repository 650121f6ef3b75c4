/**
 * Refuses to start an instance whose issuer would split a fleet.
 *
 * Why: without `LATCHKEY_ISSUER` the issuer defaults to `http://<host>:<port>`, which differs from
 * one instance to the next. Instances sharing one PostgreSQL store then sign tokens the others refuse
 * (`claim "iss" is invalid`): every request that lands on another instance than the one that signed
 * in fails. So on a shared store the issuer is recorded in the database by the first instance to
 * start, and an instance that would default to another one refuses to start, saying why.
 *
 * An explicit `LATCHKEY_ISSUER` always wins and is recorded (changing the public URL is a deliberate
 * act; set it on every instance). A store a single process uses (SQLite, memory) records nothing and
 * keeps the default.
 */
import type { SessionStore } from '../stores/types.js';
import { ConfigError, type ServiceConfig } from './config.js';
import type { Logger } from './logger.js';

/** Throws {@link ConfigError} naming LATCHKEY_ISSUER when a defaulted issuer differs from the fleet's. */
export async function checkIssuerFitsStore(
  store: SessionStore,
  config: Pick<ServiceConfig, 'issuer'>,
  issuer: string,
  logger: Logger,
  now = Date.now(),
): Promise<void> {
  if (!store.claimIssuer) return;
  const explicit = config.issuer !== undefined;
  const { recorded, previous } = await store.claimIssuer(issuer, { replace: explicit, now });
  if (explicit) {
    if (previous !== null && previous !== issuer) {
      logger.log('warn', 'configuration', {
        warning: `LATCHKEY_ISSUER changed from ${previous} to ${issuer}: tokens issued under the old one are refused; set the same value on every instance`,
      });
    }
    return;
  }
  if (recorded !== issuer) {
    throw new ConfigError(
      'LATCHKEY_ISSUER',
      `is not set, so this instance would default to ${issuer}, but the store is shared and its issuer is ${recorded} ` +
        '(recorded by the first instance to start). Instances with different issuers refuse each other\'s tokens ' +
        '(claim "iss" is invalid): set LATCHKEY_ISSUER to the public URL of the service, the same on every instance',
    );
  }
}
