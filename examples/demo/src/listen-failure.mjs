/**
 * What to tell someone whose `npm start` could not listen: which port and what to do, instead of
 * Node's uncaught "listen EADDRINUSE" stack trace. Undefined for any other error.
 *
 * @param {unknown} err
 * @param {number} port
 * @returns {string | undefined}
 */
export function listenFailure(err, port) {
  const { syscall, code } = /** @type {{ syscall?: unknown, code?: unknown }} */ (err ?? {});
  if (syscall !== 'listen') return undefined;
  if (code === 'EADDRINUSE') {
    return `The demo cannot start: port ${port} is already in use (EADDRINUSE), perhaps by another demo.\n` +
      `Stop that program, or pick another port:  PORT=${port === 3000 ? 3001 : 3000} npm start`;
  }
  if (code === 'EACCES') {
    return `The demo cannot start: port ${port} needs privileges (EACCES). Pick a port above 1023:  PORT=3000 npm start`;
  }
  return undefined;
}
