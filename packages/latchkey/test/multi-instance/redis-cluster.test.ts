/**
 * Redis Cluster (three private primaries, `redis-cli --cluster create`): the bus needs no cluster
 * client for delivery. Classic PUBLISH is broadcast over the cluster bus to every node, so buses
 * pointed at different nodes hear each other (unlike sharded SPUBLISH, which latchkey does not use).
 * What the plain client does not do (follow topology changes) is documented in docs/deployment.md.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { BusMessage } from 'latchkey';
import { redisBus, type RedisBus } from 'latchkey/revocation/redis';
import { uniqueName } from '../helpers/postgres.js';
import { startPrivateRedisCluster, type PrivateRedisCluster } from '../helpers/private-servers.js';
import { serviceAvailable } from '../helpers/services.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let cluster: PrivateRedisCluster | undefined;
const available = await serviceAvailable('private Redis Cluster (redis-server, redis-cli --cluster)', async () => {
  cluster = await startPrivateRedisCluster();
});

afterAll(async () => {
  await cluster?.destroy();
});

describe.skipIf(!available)('Redis Cluster: one bus per node', () => {
  it('a revocation published through one node reaches subscribers on every other node', async () => {
    const channel = uniqueName('lk:cluster');
    const buses: RedisBus[] = cluster!.nodes.map((n) => redisBus({ url: n.url, channel }));
    const received = buses.map(() => [] as BusMessage[]);
    try {
      await Promise.all(buses.map((b, i) => b.subscribe({ message: (m) => received[i]!.push(m), connected: () => {} })));
      for (let from = 0; from < buses.length; from++) {
        const message: BusMessage = { type: 'revoked', revocations: [{ sessionId: `s_cluster_${from}`, revokedAt: 1_800_000_000_000 + from }] };
        await buses[from]!.publish(message);
        for (let i = 0; i < 100 && received.some((r) => !r.some((m) => JSON.stringify(m) === JSON.stringify(message))); i++) await sleep(20);
        for (const r of received) expect(r).toContainEqual(message);
      }
    } finally {
      for (const b of buses) await b.close();
    }
  });
});
