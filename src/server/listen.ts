import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
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
  /** "http://127.0.0.1:5556" — the bound address, with the real port when 0 was asked for. */
  url: string;
  close(graceMs: number): Promise<void>;
}

export async function listen(
  addr: string,
  handler: RequestListener,
  tls?: TlsOptions,
): Promise<RunningListener> {
  const { host, port } = parseListenAddress(addr);
  const server = tls
    ? https.createServer(
        {
          cert: readFileSync(tls.certFile),
          key: readFileSync(tls.keyFile),
          minVersion: tls.minVersion,
          ...(tls.maxVersion ? { maxVersion: tls.maxVersion } : {}),
        },
        handler,
      )
    : http.createServer(handler);
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
  return {
    server,
    url: `${tls ? 'https' : 'http'}://${shownHost}:${bound.port}`,
    close: (graceMs) => closeGracefully(server, graceMs),
  };
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
