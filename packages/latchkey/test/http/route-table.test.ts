/**
 * One route table: the patterns an adapter registers route by route (Fastify) are the ones the
 * core's `handle` answers, for the default paths and for custom ones, so an adapter cannot drift
 * from the core when a route is added or a path is configured.
 */
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { latchkeyFastify } from 'latchkey/adapters/fastify';
import { createLatchkeyHttp, normaliseRequest, type LatchkeyHttpOptions } from 'latchkey/http';
import { routePatterns } from '../../src/http/routes.js';
import { testEngine } from '../helpers/engine.js';

const CONFIGS: Record<string, LatchkeyHttpOptions> = {
  defaults: {},
  'custom paths': { basePath: '/api/session', jwksPath: '/keys.json' },
};

describe('the auth routes come from one table', () => {
  for (const [name, options] of Object.entries(CONFIGS)) {
    it(`${name}: every pattern is an auth route, and the Fastify plugin registers exactly the patterns`, async () => {
      const { lk } = await testEngine();
      try {
        const http = createLatchkeyHttp(lk, options);
        const patterns = routePatterns(http.settings);
        expect(patterns).toContain(`${http.settings.basePath}/refresh`);
        expect(patterns).toContain(`${http.settings.basePath}/sessions/:id`);
        for (const pattern of patterns) {
          const request = normaliseRequest({
            method: 'OPTIONS',
            target: pattern.replace(':id', 'some-id'),
            protocol: 'https',
            host: 'app.example.com',
            headers: new Headers(),
            body: async () => undefined,
          });
          expect(await http.handle(request), pattern).not.toBeNull();
        }

        const app = Fastify();
        const registered: string[] = [];
        // Fastify also adds a HEAD route beside each GET: the same url, counted once.
        app.addHook('onRoute', (route) => void registered.push(route.url));
        await app.register(latchkeyFastify, { latchkey: lk, ...options });
        await app.ready();
        expect([...new Set(registered)].sort()).toEqual([...patterns].sort());
        await app.close();
      } finally {
        await lk.close();
      }
    });
  }
});
