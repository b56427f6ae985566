import http from 'node:http';
import https from 'node:https';
import { readFileSync, watchFile, unwatchFile } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses a listen address the way Dex's flags and config take it: "host:port", ":port" (every interface),
 * "[::1]:port". Port 0 picks a free port (tests).
 */
export function parseListenAddress(addr: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new Error(`invalid listen address "${addr}": expected host:port, :port or [ipv6]:port`);
  }
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

export interface TlsOptions {
  certFile: string;
  keyFile: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

export interface RunningListener {
  server: http.Server;
  /** Re-reads the TLS certificate and key (no-op for plain HTTP); new connections use them. */
  reloadTls(): void;
  /** "http://127.0.0.1:5556" — the bound address, with the real port when 0 was asked for. */
  url: string;
  /**
   * The first step of a graceful stop: keep accepting (a load balancer may still send new connections until
   * it notices the readiness change), but close every connection after its current response, so clients
   * with kept-alive connections reconnect — through the load balancer, to another replica.
   */
  drain(): void;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then drops what is left. */
  close(graceMs: number): Promise<void>;
}

export async function listen(
  addr: string,
  handler: RequestListener,
  tls?: TlsOptions,
  onReloadError: (err: unknown) => void = () => {},
): Promise<RunningListener> {
  const { host, port } = parseListenAddress(addr);
  const connections = new ConnectionCloser();
  const serve: RequestListener = (req, res) => {
    connections.track(res);
    handler(req, res);
  };
  const secureOptions = () =>
    tls
      ? {
          cert: readFileSync(tls.certFile),
          key: readFileSync(tls.keyFile),
          minVersion: tls.minVersion,
          ...(tls.maxVersion ? { maxVersion: tls.maxVersion } : {}),
        }
      : {};
  const server = tls ? https.createServer(secureOptions(), serve) : http.createServer(serve);
  const reloadTls = () => {
    if (tls) (server as https.Server).setSecureContext(secureOptions());
  };
  // Slow-loris protection: a client gets 10 s to send its headers.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  const stopWatching = tls ? watchTlsFiles(tls, reloadTls, onReloadError) : () => {};
  return {
    server,
    reloadTls,
    url: `${tls ? 'https' : 'http'}://${shownHost}:${bound.port}`,
    drain: () => connections.closeAfterResponse(),
    close: async (graceMs) => {
      stopWatching();
      connections.closeAfterResponse();
      await closeGracefully(server, graceMs);
    },
  };
}

/**
 * Once draining, every response says `Connection: close`, including those of requests already in flight
 * whose headers are not sent yet: no connection is left idle for the listener's close to cut under a client
 * that is just sending its next request on it.
 */
class ConnectionCloser {
  private draining = false;
  private readonly unanswered = new Set<http.ServerResponse>();

  track(res: http.ServerResponse): void {
    if (this.draining) {
      res.shouldKeepAlive = false;
      return;
    }
    this.unanswered.add(res);
    const forget = () => this.unanswered.delete(res);
    res.once('finish', forget);
    res.once('close', forget);
  }

  closeAfterResponse(): void {
    this.draining = true;
    for (const res of this.unanswered) if (!res.headersSent) res.shouldKeepAlive = false;
    this.unanswered.clear();
  }
}

/** Stops accepting, lets in-flight requests finish for up to `graceMs`, then drops what is left. */
function closeGracefully(server: http.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** How often the certificate files are checked: Kubernetes updates a mounted Secret within a minute anyway. */
const TLS_POLL_MS = 2_000;

/**
 * Reloads the certificate when its files change (a rotated Kubernetes Secret swaps them through a symlink,
 * so mtime polling is more reliable than inotify). Existing connections keep their session; new ones get
 * the new certificate. A half-written pair fails to load and is retried at the next change.
 */
function watchTlsFiles(tls: TlsOptions, reload: () => void, onError: (err: unknown) => void): () => void {
  const onChange = (curr: { mtimeMs: number }, prev: { mtimeMs: number }) => {
    if (curr.mtimeMs === prev.mtimeMs) return;
    try {
      reload();
    } catch (err) {
      onError(err);
    }
  };
  for (const f of [tls.certFile, tls.keyFile])
    watchFile(f, { interval: TLS_POLL_MS, persistent: false }, onChange);
  return () => {
    for (const f of [tls.certFile, tls.keyFile]) unwatchFile(f, onChange);
  };
}
