'use client';
// "Your devices": the user's sessions, with revoke (useSessions).
import { useSessions } from '@latchkey/react';

export function DeviceList() {
  const { status, sessions, revoke, error } = useSessions();
  if (status === 'loading') return <p>Loading…</p>;
  if (error) return <p id="devices-error">Could not load your devices ({error.status}).</p>;
  return (
    <ul id="devices">
      {sessions.map((s) => (
        <li key={s.id} data-session={s.id} data-current={s.current ? 'yes' : 'no'}>
          {s.device.userAgent ?? 'unknown device'}, last active {new Date(s.lastActiveAt).toLocaleString()}
          {s.current ? ' (this device) ' : ' '}
          <button onClick={() => void revoke(s.id)}>{s.current ? 'Sign out' : 'Revoke'}</button>
        </li>
      ))}
    </ul>
  );
}
