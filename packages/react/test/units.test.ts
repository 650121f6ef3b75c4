// @vitest-environment jsdom
/**
 * @latchkey/react with React 19 and React Testing Library, against a real latchkey server (engine on
 * the memory store, node:http adapter, 2 s access tokens) through a real
 * SDK client in header mode over Node's fetch (jsdom has none of its own; cookies and CORS are the
 * browser's business: tested in Chromium). The cross-tab
 * path (BroadcastChannel, cookies) is proven in real Chromium: browser.test.ts.
 */
import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { createLatchkeyClient, type LatchkeyClient } from '@latchkey/client';
import { EmailVerifiedClaim, RolesClaim } from '@latchkey/client/claims';
import { createDpop, memoryKeyStore } from '@latchkey/client/dpop';
import { createElement as h, type ReactNode } from 'react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAppServer, type AppServer } from './helpers/server.js';
import {
  LatchkeyProvider,
  SessionsRequestError,
  SignedIn,
  SignedOut,
  useReloadSession,
  useSession,
  useSessions,
  useClaim,
  useSignOut,
  type ClaimState,
  type SessionsState,
  type SessionState,
} from '../src/index.js';

let server: AppServer;
let client: LatchkeyClient;

beforeEach(async () => {
  server = await startAppServer();
  client = newClient();
});
afterEach(async () => {
  cleanup();
  client.close();
  await server.close();
});

function newClient(): LatchkeyClient {
  return createLatchkeyClient({ mode: 'header', apiBase: server.origin, autoRefresh: false });
}

async function signIn(c: LatchkeyClient = client): Promise<void> {
  const res = await c.fetch(`${server.origin}/app/signin`, { method: 'POST' });
  expect(res.status).toBe(200);
}

/** Renders the session as text, so the tests read what a user would see. */
function Status(): ReactNode {
  const s = useSession();
  return h(
    'p',
    { 'data-testid': 'status' },
    `${s.status} ${s.userId ?? '-'} ${String(s.claims?.name ?? '-')} ${s.expiresAt?.getTime() ?? '-'}`,
  );
}
const status = (): string => screen.getByTestId('status').textContent ?? '';
const expiresAt = (): number => Number(status().split(' ').pop());

function Gates(): ReactNode {
  return h('div', null, h(SignedIn, null, h('span', null, 'welcome')), h(SignedOut, null, h('span', null, 'please sign in')), h(Status));
}

function withProvider(children: ReactNode, c: LatchkeyClient | (() => LatchkeyClient) = client): ReactNode {
  return h(LatchkeyProvider, { client: c }, children);
}

