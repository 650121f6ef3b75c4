'use client';
// The browser side: one SDK client (cookie mode) for the whole app, made in the browser after mount.
import { createLatchkeyClient, type LatchkeyClient } from '@latchkey/client';
import { LatchkeyProvider } from '@latchkey/react';
import type { ReactNode } from 'react';

// Module-level, so that the provider sees the same factory on every render.
const makeClient = (): LatchkeyClient => createLatchkeyClient();

export function Providers({ children }: { children: ReactNode }) {
  return <LatchkeyProvider client={makeClient}>{children}</LatchkeyProvider>;
}
