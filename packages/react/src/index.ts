/**
 * @latchkey/react: React bindings for the latchkey browser SDK (`@latchkey/client`).
 *
 * ```tsx
 * <LatchkeyProvider client={() => createLatchkeyClient()}>
 *   <SignedIn><Dashboard /></SignedIn>
 *   <SignedOut><SignInForm /></SignedOut>
 * </LatchkeyProvider>
 * ```
 */
export { LatchkeyProvider, useLatchkeyClient } from './provider.js';
export type { LatchkeyProviderProps } from './provider.js';
export { SignedIn, SignedOut, useReloadSession, useSession } from './use-session.js';
export type { SessionGateProps } from './use-session.js';
export type { SessionState, SessionStatus } from './session-store.js';
export { useSignOut } from './use-sign-out.js';
export { useClaim } from './use-claim.js';
export type { ClaimState } from './use-claim.js';
export { SessionsRequestError, useSessions } from './use-sessions.js';
export type { DeviceSession, SessionsState, UseSessionsOptions } from './use-sessions.js';
