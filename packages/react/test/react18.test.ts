// @vitest-environment jsdom
/**
 * The bindings under React 18 (the peer range is ^18 || ^19). vitest's `react18` project resolves
 * `react` and `react-dom` to packages/react18-compat's React 18.3 for this file and the sources it
 * loads; React Testing Library is left out because it would bring the root's React 19 along. The same
 * real server and SDK client as units.test.ts.
 */
import { createLatchkeyClient, type LatchkeyClient } from '@latchkey/client';
import { act, createElement as h, version, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { renderToString } from 'react-dom/server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LatchkeyProvider, SignedIn, SignedOut, useReloadSession, useSession, useSignOut } from '../src/index.js';
import { startAppServer, type AppServer } from './helpers/server.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let server: AppServer;
let client: LatchkeyClient;
let root: Root;
let container: HTMLElement;

beforeEach(async () => {
  server = await startAppServer();
  client = createLatchkeyClient({ mode: 'header', apiBase: server.origin, autoRefresh: false });
  container = document.body.appendChild(document.createElement('div'));
  root = createRoot(container);
});
afterEach(async () => {
  act(() => root.unmount());
  container.remove();
  client.close();
  await server.close();
});

let reload: () => Promise<void> = () => Promise.resolve();
let signOut: () => Promise<void> = () => Promise.resolve();
function App(): ReactNode {
  const s = useSession();
  reload = useReloadSession();
  signOut = useSignOut();
  return h(
    'div',
    null,
    h('p', null, `${s.status} ${s.userId ?? '-'} ${String(s.claims?.name ?? '-')}`),
    h(SignedIn, null, 'welcome'),
    h(SignedOut, null, 'please sign in'),
  );
}

async function settle(until: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !until(); i++) await act(() => new Promise((r) => setTimeout(r, 20)));
}

describe('@latchkey/react with React 18', () => {
  it('runs on React 18', () => {
    expect(version).toMatch(/^18\./);
  });

  it('server-renders loading', () => {
    expect(renderToString(h(LatchkeyProvider, { client }, h(App)))).toBe('<div><p>loading - -</p></div>');
  });

  it('goes from loading to signedOut, to signedIn after a sign-in, and back on sign-out', async () => {
    act(() => root.render(h(LatchkeyProvider, { client }, h(App))));
    expect(container.textContent).toBe('loading - -');
    await settle(() => container.textContent !== 'loading - -');
    expect(container.textContent).toBe('signedOut - -please sign in');

    expect((await client.fetch(`${server.origin}/app/signin`, { method: 'POST' })).status).toBe(200);
    await act(() => reload());
    expect(container.textContent).toBe('signedIn alice Alice Ünicodewelcome');

    const sid = (await client.getClaims())?.sid as string;
    await act(() => signOut());
    expect(container.textContent).toBe('signedOut - -please sign in');
    expect((await server.engine.getSession(sid))?.revokedAt).toBeInstanceOf(Date);
  });
});
