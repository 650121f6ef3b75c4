/**
 * `GET <base>/revocations`: the revocation feed (revocation/feed.ts) over HTTP, for edge verifiers.
 * Served only when `revocationFeed.credentials` is configured, and only to a caller presenting one of
 * them as a bearer credential: the feed lists session ids, which are not for the public.
 *
 * A conditional request (`If-None-Match` with the last ETag) that would get the same body gets
 * `304 Not Modified`, so an idle poll costs a store query and no transfer.
 */
import { UnauthorisedError } from '../errors.js';
import { feedEtag, ifNoneMatchMatches, parseFeedSince } from '../revocation/feed.js';
import type { Latchkey } from '../engine.js';
import { invalidRequest } from './errors.js';
import type { ResolvedHttpSettings } from './options.js';
import type { HttpRequest } from './request.js';
import type { HttpResponse } from './response.js';

const BEARER = /^Bearer +([\x21-\x7e]+) *$/i;

export async function revocationFeedResponse(
  engine: Latchkey,
  settings: ResolvedHttpSettings,
  request: HttpRequest,
): Promise<HttpResponse> {
  const accepted = settings.revocationFeed?.credentials ?? [];
  const presented = BEARER.exec(request.headers.get('authorization') ?? '')?.[1];
  if (presented === undefined) throw new UnauthorisedError('missing', 'the revocation feed needs a bearer credential');
  if (!(await credentialMatches(presented, accepted)))
    throw new UnauthorisedError('unknown_token', 'credential not accepted for the revocation feed');
  const since = parseFeedSince(request.query.get('since'));
  if (since === null) throw invalidRequest('since must be a whole number of milliseconds');
  const feed = await engine.revocationFeed(since, settings.clock.now());
  const body = JSON.stringify(feed);
  const etag = await feedEtag(body);
  if (ifNoneMatchMatches(request.headers.get('if-none-match'), etag)) return { status: 304, headers: [['etag', etag]], body: undefined };
  return {
    status: 200,
    headers: [
      ['content-type', 'application/json'],
      ['etag', etag],
    ],
    body,
  };
}

/**
 * Compares digests rather than the texts, every accepted credential every time: the time taken
 * depends on neither where a guess first differs nor which credential matched.
 */
async function credentialMatches(presented: string, accepted: readonly Uint8Array<ArrayBuffer>[]): Promise<boolean> {
  const digest = async (bytes: Uint8Array<ArrayBuffer>) => new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const wanted = await digest(new TextEncoder().encode(presented));
  let matched = false;
  for (const credential of accepted) {
    const candidate = await digest(credential);
    let difference = 0;
    for (let i = 0; i < wanted.length; i++) difference |= (wanted[i] ?? 0) ^ (candidate[i] ?? 0);
    matched = matched || difference === 0;
  }
  return matched;
}
