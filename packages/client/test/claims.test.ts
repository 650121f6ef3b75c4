/**
 * `@latchkey/client/claims` (issue 16), from Node in header mode against the real server (node:http
 * adapter): the same validators as the server's judge the session's claims before a request, the
 * server's 403 `CLAIM_VALIDATION_FAILED` is read into the `claimValidationFailed` event, the typed
 * error and `readClaimValidationErrors`, and a claim set on the server (`setClaimValue`) reaches the
 * client at its next request: the older token is answered `TRY_REFRESH_TOKEN`, the SDK refreshes once,
 * and the validators then pass. The same in Chromium: the demo's claims test (examples/demo/test).
 */
import axios, { AxiosError } from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { createLatchkeyClient } from '../src/index.js';
import {
  ClaimValidationFailedError,
  EmailVerifiedClaim,
  MfaClaim,
  PermissionsClaim,
  readClaimValidationErrors,
  RolesClaim,
  withClaims,
  type ClaimsClient,
  type ClaimsEvents,
} from '../src/claims/index.js';
import {
  CLAIM_KEYS as SERVER_KEYS,
  EmailVerifiedClaim as ServerEmailVerified,
  MfaClaim as ServerMfa,
  RolesClaim as ServerRoles,
} from 'latchkey';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let clients: ClaimsClient[] = [];
afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  await server?.close();
});

async function setup() {
  server = await startServer({ clockTolerance: 5 });
  const client = withClaims(createLatchkeyClient({ mode: 'header', apiBase: server.origin, autoRefresh: false }));
  clients.push(client);
  const seen: ClaimsEvents['claimValidationFailed'][] = [];
  client.on('claimValidationFailed', (e) => seen.push(e));
  const updated: unknown[] = [];
  client.on('refreshed', (e) => updated.push(e.claims?.[SERVER_KEYS.emailVerified]));
  const res = await client.fetch(`${server.origin}/app/signin`, { method: 'POST' });
  expect(res.status).toBe(200);
  return { client, seen, updated };
}

