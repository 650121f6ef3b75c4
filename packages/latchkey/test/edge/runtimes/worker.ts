/**
 * The app each runtime runs: a fetch handler that verifies the bearer token with latchkey/edge and
 * answers the verdict as JSON. Bundled by the test (esbuild, platform neutral) with its settings
 * inlined, so the same file runs in Bun, Deno and workerd unchanged.
 */
import { createEdgeVerifier, type EdgeVerifierOptions } from 'latchkey/edge';

declare const LATCHKEY_EDGE_CONFIG: EdgeVerifierOptions;

const verifier = createEdgeVerifier(LATCHKEY_EDGE_CONFIG);

export default {
  async fetch(request: Request): Promise<Response> {
    const header = request.headers.get('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
    try {
      const verified = await verifier.verify(token);
      // navigator.userAgent names the runtime (Bun/…, Deno/…, Cloudflare-Workers): the test checks it ran where it meant to.
      return Response.json({ ok: true, userId: verified.userId, sessionId: verified.sessionId, runtime: navigator.userAgent });
    } catch (error) {
      const e = error as { code?: string; reason?: string; message?: string };
      return Response.json(
        { ok: false, code: e.code ?? 'NOT_A_LATCHKEY_ERROR', reason: e.reason ?? null, message: String(e.message) },
        { status: e.code ? 401 : 500 },
      );
    }
  },
};
