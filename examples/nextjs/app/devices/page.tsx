// "Your devices": guarded like the dashboard; the list itself is a client component (useSessions).
import { redirect } from 'next/navigation';
import { DeviceList } from '@/components/device-list';
import { getSession } from '@/lib/session';

// Per request, never prerendered: the page reads the request's session.
export const dynamic = 'force-dynamic';

export default async function Devices() {
  const session = await getSession();
  if (!session) redirect('/refresh?next=/devices');
  return (
    <main>
      <h1>Your devices</h1>
      <DeviceList />
    </main>
  );
}
