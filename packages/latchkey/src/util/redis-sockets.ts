/**
 * A lasting error listener on every socket an ioredis connection opens (see guardSockets).
 */
import type { Redis } from 'ioredis';

/**
 * ioredis listens for its socket's errors with once(): a second error on the same socket has no
 * listener and becomes an uncaught exception that kills the process. A refused TLS handshake does
 * exactly that (the certificate error, then the server's alert, ERR_SSL_TLSV1_ALERT_DECODE_ERROR),
 * as can a socket failing while the bus closes. So every socket the connection opens (standalone or
 * through Sentinel) gets a lasting listener that reports like any other connection error. ioredis
 * offers no hook for its sockets, hence the wrap of its connector; without one it changes nothing.
 */
export function guardSockets(connection: Redis, report: (error: Error) => void): void {
  type Connector = { connect?: (...args: unknown[]) => Promise<NodeJS.EventEmitter> };
  const connector = (connection as unknown as { connector?: Connector }).connector;
  const connect = connector?.connect;
  if (!connector || typeof connect !== 'function') return;
  connector.connect = (...args: unknown[]) =>
    connect.apply(connector, args).then((socket) => {
      socket.on('error', report);
      return socket;
    });
}
