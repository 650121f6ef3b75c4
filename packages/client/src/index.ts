/**
 * @latchkey/client: the browser SDK for latchkey sessions (and a header mode for React Native and CLIs).
 *
 * ```ts
 * import { createLatchkeyClient } from '@latchkey/client';
 * const latchkey = createLatchkeyClient();
 * const res = await latchkey.fetch('/api/me');           // refreshes once if the token expired
 * latchkey.on('signedOut', () => router.push('/login')); // in every tab
 * ```
 */
export { createLatchkeyClient } from './client.js';
export type { LatchkeyClient, LatchkeyEvents } from './client.js';
export type { LatchkeyClientOptions, LatchkeyMode } from './options.js';
export { memoryTokenStorage } from './token-storage.js';
export type { StoredTokens, TokenStorage } from './token-storage.js';
export { LatchkeyClientError } from './errors.js';
export type { LatchkeyClientErrorCode } from './errors.js';
export type { Claims, FrontToken } from './front-token.js';
export type { AxiosLike, AxiosConfigLike } from './axios.js';
