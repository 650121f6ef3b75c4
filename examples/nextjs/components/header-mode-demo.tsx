'use client';
// Header mode (what a React Native app or a CLI uses): tokens in memory, `Authorization: Bearer`,
// refresh with the refresh token in a JSON body. Same route handlers, same getSession().
import { createLatchkeyClient, type LatchkeyClient } from '@latchkey/client';
import { LatchkeyProvider, useLatchkeyClient, useReloadSession, useSession } from '@latchkey/react';
import { useState } from 'react';

const makeHeaderClient = (): LatchkeyClient => createLatchkeyClient({ mode: 'header' });

function Demo() {
  const client = useLatchkeyClient();
  const reload = useReloadSession();
  const { status, expiresAt } = useSession();
  const [me, setMe] = useState('-');
  const signIn = async (email: string, password: string) => {
    await client?.fetch('/api/sign-in', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    await reload();
  };
  const callMe = async () => {
    const res = await client!.fetch('/api/me'); // refreshes once and retries on an expired token
    setMe(res.ok ? ((await res.json()) as { userId: string }).userId : `error ${res.status}`);
  };
  return (
    <div>
      <p id="header-status">{status}</p>
      <p id="header-expires">{expiresAt ? String(expiresAt.getTime()) : '-'}</p>
      <p id="header-me">{me}</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          void signIn(String(f.get('email')), String(f.get('password')));
        }}
      >
        <input name="email" type="email" />
        <input name="password" type="password" />
        <button id="header-sign-in" type="submit" disabled={!client}>
          Sign in (header mode)
        </button>
      </form>
      <button id="header-call-me" onClick={() => void callMe()} disabled={!client}>
        GET /api/me
      </button>
    </div>
  );
}

export function HeaderModeDemo() {
  return (
    <LatchkeyProvider client={makeHeaderClient}>
      <Demo />
    </LatchkeyProvider>
  );
}
