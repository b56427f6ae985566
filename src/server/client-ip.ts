import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { WebConfig } from '../config/types.js';

/** Where a request came from. */
export interface ClientAddress {
  ip: string;
  /**
   * Whether `ip` is really this client's, so that a limit on it touches no one else: a trusted proxy named
   * it, or the peer is a public address (nothing private sits in between). A private peer with no trusted
   * proxy may be a NodePort's source NAT, an ingress or a sidecar that every client shares.
   */
  distinct: boolean;
}

/** Addresses that are not globally routable: where a NAT, a load balancer or a proxy usually sits. */
const SHARED = new BlockList();
for (const [net, bits] of [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['0.0.0.0', 8],
] as const)
  SHARED.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['fc00::', 7],
  ['fe80::', 10],
  ['::1', 128],
  ['::', 128],
] as const)
  SHARED.addSubnet(net, bits, 'ipv6');

const isShared = (ip: string): boolean => {
  const family = isIP(ip);
  return family === 0 || SHARED.check(ip, family === 6 ? 'ipv6' : 'ipv4');
};

/**
 * The client's address for throttling and logs. A forwarding header is believed only when the direct peer is
 * a trusted proxy; X-Forwarded-For style lists are walked right to left past trusted proxies, so a client
 * cannot pick its own address by sending the header itself (Dex ≤ 2.45 trusted it from anyone).
 * `onSharedPeer` is called once, the first time a private peer arrives with no trusted proxy configured.
 */
export function clientIPResolver(
  cfg: WebConfig['clientRemoteIP'],
  onSharedPeer: (ip: string) => void = () => {},
): (req: IncomingMessage) => ClientAddress {
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
  let warned = false;
  const fromPeer = (peer: string): ClientAddress => {
    const distinct = !isShared(peer);
    if (!distinct && !warned && cfg.trustedProxies.length === 0) {
      warned = true;
      onSharedPeer(peer);
    }
    return { ip: peer, distinct };
  };

  return (req) => {
    const peer = normalize(req.socket.remoteAddress ?? '');
    if (!header || !isTrusted(peer)) return fromPeer(peer);
    const raw = req.headers[header];
    const values = (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).split(',');
    // Walk right to left: each entry was appended by the hop to its right, so the first untrusted address is
    // the client. An entry that is not an address stops the walk: everything left of it came from a hop we
    // cannot vouch for, and skipping over it would let a client pick its address by sending the header.
    let nearest = peer;
    for (let i = values.length - 1; i >= 0; i--) {
      const ip = normalize(stripPort(values[i]!.trim()));
      if (isIP(ip) === 0) break;
      if (!isTrusted(ip)) return { ip, distinct: true };
      nearest = ip;
    }
    // Only proxies all the way: the nearest of them is what we know, shared by whoever is behind it.
    return { ip: nearest, distinct: false };
  };
}

/** "::ffff:10.0.0.1" → "10.0.0.1", so IPv4 clients on a dual-stack socket match IPv4 ranges. */
function normalize(ip: string): string {
  const lower = ip.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : ip;
}

/** Some proxies (Azure Application Gateway) write "1.2.3.4:5678" or "[2001:db8::1]:443". */
function stripPort(entry: string): string {
  const m =
    /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(entry) ??
    /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(entry);
  return m && Number(m[2] ?? 0) <= 65535 ? m[1]! : entry;
}
