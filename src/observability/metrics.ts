import { Counter, Histogram, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { VERSION } from '../version.js';

// One registry per server instance (not prom-client's global one), so tests can run several servers in one
// process. Names follow Dex where Dex has them (http_requests_total, request_duration_seconds,
// response_size_bytes), so existing dashboards keep working.
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by status code, method and route pattern.',
    labelNames: ['code', 'method', 'handler'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: 'request_duration_seconds',
    help: 'HTTP request latency by status code, method and route pattern.',
    labelNames: ['code', 'method', 'handler'] as const,
    buckets: [0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  // Dex's buckets above start at 250 ms, where every Latchkey endpoint but a slow upstream login has long
  // finished: this one resolves the milliseconds that tokens, keys and discovery actually take.
  readonly requestLatency = new Histogram({
    name: 'latchkey_http_request_duration_seconds',
    help: 'HTTP request latency by status code, method and route pattern, in millisecond-scale buckets.',
    labelNames: ['code', 'method', 'handler'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly responseSize = new Histogram({
    name: 'response_size_bytes',
    help: 'HTTP response size by status code, method and route pattern.',
    labelNames: ['code', 'method', 'handler'] as const,
    buckets: [200, 500, 900, 1500],
    registers: [this.registry],
  });

  readonly keyRotations = new Counter({
    name: 'latchkey_key_rotations_total',
    help: 'Key rotations this replica performed, by key set.',
    labelNames: ['keyset'] as const,
    registers: [this.registry],
  });

  readonly logins = new Counter({
    name: 'latchkey_logins_total',
    help: 'Interactive logins and password grants by connector and result (success, failure, throttled, error).',
    labelNames: ['connector', 'result'] as const,
    registers: [this.registry],
  });

  readonly tokensIssued = new Counter({
    name: 'latchkey_tokens_issued_total',
    help: 'Token responses by grant type.',
    labelNames: ['grant'] as const,
    registers: [this.registry],
  });

  readonly refreshFailures = new Counter({
    name: 'latchkey_refresh_failures_total',
    help: 'Refused refresh-token grants by reason (invalid, other_client, expired, replayed, revoked_upstream, connector_gone).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly storageOperations = new Histogram({
    name: 'latchkey_storage_operation_duration_seconds',
    help: 'Storage calls by operation and outcome (ok, not_found, already_exists, conflict, unavailable, error).',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });

  readonly kubernetesRequests = new Counter({
    name: 'latchkey_kubernetes_api_requests_total',
    help: 'Requests the Kubernetes storage made to the API server, by verb and resource (watch-cache hits make none).',
    labelNames: ['verb', 'resource'] as const,
    registers: [this.registry],
  });

  readonly gcDeleted = new Counter({
    name: 'latchkey_gc_deleted_total',
    help: 'Expired objects removed by garbage collection, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly backchannelLogouts = new Counter({
    name: 'latchkey_backchannel_logout_total',
    help: 'Back-channel logout deliveries by result (delivered, rejected, failed, dropped, abandoned).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly storageReady = new Gauge({
    name: 'latchkey_storage_ready',
    help: '1 when the last read-only storage check succeeded.',
    registers: [this.registry],
    // With workers (src/cluster/) only the primary checks storage; the workers' copies stay 0.
    aggregator: 'max',
  });

  constructor() {
    new Gauge({
      name: 'latchkey_build_info',
      help: 'Build information; always 1.',
      labelNames: ['version', 'node_version', 'platform'] as const,
      registers: [this.registry],
      // One build per replica, however many processes report it.
      aggregator: 'first',
    }).set(
      { version: VERSION, node_version: process.version, platform: `${process.platform}/${process.arch}` },
      1,
    );
    collectDefaultMetrics({ register: this.registry });
  }
}
