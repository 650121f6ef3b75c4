/**
 * The engine's whole token cycle emits no deprecation warning from Node.js. Why a file of its own: a
 * runtime deprecation warns once per process, so any earlier test in the same worker would have spent
 * it. On Node.js 20 the conversions below are not deprecated yet; CI runs this file on 24 as well
 * (.ci/node-versions), where converting jose's non-extractable private CryptoKey with
 * `KeyObject.from` warns (DEP0204) on every start of an app.
 */
import { describe, expect, it } from 'vitest';
import { testEngine } from '../helpers/engine.js';

describe('Node.js deprecations', () => {
  it('signing, verifying and refreshing emit no DeprecationWarning', async () => {
    const warnings: string[] = [];
    const listener = (warning: Error & { code?: string }): void => {
      if (warning.name === 'DeprecationWarning') warnings.push(`${warning.code ?? ''} ${warning.message}`);
    };
    process.on('warning', listener);
    try {
      for (const signingAlgorithm of ['EdDSA', 'ES256', 'RS256'] as const) {
        const { lk } = await testEngine({ signingAlgorithm });
        const issued = await lk.createSession({ userId: 'u' });
        await lk.verifyAccessToken(issued.accessToken);
        await lk.refresh(issued.refreshToken);
        await lk.close();
      }
      // Warnings are emitted on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', listener);
    }
  });
});