describe('@latchkey/client/claims', () => {
  it('validateClaims judges the session by the server’s rules; a refused route fires claimValidationFailed; a claim set on the server passes after one refresh', async () => {
    const { client, seen, updated } = await setup();
    // Before calling the API: the UI knows the route would refuse.
    expect(await client.validateClaims([EmailVerifiedClaim.isTrue()])).toEqual([{ id: 'lk-ev.isTrue', reason: 'missing' }]);
    await expect(client.requireClaims([EmailVerifiedClaim.isTrue()])).rejects.toSatisfy(
      (e: unknown) =>
        e instanceof ClaimValidationFailedError &&
        e.code === 'CLAIM_VALIDATION_FAILED' &&
        e.claimValidationErrors[0]?.id === 'lk-ev.isTrue',
    );

    // The server says the same, and the SDK reads it without consuming the app's body.
    const refused = await client.fetch(`${server.origin}/api/billing`);
    expect(refused.status).toBe(403);
    expect(seen).toEqual([{ url: `${server.origin}/api/billing`, claimValidationErrors: [{ id: 'lk-ev.isTrue', reason: 'missing' }] }]);
    expect(await readClaimValidationErrors(refused)).toEqual([{ id: 'lk-ev.isTrue', reason: 'missing' }]);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('CLAIM_VALIDATION_FAILED');

    // The server sets the claim; the token the client holds predates it.
    await new Promise((r) => setTimeout(r, 5));
    expect((await client.fetch(`${server.origin}/api/verify-email`, { method: 'POST' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 5));
    const refreshesBefore = server.count('POST /auth/refresh');
    const ok = await client.fetch(`${server.origin}/api/billing`);
    expect(ok.status).toBe(200);
    // TRY_REFRESH_TOKEN on the old token, one refresh, one retry.
    expect(server.count('POST /auth/refresh')).toBe(refreshesBefore + 1);
    expect(updated.at(-1)).toMatchObject({ v: true });
    expect(await client.validateClaims([EmailVerifiedClaim.isTrue()])).toEqual([]);
    await expect(client.requireClaims([EmailVerifiedClaim.isTrue()])).resolves.toBeUndefined();
    expect(seen).toHaveLength(1);
    // The wrapped client is still the client: its own methods work.
    expect(await client.doesSessionExist()).toBe(true);
  });

  it('every built-in claim: the SDK’s validators give the server’s ids and reasons; a value past its max age is stale', async () => {
    const { client } = await setup();
    const sid = ((await client.getClaims()) as { sid: string }).sid;
    await server.engine.setClaimValue({ sessionId: sid }, ServerRoles, ['viewer']);
    await server.engine.setClaimValue({ sessionId: sid }, ServerMfa, { totp: Date.now() - 120_000 });
    await new Promise((r) => setTimeout(r, 5));
    expect(await client.refresh()).toBe(true);
    const validators = [
      RolesClaim.includes('admin'),
      RolesClaim.includes('viewer'),
      PermissionsClaim.includes('invoices:write'),
      MfaClaim.completedWithin('totp', 60),
      MfaClaim.completed('totp'),
      EmailVerifiedClaim.isTrue(),
    ];
    expect(await client.validateClaims(validators)).toEqual([
      { id: 'lk-roles.includes:admin', reason: 'does not include admin' },
      { id: 'lk-perms.includes:invoices:write', reason: 'missing' },
      { id: 'lk-mfa.completedWithin:totp:60', reason: 'totp not completed within 60 s' },
      { id: 'lk-ev.isTrue', reason: 'missing' },
    ]);
    // The ids are the server's: a UI can match the 403's list against its own.
    expect(RolesClaim.includes('admin').id).toBe(ServerRoles.includes('admin').id);
    expect(EmailVerifiedClaim.key).toBe(ServerEmailVerified.key);
    // Fresh within its max age; past it, stale (the server would refetch before judging).
    expect(await client.validateClaims([RolesClaim.includes('viewer', 60)])).toEqual([]);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await client.validateClaims([RolesClaim.includes('viewer', 1)])).toEqual([{ id: 'lk-roles.includes:viewer', reason: 'stale' }]);
  });

  it('readClaimValidationErrors: axios error bodies too; anything else is null', async () => {
    const { client } = await setup();
    const instance = axios.create({ baseURL: server.origin });
    client.axiosInterceptor(instance);
    const error = await instance.get('/api/billing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AxiosError);
    expect(await readClaimValidationErrors((error as AxiosError).response?.data)).toEqual([{ id: 'lk-ev.isTrue', reason: 'missing' }]);
    expect(await readClaimValidationErrors((await client.fetch(`${server.origin}/api/me`)) as Response)).toBeNull();
    expect(
      await readClaimValidationErrors(
        new Response('{"error":{"code":"FORBIDDEN"}}', { status: 403, headers: { 'content-type': 'application/json' } }),
      ),
    ).toBeNull();
    expect(await readClaimValidationErrors(new Response('<html>', { status: 403, headers: { 'content-type': 'text/html' } }))).toBeNull();
    expect(
      await readClaimValidationErrors({
        error: { code: 'CLAIM_VALIDATION_FAILED' },
        claimValidationErrors: [{ id: 1 }, { id: 'a', reason: 'b', x: 1 }],
      }),
    ).toEqual([{ id: 'a', reason: 'b' }]);
    expect(await readClaimValidationErrors(null)).toBeNull();
  });

  it('without a session every validator fails missing', async () => {
    server = await startServer();
    const client = withClaims(createLatchkeyClient({ mode: 'header', apiBase: server.origin, autoRefresh: false }));
    clients.push(client);
    expect(await client.validateClaims([RolesClaim.includes('admin')])).toEqual([{ id: 'lk-roles.includes:admin', reason: 'missing' }]);
  });
});
