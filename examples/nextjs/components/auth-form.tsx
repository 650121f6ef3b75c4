'use client';
// Sign-up and sign-in forms: POST through the SDK's fetch (CSRF header, credentials), then tell
// useSession (the SDK announces a sign-in to the other tabs, not to this one).
import { useLatchkeyClient, useReloadSession } from '@latchkey/react';
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';

export function AuthForm({ kind }: { kind: 'sign-in' | 'sign-up' }) {
  const client = useLatchkeyClient();
  const reload = useReloadSession();
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!client) return;
    const form = new FormData(event.currentTarget);
    const res = await client.fetch(`/api/${kind}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: form.get('email'), password: form.get('password') }),
    });
    if (!res.ok) {
      setError(((await res.json()) as { error?: { message?: string } }).error?.message ?? `error ${res.status}`);
      return;
    }
    await reload();
    router.push('/dashboard');
  }

  return (
    <form onSubmit={(e) => void submit(e)}>
      <input name="email" type="email" placeholder="email" required />
      <input name="password" type="password" placeholder="password (8+ characters)" required minLength={8} />
      <button id="submit" type="submit" disabled={!client}>
        {kind === 'sign-in' ? 'Sign in' : 'Sign up'}
      </button>
      {error && <p id="form-error">{error}</p>}
    </form>
  );
}
