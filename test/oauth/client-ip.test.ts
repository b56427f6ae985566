import type { IncomingMessage } from 'node:http';
import { clientIPResolver as addressResolver } from '../../src/server/client-ip.js';

/** The address alone (most tests); `distinct` has tests of its own below. */
const clientIPResolver = (...args: Parameters<typeof addressResolver>) => {
  const resolve = addressResolver(...args);
  return (r: IncomingMessage) => resolve(r).ip;
};

const req = (remoteAddress: string | undefined, headers: Record<string, string | string[]> = {}) =>
  ({ socket: { remoteAddress }, headers }) as unknown as IncomingMessage;

const PROXY = '10.0.0.2';
const CLIENT = '198.51.100.7';

describe('without a configured header', () => {
  const resolve = clientIPResolver({ trustedProxies: ['10.0.0.0/8'] });

  it('uses the socket address and ignores forwarding headers, even from a trusted proxy', () => {
    expect(resolve(req(CLIENT))).toBe(CLIENT);
    expect(resolve(req(PROXY, { 'x-forwarded-for': CLIENT, 'x-real-ip': CLIENT }))).toBe(PROXY);
  });

  it('normalises IPv4-mapped IPv6 socket addresses', () => {
    expect(resolve(req(`::ffff:${CLIENT}`))).toBe(CLIENT);
    expect(resolve(req('2001:db8::7'))).toBe('2001:db8::7');
  });

  it('gives an empty string when the socket has no address (closed)', () => {
    expect(resolve(req(undefined))).toBe('');
  });
});

describe('with a header but an untrusted peer', () => {
  it('refuses the header when no proxy is trusted', () => {
    const resolve = clientIPResolver({ header: 'X-Forwarded-For', trustedProxies: [] });
    expect(resolve(req(CLIENT, { 'x-forwarded-for': '1.2.3.4' }))).toBe(CLIENT);
  });

  it('refuses the header from a peer outside the trusted ranges', () => {
    const resolve = clientIPResolver({ header: 'X-Forwarded-For', trustedProxies: ['10.0.0.0/8'] });
    expect(resolve(req('11.0.0.1', { 'x-forwarded-for': '1.2.3.4' }))).toBe('11.0.0.1');
    expect(resolve(req(`::ffff:${CLIENT}`, { 'x-forwarded-for': '10.0.0.9' }))).toBe(CLIENT);
  });
});

