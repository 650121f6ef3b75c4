/**
 * Prometheus metrics (text exposition format via prom-client). One registry per service instance, so
 * several services in one process (tests, embedding) never share or clash.
 *
 * Labels are bounded: `route` is the route pattern (`/v1/sessions/{id}`), never the raw path, so a
 * scan of random URLs cannot explode the series count.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Latchkey } from '../engine.js';
import { withDeadline } from './deadline.js';

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly duration: Histogram<'method' | 'route' | 'status'>;
  readonly sessionsCreated: Counter;
  readonly refreshes: Counter<'outcome'>;
  readonly thefts: Counter;
  readonly revocations: Counter<'reason'>;
  readonly keyRotations: Counter;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'latchkey_process_' });
    this.requests = new Counter({
      name: 'latchkey_http_requests_total',
      help: 'HTTP requests by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'latchkey_http_request_duration_seconds',
      help: 'HTTP request latency by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.sessionsCreated = new Counter({
      name: 'latchkey_sessions_created_total',
      help: 'Sessions created by this instance.',
      registers,
    });
    this.refreshes = new Counter({
      name: 'latchkey_refreshes_total',
      help: 'Successful refreshes; outcome "grace" when a just-rotated token was presented again.',
      labelNames: ['outcome'],
      registers,
    });
    this.thefts = new Counter({
      name: 'latchkey_theft_detections_total',
      help: 'Replays of rotated-out refresh tokens (each revoked its session).',
      registers,
    });
    this.revocations = new Counter({
      name: 'latchkey_revocations_total',
      help: 'Sessions revoked by this instance, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.keyRotations = new Counter({
      name: 'latchkey_signing_key_rotations_total',
      help: 'Signing keys created by this instance (scheduled or on demand).',
      registers,
    });
  }

  /** Feeds the engine's events into the counters and adds the gauges that read the engine's state. */
  attach(engine: Latchkey): void {
    engine.on('session.created', () => this.sessionsCreated.inc());
    engine.on('session.refreshed', (e) => this.refreshes.inc({ outcome: e.grace ? 'grace' : 'rotated' }));
    engine.on('session.theft_detected', () => this.thefts.inc());
    engine.on('session.revoked', (e) => this.revocations.inc({ reason: e.reason }));
    engine.on('keys.rotated', () => this.keyRotations.inc());
    const registers = [this.registry];
    new Gauge({
      name: 'latchkey_revoked_sessions_in_memory',
      help: 'Session ids in the in-memory revocation denylist.',
      registers,
      collect() {
        this.set(engine.revokedSessionsInMemory);
      },
    });
    new Gauge({
      name: 'latchkey_signing_key_age_seconds',
      help: 'Age of the signing key in use (since it began signing).',
      registers,
      async collect() {
        try {
          const now = Date.now();
          const active = await withDeadline(engine.currentSigningKey(now), 1_000);
          if (active) this.set((now - active.activatesAt) / 1000);
        } catch {
          // Store down: leave the last value; /readyz reports the outage.
        }
      },
    });
    new Gauge({
      name: 'latchkey_active_sessions',
      help: 'Sessions neither revoked nor expired.',
      registers,
      async collect() {
        try {
          this.set(await withDeadline(engine.countActiveSessions(Date.now()), 1_000));
        } catch {
          // As above.
        }
      },
    });
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.duration.observe(labels, seconds);
  }
}
