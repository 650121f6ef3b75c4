/**
 * A keep-alive HTTP client over one pooled connection (node:http Agent, one socket), as a reverse
 * proxy or a server-side HTTP client holds them: what one request leaves on the connection, the
 * next request (perhaps another user's) inherits.
 */
import { Agent, request, type IncomingMessage } from 'node:http';

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
      req.on('error', reject);
      if (Array.isArray(body)) for (const chunk of body) req.write(chunk);
      req.end(typeof body === 'string' ? body : undefined);
    });
  }

  /**
   * Sends the request head and `prefix` of a body the server is expected to refuse before it has all
   * of it (a 413 on a declared `Content-Length`, or on the bytes read so far), then writes nothing
   * more and waits for the answer, as a client using `Expect: 100-continue` would.
   *
   * Why not send the whole body: the server answers the 413 with `Connection: close`, and Node's http
   * server closes the socket as soon as that answer is written (the bounded drain only applies when
   * it keeps the connection). Body bytes still unread on the server then turn its close into a reset
   * (RFC 9293 §3.6.1; Linux also drops what it had not yet sent), and a client that is still writing
   * meets the reset on a write, which Node acts on by destroying the socket, possibly before it has
   * read the 413 waiting in its receive buffer: the test saw `read ECONNRESET` on Node.js 22 under
   * load. So the caller sends a prefix the server reads whole before it answers (none after a
   * declared length; just over the limit for a chunked body) and nothing more: the server's close is
   * a plain FIN, and the 413 is always read. A reset after a complete response is still accepted; a
   * reset or a close before one is an error.
   */
  sendUntilRefused(method: string, path: string, headers: Record<string, string>, prefix: string): Promise<RawReply> {
    return new Promise((resolve, reject) => {
      let res: IncomingMessage | undefined;
      const chunks: Buffer[] = [];
      const settle = () => {
        if (res?.complete) resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), reused: req.reusedSocket });
        else reject(new Error('the connection ended before a complete response'));
        req.destroy();
      };
      const req = request(`${this.origin}${path}`, { method, headers, agent: this.#agent }, (response) => {
        res = response;
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', settle);
        // A reset after the whole response (the body is complete) is the server closing as it said.
        response.on('error', () => (response.complete ? settle() : reject(new Error('response cut short'))));
      });
      req.on('error', (error) => (res?.complete ? settle() : reject(error)));
      // Head and prefix go out together, and nothing after them: the request is never ended.
      req.flushHeaders();
      if (prefix !== '') req.write(prefix);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