describe('behind trusted proxies', () => {
  const resolve = clientIPResolver({
    header: 'X-Forwarded-For',
    trustedProxies: ['10.0.0.0/8', '192.168.1.1', 'fd00::/8'],
  });
  const xff = (value: string | string[], peer = PROXY) => resolve(req(peer, { 'x-forwarded-for': value }));

  it('takes the address the proxy appended', () => {
    expect(xff(CLIENT)).toBe(CLIENT);
    expect(xff(` ${CLIENT} `)).toBe(CLIENT);
  });

  it('walks right to left past trusted proxies to the first untrusted address', () => {
    expect(xff(`${CLIENT}, 10.1.2.3`)).toBe(CLIENT);
    expect(xff(`${CLIENT},192.168.1.1,10.1.2.3`)).toBe(CLIENT);
    expect(xff(`2001:db8::5, fd00::3`, 'fd00::1')).toBe('2001:db8::5');
  });

  it('does not let the client choose its address by sending the header itself', () => {
    expect(xff(`6.6.6.6, ${CLIENT}`)).toBe(CLIENT);
    expect(xff(`10.9.9.9, 6.6.6.6, ${CLIENT}, 10.1.2.3`)).toBe(CLIENT);
  });

  it('matches a bare trusted address exactly (a /32), not its neighbours', () => {
    expect(xff(`${CLIENT}, 192.168.1.1`)).toBe(CLIENT);
    expect(xff(`${CLIENT}, 192.168.1.2`)).toBe('192.168.1.2');
  });

  it('takes the leftmost address when every hop is trusted', () => {
    expect(xff('10.5.5.5, 10.1.2.3')).toBe('10.5.5.5');
  });

  it('falls back to the peer when the header is missing or empty', () => {
    expect(resolve(req(PROXY))).toBe(PROXY);
    expect(xff('')).toBe(PROXY);
    expect(xff('  ')).toBe(PROXY);
  });

  it('normalises IPv4-mapped addresses, in the header and of the peer', () => {
    expect(xff(`::ffff:${CLIENT}`)).toBe(CLIENT);
    expect(xff(`::FFFF:${CLIENT}`)).toBe(CLIENT);
    expect(xff(`${CLIENT}, ::ffff:10.1.2.3`, `::ffff:${PROXY}`)).toBe(CLIENT);
  });

  it('accepts entries with a port, as some proxies write them', () => {
    expect(xff(`${CLIENT}:51234`)).toBe(CLIENT);
    expect(xff('[2001:db8::5]:443')).toBe('2001:db8::5');
    expect(xff('[2001:db8::5]')).toBe('2001:db8::5');
  });

  it('ignores garbage the client sent to the left of its address', () => {
    expect(xff(`garbage, ${CLIENT}`)).toBe(CLIENT);
    expect(xff(`<script>, , ${CLIENT}`)).toBe(CLIENT);
  });

  it('never returns garbage, and never walks past it to an address the client may have made up', () => {
    expect(xff('unknown')).toBe(PROXY);
    expect(xff('6.6.6.6, unknown')).toBe(PROXY);
    expect(xff('6.6.6.6, unknown, 10.1.2.3')).toBe('10.1.2.3');
    expect(xff('6.6.6.6, 999.1.1.1')).toBe(PROXY);
    expect(xff('6.6.6.6, 1.2.3.4:99999')).toBe(PROXY);
    expect(xff('6.6.6.6, 1.2.3.4/24')).toBe(PROXY);
  });

  it('reads a header given as several values', () => {
    expect(xff(['6.6.6.6', `${CLIENT}, 10.1.2.3`])).toBe(CLIENT);
  });

  it('reads a single-address header such as X-Real-IP', () => {
    const realIP = clientIPResolver({ header: 'x-real-ip', trustedProxies: ['10.0.0.0/8'] });
    expect(realIP(req(PROXY, { 'x-real-ip': CLIENT, 'x-forwarded-for': '6.6.6.6' }))).toBe(CLIENT);
    expect(realIP(req(PROXY, { 'x-forwarded-for': CLIENT }))).toBe(PROXY);
  });
});

describe('whether the address is the client’s own (what per-address limits may act on)', () => {
  it('is, for a public peer with nothing in between', () => {
    const resolve = addressResolver({ trustedProxies: [] });
    expect(resolve(req(CLIENT))).toEqual({ ip: CLIENT, distinct: true });
    expect(resolve(req('2001:db8::7'))).toEqual({ ip: '2001:db8::7', distinct: true });
  });

  it('is not, for a private, loopback or CGNAT peer: a NodePort NAT, an ingress, a sidecar', () => {
    const warnings: string[] = [];
    const resolve = addressResolver({ trustedProxies: [] }, (ip) => warnings.push(ip));
    for (const peer of [
      '10.244.0.1',
      '172.20.0.5',
      '192.168.0.9',
      '100.64.1.1',
      '127.0.0.1',
      '::1',
      'fd00::1',
    ]) {
      expect(resolve(req(peer))).toEqual({ ip: peer, distinct: false });
    }
    // Said once, at the first such peer, when no proxy is configured.
    expect(warnings).toEqual(['10.244.0.1']);
  });

  it('is, when a trusted proxy names it, even a private address (an office behind a known ingress)', () => {
    const warnings: string[] = [];
    const resolve = addressResolver({ header: 'X-Forwarded-For', trustedProxies: ['10.0.0.0/8'] }, (ip) =>
      warnings.push(ip),
    );
    expect(resolve(req(PROXY, { 'x-forwarded-for': CLIENT }))).toEqual({ ip: CLIENT, distinct: true });
    expect(resolve(req(PROXY, { 'x-forwarded-for': '192.168.7.7' }))).toEqual({
      ip: '192.168.7.7',
      distinct: true,
    });
    // A proxy that names nobody, or only proxies: the proxy's own address, shared.
    expect(resolve(req(PROXY))).toEqual({ ip: PROXY, distinct: false });
    expect(resolve(req(PROXY, { 'x-forwarded-for': '10.5.5.5' }))).toEqual({
      ip: '10.5.5.5',
      distinct: false,
    });
    expect(warnings).toEqual([]);
  });
});
