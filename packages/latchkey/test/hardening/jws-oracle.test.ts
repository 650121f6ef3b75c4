/**
 * Differential test of the node:crypto verification fast path (src/tokens/jws.ts via
 * verifyAccessTokenJws) against jose's `jwtVerify` (test/helpers/jose-oracle.ts), with the same
 * keys, options and clock. For every token, genuine, mutated or forged, both must accept or both
 * refuse; an acceptance must yield the same claims and kid, a refusal the same error class and reason.
 *
 * "Forged" covers what only a key holder could produce: arbitrary protected headers and payloads,
 * down to raw bytes (invalid UTF-8, a BOM, JSON that is not an object), signed with our own private
 * key, as well as the same signed by an attacker's key. A signature over junk is the only way to
 * reach the header and claim rules past the signature check, which is where two verifiers can differ.
 *
 * `npm test` runs a short form; `npm run test:soak` runs 100,000 cases.
 */
import { generateKeyPairSync, KeyObject, sign as cryptoSign } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { LatchkeyError } from 'latchkey';
import { generateSigningKey } from '../../src/keys/generate.js';
import { KeyRing, type RingKey } from '../../src/keys/ring.js';
import { signAccessToken, verifyAccessTokenJws, type AccessTokenSettings } from '../../src/tokens/access.js';
import { P256_ORDER } from '../../src/tokens/ecdsa.js';
import type { SigningAlgorithm } from '../../src/types.js';
import { verifyAccessTokenWeb } from '../../src/edge/verify-jws.js';
import { UnauthorisedError } from '../../src/errors.js';
import { joseVerifyAccessToken } from '../helpers/jose-oracle.js';
import { report, scale } from './support/soak.js';

const RUNS = scale(1500, 100_000);
const TIMEOUT_MS = scale(120_000, 3_600_000);
const ALGS: SigningAlgorithm[] = ['EdDSA', 'ES256', 'RS256'];
const SETTINGS: AccessTokenSettings = {
  issuer: 'https://issuer.example',
  audience: 'latchkey',
  clientId: undefined,
  ttlSeconds: 900,
  clockToleranceSeconds: 30,
  maxTokenBytes: 8192,
};
/** The clock the genuine tokens are minted at (ms); verification times are drawn around it. */
const MINTED_AT = 1_800_000_000_000;
const T0 = MINTED_AT / 1000;

type Outcome =
  | { accepted: true; claims: unknown; kid: string }
  | { accepted: false; kind: string; reason: string | undefined; claim: string | undefined };

async function outcome(run: () => Promise<{ claims: unknown; kid: string }>): Promise<Outcome> {
  try {
    const { claims, kid } = await run();
    return { accepted: true, claims, kid };
  } catch (err) {
    // Only typed refusals are answers; anything else (a TypeError, a jose bug) fails the property.
    if (!(err instanceof LatchkeyError)) throw err;
    const e = err as LatchkeyError & { reason?: string; claim?: string };
    return { accepted: false, kind: `${e.constructor.name}/${e.code}`, reason: e.reason, claim: e.claim };
  }
}

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');

