/**
 * A keep-alive HTTP client over one pooled connection (node:http Agent, one socket), as a reverse
 * proxy or a server-side HTTP client holds them: what one request leaves on the connection, the
 * next request (perhaps another user's) inherits.
 */
import { Agent, request } from 'node:http';

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** True when the request went out on a connection an earlier request had used. */
  reused: boolean;
}

export class KeepAliveClient {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(readonly origin: string) {}

  /** Sends `body` (a string, or chunks sent with chunked transfer encoding). */
  send(method: string, path: string, headers: Record<string, string>, body?: string | string[]): Promise<RawReply> {
    return new Promise((resolve, reject) => {
      const req = request(`${this.origin}${path}`, { method, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), reused: req.reusedSocket }));
        res.on('error', reject);
      });
      // A server that answers early and closes may reset the upload; the answer is what counts.
      req.on('error', reject);
      if (Array.isArray(body)) for (const chunk of body) req.write(chunk);
      req.end(typeof body === 'string' ? body : undefined);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
