// A guarded page. The proxy let the request through; the page checks again with the engine, which
// knows of a revocation at once (the proxy within its poll interval). Render only reads.
import { redirect } from 'next/navigation';
import { SessionStatus } from '@/components/session-status';
import { getSession } from '@/lib/session';

// Per request, never prerendered: the page reads the request's session.
export const dynamic = 'force-dynamic';

export default async function Dashboard() {
  const session = await getSession();
  if (!session) redirect('/refresh?next=/dashboard');
  return (
    <main>
      <h1>Dashboard</h1>
      <p id="server-user">Signed in as {session.userId}</p>
      <SessionStatus />
    </main>
  );
}
