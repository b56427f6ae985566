import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { WebConfig } from '../config/types.js';

/**
 * The client's IP for throttling and logs. A forwarding header is believed only when the direct peer is a
 * trusted proxy; X-Forwarded-For style lists are walked right to left past trusted proxies, so a client
 * cannot pick its own address by sending the header itself (Dex ≤ 2.45 trusted it from anyone).
 */
export function clientIPResolver(cfg: WebConfig['clientRemoteIP']): (req: IncomingMessage) => string {
  const trusted = new BlockList();
  for (const cidr of cfg.trustedProxies) {
    const [addr, bits] = cidr.split('/');
    const family = isIP(addr ?? '') === 6 ? 'ipv6' : 'ipv4';
    trusted.addSubnet(addr!, Number(bits ?? (family === 'ipv6' ? 128 : 32)), family);
  }
  const isTrusted = (ip: string) => {
    const family = isIP(ip);
    return family !== 0 && trusted.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  };
  const header = cfg.header?.toLowerCase();

  return (req) => {
    const peer = normalize(req.socket.remoteAddress ?? '');
    if (!header || !isTrusted(peer)) return peer;
    const raw = req.headers[header];
    const values = (Array.isArray(raw) ? raw.join(',') : (raw ?? ''))
      .split(',')
      .map((s) => normalize(s.trim()))
      .filter((s) => isIP(s) !== 0);
    for (let i = values.length - 1; i >= 0; i--) {
      if (!isTrusted(values[i]!)) return values[i]!;
    }
    return values[0] ?? peer;
  };
}

/** "::ffff:10.0.0.1" → "10.0.0.1", so IPv4 clients on a dual-stack socket match IPv4 ranges. */
function normalize(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}
