import { connect, createServer, type Server, type Socket } from 'node:net';

// A stand-in for a Kubernetes Service (or an ingress) on 127.0.0.1: a TCP proxy that spreads connections
// over endpoints round robin, as kube-proxy does. Like endpoints, it only sends new connections to endpoints
// whose readiness probe passes (as of its last probe: endpoints lag behind readiness too). A connection an
// endpoint refuses before any byte was sent is either tried on the next endpoint, as an ingress does, or
// reset, as kube-proxy's rules do (`retryRefused: false`). It never retries anything that reached an
// endpoint: once connected, bytes flow both ways untouched, and an endpoint that drops the connection drops
// the client's.
//
// `cut()` is a network partition for outage tests: every open connection is reset and new ones are reset on
// arrival, until `heal()`.

export interface ProxyEndpoint {
  port: number;
  /** Polled for readiness (200 = ready); without it the endpoint is always in rotation. */
  readinessURL?: string;
}

export interface ProxyStats {
  /** Client connections accepted. */
  accepted: number;
  /** Connections forwarded, per endpoint. */
  forwarded: number[];
  /** Connections refused by an endpoint before any byte was sent, then tried elsewhere. */
  refusedAndRetried: number;
  /** Connections refused by an endpoint and, with retryRefused off, reset. */
  refusedAndReset: number;
  /** Client connections closed because no endpoint was ready within the wait. */
  noEndpoint: number;
}

export interface ProxyOptions {
  /** How often readiness is probed; default 200 ms. */
  probeIntervalMs?: number;
  /** Try the next endpoint when one refuses the connection (an ingress), or reset it (kube-proxy); default true. */
  retryRefused?: boolean;
}

const PROBE_TIMEOUT_MS = 1_000;
/** How long a new connection may wait for some endpoint to be ready (a Service with no ready endpoint). */
const WAIT_FOR_ENDPOINT_MS = 10_000;

export class RoundRobinProxy {
  private readonly ready: boolean[];
  private readonly open = new Set<Socket>();
  private readonly stats: ProxyStats;
  private next = 0;
  private partitioned = false;
  private probeTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly server: Server,
    private readonly endpoints: ProxyEndpoint[],
    private readonly retryRefused: boolean,
  ) {
    this.ready = endpoints.map((e) => e.readinessURL === undefined);
    this.stats = {
      accepted: 0,
      forwarded: endpoints.map(() => 0),
      refusedAndRetried: 0,
      refusedAndReset: 0,
      noEndpoint: 0,
    };
  }

  /** Listens on a free 127.0.0.1 port; endpoints with a readiness URL join the rotation once it answers. */
  static async start(endpoints: ProxyEndpoint[], opts: ProxyOptions = {}): Promise<RoundRobinProxy> {
    // Paused: nothing the client sends is read before an endpoint accepted the connection.
    const server = createServer({ pauseOnConnect: true });
    const proxy = new RoundRobinProxy(server, endpoints, opts.retryRefused ?? true);
    server.on('connection', (client) => proxy.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    await proxy.probe();
    proxy.probeTimer = setInterval(() => void proxy.probe(), opts.probeIntervalMs ?? 200);
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** Whether endpoint `i` is in rotation now. */
  isReady(i: number): boolean {
    return this.ready[i]!;
  }

  snapshot(): ProxyStats {
    return { ...this.stats, forwarded: [...this.stats.forwarded] };
  }

  cut(): void {
    this.partitioned = true;
    for (const s of this.open) s.destroy();
  }

  heal(): void {
    this.partitioned = false;
  }

  /** Stops probing and listening and closes every connection. */
  async stop(): Promise<void> {
    clearInterval(this.probeTimer);
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async probe(): Promise<void> {
    await Promise.all(
      this.endpoints.map(async (e, i) => {
        if (e.readinessURL === undefined) return;
        try {
          const res = await fetch(e.readinessURL, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
          await res.body?.cancel();
          this.ready[i] = res.status === 200;
        } catch {
          this.ready[i] = false;
        }
      }),
    );
  }

  private accept(client: Socket): void {
    this.stats.accepted++;
    this.track(client);
    client.on('error', () => client.destroy());
    if (this.partitioned) {
      client.resetAndDestroy();
      return;
    }
    this.route(client, new Set(), Date.now() + WAIT_FOR_ENDPOINT_MS);
  }

  /** Connects the (still paused) client to the next ready endpoint not yet tried. */
  private route(client: Socket, tried: Set<number>, deadline: number): void {
    if (client.destroyed) return;
    const i = this.pick(tried);
    if (i === undefined) {
      if (Date.now() > deadline) {
        this.stats.noEndpoint++;
        client.destroy();
        return;
      }
      // Wait for a probe to bring an endpoint (back) into rotation; tried ones may be retried then.
      setTimeout(() => this.route(client, new Set(), deadline), 50);
      return;
    }
    const upstream = connect(this.endpoints[i]!.port, '127.0.0.1');
    this.track(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      if (this.partitioned) {
        upstream.destroy();
        client.resetAndDestroy();
        return;
      }
      this.stats.forwarded[i]!++;
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && err.code === 'ECONNREFUSED' && !this.retryRefused) {
        // What a client behind kube-proxy gets from an endpoint that stopped listening: a reset.
        this.stats.refusedAndReset++;
        client.resetAndDestroy();
        return;
      }
      if (!connected && err.code === 'ECONNREFUSED') {
        // Nothing was sent: as an ingress would, take the endpoint out until its probe passes, try another.
        this.ready[i] = false;
        this.stats.refusedAndRetried++;
        tried.add(i);
        this.route(client, tried, deadline);
        return;
      }
      client.destroy();
    });
    // A clean close was passed on by pipe() (the client gets every byte, then the FIN); an abrupt one is too.
    upstream.on('close', (hadError) => {
      if (connected && hadError) client.destroy();
    });
    client.on('close', () => upstream.destroy());
  }

  private pick(tried: Set<number>): number | undefined {
    for (let n = 0; n < this.endpoints.length; n++) {
      const i = (this.next + n) % this.endpoints.length;
      if (this.ready[i] && !tried.has(i)) {
        this.next = i + 1;
        return i;
      }
    }
    return undefined;
  }

  private track(s: Socket): void {
    this.open.add(s);
    s.once('close', () => this.open.delete(s));
  }
}
