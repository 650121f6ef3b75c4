/** The shared HTTP suite on the Express 5 adapter, over a real socket. */
import express from 'express';
import type { Latchkey } from 'latchkey';
import { latchkeyExpress } from 'latchkey/adapters/express';
import type { LatchkeyHttpOptions } from 'latchkey/http';
import type { AdapterHarness } from './support/harness.js';
import { listen, requirementsFor } from './support/listen.js';
import { runHttpSuite } from './suite.js';

export const expressHarness: AdapterHarness = {
  name: 'Express 5 (socket)',
  start(engine: Latchkey, options: LatchkeyHttpOptions) {
    const auth = latchkeyExpress(engine, options);
    const app = express();
    app.use(auth.router);
    app.post('/auth/login', async (req, res) => {
      const role = typeof req.query.role === 'string' ? req.query.role : undefined;
      const user = typeof req.query.user === 'string' ? req.query.user : 'nobody';
      const result = await auth.signIn(req, res, { userId: user, ...(role ? { accessClaims: { role } } : {}), data: { plan: 'pro' } });
      res.json(result.body);
    });
    app.post('/app/logout', async (req, res) => {
      res.json(await auth.signOut(req, res));
    });
    app.get('/api/optional', auth.session(), (req, res) => {
      res.json({ userId: req.latchkey?.userId ?? null });
    });
    app.get('/api/optional-pre', async (req, res) => {
      res.json({ userId: (await auth.getSession(req, res))?.userId ?? null });
    });
    for (const path of ['/api/me', '/api/admin', '/api/fresh', '/api/checked', '/api/data', '/api/promote', '/api/promote-twice']) {
      app.all(path, auth.requireSession(requirementsFor(path)), async (req, res) => {
        const session = req.latchkey!;
        if (path === '/api/promote') {
          const updated = await session.update({ accessClaims: { role: 'admin' } });
          return void res.json({ accessToken: session.mode === 'header' ? updated.accessToken : undefined });
        }
        if (path === '/api/promote-twice') {
          await session.update({ accessClaims: { role: 'editor' } });
          const updated = await session.update({ accessClaims: { role: 'admin' } });
          return void res.json({ accessToken: session.mode === 'header' ? updated.accessToken : undefined });
        }
        if (path === '/api/data') return void res.json({ data: await session.data() });
        res.json({ userId: session.userId, sessionId: session.sessionId, mode: session.mode });
      });
    }
    app.use(auth.errorHandler());
    return listen(app);
  },
};

runHttpSuite(expressHarness);
