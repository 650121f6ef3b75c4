'use client';
// What the browser knows of the session (useSession), and sign-out (useSignOut).
import { SignedIn, SignedOut, useSession, useSignOut } from '@latchkey/react';
import { useRouter } from 'next/navigation';

export function SessionStatus() {
  const { status, userId, expiresAt } = useSession();
  const signOut = useSignOut();
  const router = useRouter();
  return (
    <div>
      <p id="client-status">{`${status} ${userId ?? '-'}`}</p>
      <p id="client-expires">{expiresAt ? String(expiresAt.getTime()) : '-'}</p>
      <SignedIn>
        <button id="sign-out" onClick={() => void signOut().finally(() => router.push('/sign-in'))}>
          Sign out
        </button>
      </SignedIn>
      <SignedOut>
        <a href="/sign-in">Sign in</a> or <a href="/sign-up">sign up</a>
      </SignedOut>
    </div>
  );
}
