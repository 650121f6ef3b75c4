/** Child process: runs one autocannon load and sends back a summary over IPC, then exits. */
import autocannon from 'autocannon';

process.once('message', async ({ url, headers, connections, seconds }) => {
  try {
    const r = await autocannon({ url, headers, connections, duration: seconds, pipelining: 1 });
    process.send({
      ok: true,
      result: {
        requestsPerSec: r.requests.total / r.duration,
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        total: r.requests.total,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
      },
    }, () => process.exit(0));
  } catch (err) {
    process.send({ ok: false, error: String(err?.message ?? err) }, () => process.exit(1));
  }
});
