/**
 * The claim validators exist twice, byte for byte: in the server package and in the browser SDK (which
 * imports nothing of the server). This keeps the two copies from drifting: the SDK must judge a claim
 * exactly as the API does, or a UI would let the user on to a page the API then refuses.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

it('packages/client/src/claim-checks.ts is the same file as packages/latchkey/src/claims/checks.ts', () => {
  const server = readFileSync(`${root}packages/latchkey/src/claims/checks.ts`, 'utf8');
  const client = readFileSync(`${root}packages/client/src/claim-checks.ts`, 'utf8');
  expect(client.length).toBeGreaterThan(1000);
  expect(client).toBe(server);
});
