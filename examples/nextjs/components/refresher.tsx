'use client';
// The refresh page's work: the access token expired (the proxy or a page sent us here). Refresh
// through the SDK (a POST with the CSRF header; the refresh cookie only goes to /auth/refresh), then
// back to where the user was, or to sign-in when the session is over.
import { useLatchkeyClient } from '@latchkey/react';
import { useEffect } from 'react';

export function Refresher() {
  const client = useLatchkeyClient();
  useEffect(() => {
    if (!client) return;
    const next = new URLSearchParams(location.search).get('next') ?? '/dashboard';
    // Only a path of this app: an open redirect would let a link send users anywhere after refresh.
    const target = next.startsWith('/') && !next.startsWith('//') ? next : '/dashboard';
    client.refresh().then(
      (ok) => location.replace(ok ? target : '/sign-in'),
      () => location.replace('/sign-in'),
    );
  }, [client]);
  return <p>Refreshing your session…</p>;
}