describe('useSession, <SignedIn>, <SignedOut>', () => {
  it('is loading first, then signedOut without a session; neither gate renders while loading', async () => {
    render(withProvider(h(Gates)));
    expect(status()).toMatch(/^loading /);
    expect(screen.queryByText('welcome')).toBeNull();
    expect(screen.queryByText('please sign in')).toBeNull();
    await waitFor(() => expect(status()).toBe('signedOut - - -'));
    expect(screen.getByText('please sign in')).toBeTruthy();
    expect(screen.queryByText('welcome')).toBeNull();
  });

  it('reads an existing session: userId, display claims and the access token expiry', async () => {
    await signIn();
    const expiry = await client.getAccessTokenExpiry();
    render(withProvider(h(Gates)));
    await waitFor(() => expect(status()).toBe(`signedIn alice Alice Ünicode ${expiry?.getTime()}`));
    expect(screen.getByText('welcome')).toBeTruthy();
    expect(screen.queryByText('please sign in')).toBeNull();
  });

  it('learns a sign-in made in this tab through useReloadSession', async () => {
    let reload: (() => Promise<void>) | undefined;
    function Reloader(): ReactNode {
      reload = useReloadSession();
      return null;
    }
    render(withProvider(h('div', null, h(Reloader), h(Status))));
    await waitFor(() => expect(status()).toMatch(/^signedOut/));
    await signIn();
    await act(() => reload!());
    expect(status()).toMatch(/^signedIn alice /);
  });

  it('follows a refresh (new expiry) and a claim update (new claims) from the SDK events', async () => {
    await signIn();
    render(withProvider(h(Status)));
    await waitFor(() => expect(status()).toMatch(/^signedIn/));
    const before = expiresAt();
    await new Promise((r) => setTimeout(r, 1_100)); // JWT exp has whole seconds: the next one is later
    await act(async () => {
      expect(await client.refresh()).toBe(true);
    });
    expect(expiresAt()).toBeGreaterThan(before);
    await act(async () => {
      const res = await client.fetch(`${server.origin}/api/rename`, {
        method: 'POST',
        body: JSON.stringify({ name: 'Alicia' }),
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(200);
    });
    expect(status()).toMatch(/^signedIn alice Alicia /);
  });

  it('becomes signedOut when the server refuses a refresh (session revoked elsewhere)', async () => {
    await signIn();
    render(withProvider(h(Gates)));
    await waitFor(() => expect(status()).toMatch(/^signedIn/));
    await server.engine.revokeUserSessions('alice');
    await act(async () => {
      expect(await client.refresh()).toBe(false);
    });
    expect(status()).toBe('signedOut - - -');
    expect(screen.getByText('please sign in')).toBeTruthy();
  });

  it('calls a client factory once after mount and closes what it made on unmount', async () => {
    let made = 0;
    let closed = 0;
    const factory = (): LatchkeyClient => {
      made++;
      const c = newClient();
      return { ...c, close: () => (closed++, c.close()) };
    };
    const view = render(withProvider(h(Status), factory));
    await waitFor(() => expect(status()).toBe('signedOut - - -'));
    expect(made).toBe(1);
    view.unmount();
    expect(closed).toBe(1);
  });

  it('is a TypeError outside a provider', () => {
    // React reports the render error on the console as well; the test only needs the throw.
    const quiet = console.error;
    console.error = () => {};
    try {
      expect(() => render(h(Status))).toThrow(/LatchkeyProvider/);
    } finally {
      console.error = quiet;
    }
  });
});

describe('useSession().isDeviceBound', () => {
  let seen: SessionState | undefined;
  function Bound(): ReactNode {
    seen = useSession();
    return h('p', { 'data-testid': 'status' }, `${seen.status} ${String(seen.isDeviceBound)}`);
  }

  /** A client whose sign-ins are bound to a DPoP key (RFC 9449) in memory. */
  async function dpopClient(): Promise<LatchkeyClient> {
    // The proof's iat needs a clock tolerance on the server: a server of its own, with 5 s.
    await server.close();
    server = await startAppServer({ clockTolerance: 5 });
    client.close();
    client = createLatchkeyClient({
      mode: 'header',
      apiBase: server.origin,
      autoRefresh: false,
      dpop: createDpop({ keyStore: memoryKeyStore() }),
    });
    return client;
  }

  it('is false for a bearer session, and while loading or signed out', async () => {
    render(withProvider(h(Bound)));
    expect(status()).toBe('loading false');
    await waitFor(() => expect(status()).toBe('signedOut false'));
    await signIn();
    cleanup();
    render(withProvider(h(Bound)));
    await waitFor(() => expect(status()).toBe('signedIn false'));
    expect(await client.isDeviceBound()).toBe(false);
  });

  it('is true for a DPoP-bound session, asked with the claims', async () => {
    await dpopClient();
    await signIn();
    expect(await client.isDeviceBound()).toBe(true);
    render(withProvider(h(Bound)));
    await waitFor(() => expect(status()).toBe('signedIn true'));
    expect(seen?.userId).toBe('alice');
  });

  it('follows the events: asked again after a refresh (a sign-in elsewhere), false after sign-out', async () => {
    await dpopClient();
    render(withProvider(h(Bound)));
    await waitFor(() => expect(status()).toBe('signedOut false'));
    // Signed in without this store knowing (as another tab would); the refresh event announces it.
    await signIn();
    await act(async () => {
      expect(await client.refresh()).toBe(true);
    });
    await waitFor(() => expect(status()).toBe('signedIn true'));
    await act(() => client.signOut());
    expect(status()).toBe('signedOut false');
  });
});

describe('useClaim', () => {
  let seen: ClaimState | undefined;
  function Gate(): ReactNode {
    seen = useClaim([EmailVerifiedClaim.isTrue()]);
    const verdict = seen.loading ? 'loading' : seen.valid ? 'valid' : seen.failures.map((f) => `${f.id}:${f.reason}`).join(',');
    return h('p', { 'data-testid': 'status' }, verdict);
  }

  it('is loading first, then fails every validator as missing when signed out', async () => {
    render(withProvider(h(Gate)));
    expect(status()).toBe('loading');
    expect(seen).toMatchObject({ loading: true, valid: false, failures: [] });
    await waitFor(() => expect(status()).toBe('lk-ev.isTrue:missing'));
    expect(seen).toMatchObject({ loading: false, valid: false });
  });

  it("judges the session's claims with the server's validators, and again when the server sets the claim", async () => {
    await signIn();
    render(withProvider(h(Gate)));
    // The server would refuse a route gated on it: the same id and reason as its 403.
    await waitFor(() => expect(status()).toBe('lk-ev.isTrue:missing'));
    await act(async () => {
      expect((await client.fetch(`${server.origin}/api/verify-email`, { method: 'POST' })).status).toBe(200);
      // The token held predates the claim; the refresh brings the new ID token (the `refreshed` event).
      expect(await client.refresh()).toBe(true);
    });
    expect(status()).toBe('valid');
    expect(seen).toEqual({ loading: false, valid: true, failures: [] });
  });

  it('reports each failing validator by its id, with the reason', async () => {
    await signIn();
    let many: ClaimState | undefined;
    function Many(): ReactNode {
      many = useClaim([RolesClaim.includes('admin'), EmailVerifiedClaim.isTrue()]);
      return null;
    }
    render(withProvider(h(Many)));
    await waitFor(() => expect(many?.loading).toBe(false));
    expect(many?.failures).toEqual([
      { id: 'lk-roles.includes:admin', reason: 'missing' },
      { id: 'lk-ev.isTrue', reason: 'missing' },
    ]);
    expect(many?.valid).toBe(false);
  });

  it('judges the age of a value at each render: stale past maxAgeSeconds, as the server would', async () => {
    await signIn();
    await client.fetch(`${server.origin}/api/verify-email`, { method: 'POST' });
    expect(await client.refresh()).toBe(true);
    let fresh: ClaimState | undefined;
    function Fresh(): ReactNode {
      fresh = useClaim([EmailVerifiedClaim.isTrue(1)]);
      return null;
    }
    const view = render(withProvider(h(Fresh)));
    await waitFor(() => expect(fresh?.valid).toBe(true));
    await new Promise((r) => setTimeout(r, 1_200));
    view.rerender(withProvider(h(Fresh)));
    expect(fresh?.failures).toEqual([{ id: 'lk-ev.isTrue', reason: 'stale' }]);
  });

  it('becomes invalid again on sign-out', async () => {
    await signIn();
    await client.fetch(`${server.origin}/api/verify-email`, { method: 'POST' });
    expect(await client.refresh()).toBe(true);
    render(withProvider(h(Gate)));
    await waitFor(() => expect(status()).toBe('valid'));
    await act(() => client.signOut());
    expect(status()).toBe('lk-ev.isTrue:missing');
  });
});

describe('useSignOut', () => {
  it('ends the session on the server and renders signedOut', async () => {
    await signIn();
    const sid = (await client.getClaims())?.sid as string;
    let signOut: (() => Promise<void>) | undefined;
    function Button(): ReactNode {
      signOut = useSignOut();
      return null;
    }
    render(withProvider(h('div', null, h(Button), h(Gates))));
    await waitFor(() => expect(status()).toMatch(/^signedIn/));
    await act(() => signOut!());
    expect(status()).toBe('signedOut - - -');
    expect((await server.engine.getSession(sid))?.revokedAt).toBeInstanceOf(Date);
  });
});

describe('useSessions', () => {
  let seen: SessionsState | undefined;
  function Devices(): ReactNode {
    seen = useSessions({ url: `${server.origin}/auth/sessions` });
    return h('ul', null, ...seen.sessions.map((s) => h('li', { key: s.id }, `${s.id}${s.current ? ' (this device)' : ''}`)));
  }

  it("lists the user's sessions, this one marked, and revokes another device's", async () => {
    const other = newClient();
    try {
      await signIn(other);
      await signIn();
      const otherSid = (await other.getClaims())?.sid as string;
      const mine = (await client.getClaims())?.sid as string;
      render(withProvider(h(Devices)));
      await waitFor(() => expect(seen?.status).toBe('ready'));
      expect(seen!.sessions.map((s) => [s.id, s.current])).toEqual(
        expect.arrayContaining([
          [mine, true],
          [otherSid, false],
        ]),
      );
      expect(seen!.sessions).toHaveLength(2);
      expect(screen.getByText(`${mine} (this device)`)).toBeTruthy();

      await act(() => seen!.revoke(otherSid));
      expect(seen!.sessions.map((s) => s.id)).toEqual([mine]);
      expect((await server.engine.getSession(otherSid))?.revokedAt).toBeInstanceOf(Date);
      // The other device finds out on its next refresh.
      expect(await other.refresh()).toBe(false);
    } finally {
      other.close();
    }
  });

  it("revoking this device's session signs out here (through the SDK, so every tab hears it)", async () => {
    await signIn();
    const mine = (await client.getClaims())?.sid as string;
    render(withProvider(h('div', null, h(Devices), h(Status))));
    await waitFor(() => expect(seen?.status).toBe('ready'));
    await act(() => seen!.revoke(mine));
    expect(status()).toBe('signedOut - - -');
    expect(seen!.sessions).toEqual([]);
    expect((await server.engine.getSession(mine))?.revokedAt).toBeInstanceOf(Date);
  });

  it('reports a refused request as a SessionsRequestError with the status', async () => {
    await signIn();
    render(withProvider(h(Devices)));
    await waitFor(() => expect(seen?.status).toBe('ready'));
    await act(async () => {
      await expect(seen!.revoke('not-a-session-of-mine')).resolves.toBeUndefined(); // 404: already gone, list reloaded
    });
    await server.engine.revokeUserSessions('alice');
    // The access token still verifies until the denylist says otherwise; this engine's denylist
    // knows at once, so the list request is refused, and the refresh it triggers is too.
    await act(() => seen!.reload());
    expect(seen!.status).toBe('error');
    expect(seen!.error).toBeInstanceOf(SessionsRequestError);
    expect(seen!.error).toMatchObject({ code: 'SESSIONS_REQUEST_FAILED', status: 401 });
  });
});
