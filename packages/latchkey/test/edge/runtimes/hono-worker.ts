/**
 * A Hono app guarded by `requireEdgeSession` on the edge verifier, for workerd (hono-edge.test.ts).
 * Bundled by the test with its settings inlined, as worker.ts.
 */
import { Hono } from 'hono';
import { requireEdgeSession, type EdgeSessionEnv } from 'latchkey/adapters/hono-edge';
import { createEdgeVerifier, type EdgeVerifierOptions } from 'latchkey/edge';

declare const LATCHKEY_EDGE_CONFIG: EdgeVerifierOptions;

const app = new Hono<EdgeSessionEnv>();
app.get('/public', (c) => c.text('public'));
app.use('/api/*', requireEdgeSession(createEdgeVerifier(LATCHKEY_EDGE_CONFIG)));
app.get('/api/me', (c) => c.json({ userId: c.var.latchkey.userId, runtime: navigator.userAgent }));
app.post('/api/notes', (c) => c.json({ saved: true, userId: c.var.latchkey.userId }));

export default app;
