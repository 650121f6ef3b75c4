/**
 * Server rendering (Node, no DOM: anything that touched `window` in render would throw here). The
 * server snapshot is `loading`, the gates render nothing, and the client is neither made nor asked.
 */
import { createLatchkeyClient, type LatchkeyClient } from '@latchkey/client';
import { createElement as h, type ReactNode } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { EmailVerifiedClaim } from '@latchkey/client/claims';
import { LatchkeyProvider, SignedIn, SignedOut, useClaim, useSession, useSessions } from '../src/index.js';

function Page(): ReactNode {
  const s = useSession();
  const devices = useSessions();
  const claim = useClaim([EmailVerifiedClaim.isTrue()]);
  return h(
    'main',
    null,
    h(
      'p',
      null,
      `${s.status} ${s.userId ?? '-'} ${String(s.isDeviceBound)} ${devices.status} ${devices.sessions.length} ${String(claim.loading)}`,
    ),
    h(SignedIn, null, 'welcome'),
    h(SignedOut, null, 'please sign in'),
  );
}

describe('server rendering', () => {
  it('has no window here, so a render that touched it would throw', () => {
    expect(typeof window).toBe('undefined');
  });

  it('renders loading from a client factory, which it never calls', () => {
    let made = 0;
    const html = renderToString(
      h(LatchkeyProvider, { client: () => (made++, createLatchkeyClient({ apiBase: 'http://api.invalid' })) }, h(Page)),
    );
    expect(html).toBe('<main><p>loading - false loading 0 true</p></main>');
    expect(made).toBe(0);
  });

  it('renders loading with a client instance, and asks it nothing', () => {
    const client = createLatchkeyClient({ mode: 'header', apiBase: 'http://api.invalid', autoRefresh: false });
    const asked: string[] = [];
    const watched = new Proxy(client, {
      get(target, name: keyof LatchkeyClient) {
        const value = target[name];
        return typeof value === 'function' && name !== 'on'
          ? (...args: unknown[]) => (asked.push(String(name)), (value as (...a: unknown[]) => unknown).apply(target, args))
          : value;
      },
    });
    try {
      expect(renderToString(h(LatchkeyProvider, { client: watched }, h(Page)))).toBe('<main><p>loading - false loading 0 true</p></main>');
      expect(asked).toEqual([]);
    } finally {
      client.close();
    }
  });
});
