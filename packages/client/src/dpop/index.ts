/**
 * @latchkey/client/dpop: binds header-mode sessions to a key on this device (DPoP, RFC 9449).
 *
 * ```ts
 * import { createLatchkeyClient } from '@latchkey/client';
 * import { createDpop } from '@latchkey/client/dpop';
 * const latchkey = createLatchkeyClient({ mode: 'header', apiBase: 'https://api.example.com', dpop: createDpop() });
 * ```
 */
export { createDpop } from './signer.js';
export type { DpopOptions } from './signer.js';
export { indexedDbKeyStore, memoryKeyStore } from './key-store.js';
export type { DpopKeyStore } from './key-store.js';
export type { DpopSigner } from '../dpop-signer.js';
