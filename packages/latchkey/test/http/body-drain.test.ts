/**
 * An oversized body is drained after the 413 only within a bound: a client that declares (or streams)
 * far more than the limit cannot hold the connection open and keep the server reading for as long as
 * it likes. Real node http server, real socket. The 413 here is sent without `Connection: close` (as an
 * app's own error handler on Express might): Node then keeps reading the unread body to reach the
 * next request, so only the reader's bound ends it. (With `Connection: close`, which latchkey's own
 * answers carry, Node closes the connection itself.)
 */
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readNodeBody } from '../../src/http/request.js';

describe('readNodeBody on an oversized body', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  it('answers 413 and then drops a client that keeps sending past the drain bound', async () => {
    server = createServer((req, res) => {
      readNodeBody(req, 1024).then(
        () => res.end('ok'),
        () => {
          res.writeHead(413);
          res.end('too large');
        },
      );
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let closed = false;
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('error', () => undefined); // the server's reset is the expected outcome
    const closedPromise = new Promise<void>((resolve) => socket.on('close', () => { closed = true; resolve(); }));
    await new Promise<void>((resolve) => socket.on('connect', resolve));
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n');
    // Send up to 64 MiB (far past the 8 MiB drain bound, far short of the declared length). Without
    // the bound the server reads all of it and the connection stays open, waiting for the rest.
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    for (let sent = 0; sent < 64 * 1024 * 1024 && !closed && !socket.destroyed; sent += chunk.length) {
      if (!socket.write(chunk)) {
        await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closedPromise]);
      }
    }
    // Give the server its chance to have dropped us (it must already have, past the bound).
    await Promise.race([closedPromise, new Promise((resolve) => setTimeout(resolve, 500))]);
    expect(received).toMatch(/^HTTP\/1\.1 413/);
    expect(closed).toBe(true);
    socket.destroy();
  });
});
