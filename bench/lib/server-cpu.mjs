/**
 * The server side of "server CPU per request": a bench server process answers the parent's
 * 'cpu-start' / 'cpu-stop' messages with its own CPU time and the requests it served in between.
 * Measured inside the server, it hardly depends on what else the machine runs (unlike req/s).
 */
export function answerCpuProbe() {
  let requests = 0;
  let started;
  process.on('message', (m) => {
    if (m === 'cpu-start') {
      requests = 0;
      started = process.cpuUsage();
      process.send({ cpuStarted: true });
    } else if (m === 'cpu-stop') {
      const used = process.cpuUsage(started);
      process.send({ cpuMicros: used.user + used.system, requests });
    }
  });
  /** Call once per request served. */
  return () => {
    requests++;
  };
}
