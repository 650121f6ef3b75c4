/** Serves a node request listener on 127.0.0.1:0 for the socket runs of the suite. */
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { socketFetch, type Served } from './harness.js';

export async function listen(listener: RequestListener): Promise<Served> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    fetch: socketFetch(origin),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The requirements the suite's app attaches to each /api route. */
export function requirementsFor(path: string): { claims?: { role: string }; maxAuthAge?: number; checkStore?: boolean } {
  if (path === '/api/admin') return { claims: { role: 'admin' } };
  if (path === '/api/fresh') return { maxAuthAge: 60 };
  if (path === '/api/checked') return { checkStore: true };
  return {};
}