/** The ES256 high-s twin (r, n - s) of a 64-byte signature; other lengths unchanged. */
function twin(signature: Buffer): Buffer {
  if (signature.length !== 64) return signature;
  const s = BigInt(`0x${signature.subarray(32).toString('hex')}`);
  if (s === 0n) return signature;
  return Buffer.concat([signature.subarray(0, 32), Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex')]);
}

describe('node:crypto verification agrees with jose jwtVerify (differential oracle)', () => {
  const ring = new KeyRing(new Uint8Array(32).fill(3));
  const keys = {} as Record<SigningAlgorithm, RingKey>;
  /** Test-side signers for arbitrary bytes: our private keys and an attacker's, per alg. */
  const ours = {} as Record<SigningAlgorithm, KeyObject>;
  const theirs = {} as Record<SigningAlgorithm, KeyObject>;
  const genuine: string[] = [];

  function rawSign(alg: SigningAlgorithm, key: KeyObject, input: string): Buffer {
    const digest = alg === 'EdDSA' ? null : 'sha256';
    return cryptoSign(digest, Buffer.from(input), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  }

  beforeAll(async () => {
    const encryptionKey = new Uint8Array(32).fill(3);
    const records = await Promise.all(ALGS.map((alg, i) => generateSigningKey(alg, i + 1, MINTED_AT, MINTED_AT, encryptionKey)));
    await ring.load(records);
    for (const record of records) {
      const key = ring.get(record.kid)!;
      keys[record.alg] = key;
      ours[record.alg] = KeyObject.from(await ring.signingKey(key));
      theirs[record.alg] =
        record.alg === 'EdDSA'
          ? generateKeyPairSync('ed25519').privateKey
          : record.alg === 'ES256'
            ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
            : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    }
    // Genuine tokens: minted by the production signer, with app claims of every JSON shape.
    const claims = fc.sample(
      fc.dictionary(
        fc
          .string({ maxLength: 8 })
          .filter(
            (k) => !['iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'nbf', 'exp', 'auth_time', 'typ', 'client_id', '__proto__'].includes(k),
          ),
        fc.jsonValue({ maxDepth: 2 }),
        { maxKeys: 4 },
      ),
      60,
    );
    for (const [i, extra] of claims.entries()) {
      const alg = ALGS[i % ALGS.length]!;
      const minted = await signAccessToken(
        ring,
        keys[alg],
        SETTINGS,
        { sessionId: `s${i}`, userId: `u${i}`, authTime: MINTED_AT - 1000, claims: extra as never },
        MINTED_AT + i * 1000,
      );
      genuine.push(minted.token);
    }
  });

  const alg = fc.constantFrom<SigningAlgorithm>(...ALGS);
  const anyGenuine = () => fc.nat({ max: 59 }).map((i) => genuine[i]!);

  /** Header values that reach each rule: typ spellings, crit/b64 combinations, alg/kid confusion. */
  const typ = fc.constantFrom(
    'at+jwt',
    'AT+JWT',
    'application/at+jwt',
    'Application/At+Jwt',
    'JWT',
    'jwt',
    'at+jwt ',
    'application/jwt',
    '',
  );
  const wildHeader = (a: SigningAlgorithm) =>
    fc.record(
      {
        alg: fc.oneof(fc.constant(a), fc.constantFrom('EdDSA', 'ES256', 'RS256', 'none', 'HS256', 'Ed25519', '', 'es256'), fc.jsonValue()),
        typ: fc.oneof(typ, fc.jsonValue()),
        kid: fc.oneof(
          fc.constant(a).map((x) => keys[x].kid),
          fc.constantFrom(...ALGS).map((x) => keys[x].kid),
          fc.constantFrom('', 'unknown'),
          fc.jsonValue(),
        ),
        crit: fc.oneof(
          fc.constant(['b64']),
          fc.constant(['b64', 'b64']),
          fc.constant([]),
          fc.constant(['exp']),
          fc.constant(['b64', '']),
          fc.jsonValue(),
        ),
        b64: fc.oneof(fc.boolean(), fc.jsonValue()),
        lows: fc.oneof(fc.boolean(), fc.jsonValue()),
        extra: fc.jsonValue({ maxDepth: 1 }),
      },
      { requiredKeys: [] },
    );
  /** Our own header with one thing varied: reaches the claim rules past the header and key checks. */
  const nearHeader = (a: SigningAlgorithm) =>
    fc
      .record({
        typ: fc.oneof({ weight: 3, arbitrary: fc.constant('at+jwt') }, { weight: 2, arbitrary: typ }),
        lows: fc.boolean(),
        b64: fc.option(fc.boolean()),
      })
      .map(({ typ: t, lows, b64: flag }) => ({
        alg: a,
        typ: t,
        kid: keys[a].kid,
        ...(lows ? { lows: true } : {}),
        ...(flag === null ? {} : { crit: ['b64'], b64: flag }),
      }));
  const headerFor = (a: SigningAlgorithm) => fc.oneof({ weight: 3, arbitrary: nearHeader(a) }, { weight: 2, arbitrary: wildHeader(a) });

  /** Claim sets around the rules: each claim present, absent, of the wrong type, or at a time edge. */
  const time = fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: T0 - 2000, max: T0 + 2000 }) },
    { weight: 2, arbitrary: fc.constantFrom(T0, T0 - 30, T0 + 30, T0 + 900, T0 + 901, 0, -0, 1.5e9 + 0.5) },
    { weight: 1, arbitrary: fc.jsonValue() },
  );
  const wildClaims = fc.record(
    {
      iss: fc.oneof(fc.constant(SETTINGS.issuer), fc.constant(`${SETTINGS.issuer}/`), fc.jsonValue()),
      aud: fc.oneof(
        fc.constant(SETTINGS.audience),
        fc.constant([SETTINGS.audience, 'x']),
        fc.constant(['x']),
        fc.constant([]),
        fc.jsonValue(),
      ),
      sub: fc.oneof(fc.string({ maxLength: 6 }), fc.jsonValue()),
      sid: fc.oneof(fc.string({ maxLength: 6 }), fc.jsonValue()),
      jti: fc.oneof(fc.string({ maxLength: 6 }), fc.jsonValue()),
      iat: time,
      exp: time,
      nbf: time,
      auth_time: fc.oneof(fc.integer(), fc.jsonValue()),
      role: fc.jsonValue({ maxDepth: 1 }),
    },
    { requiredKeys: [] },
  );
  /** A valid claim set with some claims replaced by wild values or removed. */
  const nearClaims = fc
    .tuple(
      fc.integer({ min: -1000, max: 1000 }),
      fc.integer({ min: 1, max: 1000 }),
      wildClaims,
      fc.subarray(['iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'exp', 'nbf', 'auth_time', 'role'], { maxLength: 2 }),
      fc.subarray(['iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'exp', 'auth_time'], { maxLength: 1 }),
    )
    .map(([iatOffset, life, wild, replaced, removed]) => {
      const claims: Record<string, unknown> = {
        iss: SETTINGS.issuer,
        aud: SETTINGS.audience,
        sub: 'u',
        sid: 's',
        jti: 'j',
        iat: T0 + iatOffset,
        exp: T0 + iatOffset + life,
        auth_time: T0 - 5,
      };
      for (const name of replaced) if (name in wild) claims[name] = (wild as Record<string, unknown>)[name];
      for (const name of removed) delete claims[name];
      return claims;
    });
  const claimsSet = fc.oneof({ weight: 3, arbitrary: nearClaims }, { weight: 1, arbitrary: wildClaims });
  /** A segment's bytes: JSON text, or raw bytes (invalid UTF-8, a BOM, not JSON, not an object). */
  const encoded = (json: fc.Arbitrary<unknown>) =>
    fc.oneof(
      { weight: 6, arbitrary: json.map((v) => b64(JSON.stringify(v))) },
      { weight: 1, arbitrary: json.map((v) => b64(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(v))]))) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map(b64) },
      { weight: 1, arbitrary: fc.jsonValue().map((v) => b64(JSON.stringify(v) ?? 'null')) },
      // Numbers JSON.parse reads as ±Infinity, which JSON.stringify cannot write.
      {
        weight: 1,
        arbitrary: fc
          .tuple(json, fc.constantFrom('1e400', '-1e400'))
          .map(([v, n]) => b64(JSON.stringify(v).replace(/"(exp|iat|nbf)":-?[0-9][0-9.e+-]*/, `"$1":${n}`))),
      },
      // base64url of a length the forgiving decoder refuses and Node's decodes short.
      { weight: 1, arbitrary: json.map((v) => `${b64(JSON.stringify(v))}A`) },
    );

  const forged = alg.chain((a) =>
    fc
      .tuple(encoded(headerFor(a)), encoded(claimsSet), fc.constantFrom('ours', 'theirs'), fc.boolean())
      .map(([header, payload, signer, high]) => {
        const input = `${header}.${payload}`;
        let signature = rawSign(a, signer === 'ours' ? ours[a] : theirs[a], input);
        if (a === 'ES256' && high) signature = twin(signature);
        return `${input}.${b64(signature)}`;
      }),
  );

  /** Changes to a genuine token: characters, segments swapped or borrowed, re-encoded headers. */
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ';
  const mutated = fc.oneof(
    anyGenuine().chain((t) =>
      fc
        .tuple(fc.nat({ max: t.length - 1 }), fc.nat({ max: alphabet.length - 1 }))
        .map(([at, c]) => t.slice(0, at) + alphabet[c] + t.slice(at + 1)),
    ),
    anyGenuine().chain((t) => fc.nat({ max: t.length - 1 }).map((at) => t.slice(0, at) + t.slice(at + 1))),
    anyGenuine().chain((t) => fc.nat({ max: t.length }).map((at) => t.slice(0, at))),
    fc.tuple(anyGenuine(), anyGenuine(), fc.nat({ max: 2 })).map(([a, b, part]) => {
      const pa = a.split('.');
      pa[part] = b.split('.')[part]!;
      return pa.join('.');
    }),
    anyGenuine().map((t) => {
      const [h, p, s] = t.split('.') as [string, string, string];
      return `${h}.${p}.${b64(twin(Buffer.from(s, 'base64url')))}`;
    }),
    fc.tuple(anyGenuine(), wildHeader('EdDSA')).map(([t, header]) => {
      const [, p, s] = t.split('.');
      return `${b64(JSON.stringify(header))}.${p}.${s}`;
    }),
    fc.tuple(anyGenuine(), fc.constantFrom('', '.', '..', 'x', '=')).map(([t, extra]) => t + extra),
  );

  const verifyAt = fc.oneof(
    fc.integer({ min: -120_000, max: 2_000_000 }).map((d) => MINTED_AT + d),
    fc.constantFrom(MINTED_AT, MINTED_AT + 900_000 + 30_000, MINTED_AT + 930_999, MINTED_AT - 30_000),
  );
  const token = fc.oneof(
    { weight: 2, arbitrary: anyGenuine() },
    { weight: 4, arbitrary: mutated },
    { weight: 5, arbitrary: forged },
    { weight: 1, arbitrary: fc.string() },
  );

  /** The edge verifier's key resolver over the same ring, with the engine's kid and alg rules. */
  const edgeKeys = (header: { kid?: unknown; alg?: unknown }) => {
    const key = typeof header.kid === 'string' ? ring.get(header.kid) : undefined;
    if (!key) throw new UnauthorisedError('unknown_key', 'token names no key of ours');
    if (header.alg !== key.alg) throw new UnauthorisedError('wrong_algorithm', 'token algorithm does not match its key');
    return key.verifyKey;
  };

  it(`agrees on accept/refuse and the reason for ${RUNS} genuine, mutated and forged tokens`, { timeout: TIMEOUT_MS }, async () => {
    const tally = { cases: 0, accepted: 0, refused: 0 };
    const reasons = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(token, verifyAt, async (t, now) => {
        const fast = await outcome(() => verifyAccessTokenJws(t, ring, SETTINGS, now));
        const jose = await outcome(() => joseVerifyAccessToken(t, ring, SETTINGS, now));
        expect(fast).toEqual(jose);
        // The edge verifier (latchkey/edge: WebCrypto through jose, the shared gate and claim checks)
        // must give the same answer and reason too: one source of checks, three verifiers.
        expect(await outcome(() => verifyAccessTokenWeb(t, edgeKeys, SETTINGS, now))).toEqual(fast);
        tally.cases++;
        if (fast.accepted) tally.accepted++;
        else {
          tally.refused++;
          reasons.set(fast.reason ?? fast.kind, (reasons.get(fast.reason ?? fast.kind) ?? 0) + 1);
        }
      }),
      { numRuns: RUNS },
    );
    report('jws-oracle', { ...tally, ...Object.fromEntries(reasons) });
    // The property means something only if both sides of every rule were reached.
    expect(tally.accepted).toBeGreaterThan(RUNS / 50);
    for (const reason of [
      'malformed',
      'unknown_key',
      'wrong_algorithm',
      'bad_signature',
      'wrong_type',
      'claim_invalid',
      'not_yet_valid',
      'TryRefreshError/TRY_REFRESH_TOKEN',
    ]) {
      expect(reasons.get(reason) ?? 0, reason).toBeGreaterThan(0);
    }
  });

  it('b64: false means nothing without crit, on all three verifiers (the property found the edge one refusing it as malformed)', async () => {
    for (const a of ALGS) {
      const [, p] = genuine.find((t) => JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()).alg === a)!.split('.') as [
        string,
        string,
      ];
      for (const [header, verdict] of [
        [{ alg: a, typ: 'at+jwt', kid: keys[a].kid, b64: false }, { accepted: true }],
        [
          { alg: a, kid: keys[a].kid, b64: false },
          { accepted: false, reason: 'wrong_type' },
        ],
        [
          { alg: a, typ: 'at+jwt', kid: keys[a].kid, b64: false, crit: ['b64'] },
          { accepted: false, reason: 'malformed' },
        ],
      ] as const) {
        const h = b64(JSON.stringify(header));
        const t = `${h}.${p}.${b64(rawSign(a, ours[a], `${h}.${p}`))}`;
        const fast = await outcome(() => verifyAccessTokenJws(t, ring, SETTINGS, MINTED_AT + 60_000));
        expect(fast, `${a} ${JSON.stringify(header)}`).toMatchObject(verdict);
        expect(await outcome(() => joseVerifyAccessToken(t, ring, SETTINGS, MINTED_AT + 60_000))).toEqual(fast);
        expect(await outcome(() => verifyAccessTokenWeb(t, edgeKeys, SETTINGS, MINTED_AT + 60_000))).toEqual(fast);
      }
    }
  });

  it('the genuine tokens are accepted by both, and a forged one signed by an attacker by neither', async () => {
    for (const t of genuine) {
      const fast = await outcome(() => verifyAccessTokenJws(t, ring, SETTINGS, MINTED_AT + 60_000));
      expect(fast.accepted).toBe(true);
      expect(await outcome(() => joseVerifyAccessToken(t, ring, SETTINGS, MINTED_AT + 60_000))).toEqual(fast);
    }
    const [h, p] = genuine[0]!.split('.') as [string, string];
    const a = ALGS[0]!;
    const foreign = `${h}.${p}.${b64(rawSign(a, theirs[a], `${h}.${p}`))}`;
    expect(await outcome(() => verifyAccessTokenJws(foreign, ring, SETTINGS, MINTED_AT))).toMatchObject({
      accepted: false,
      reason: 'bad_signature',
    });
  });
});
