import { decodeSubject, encodeSubject } from '../../src/tokens/subject.js';
import { decodeRefreshToken, encodeRefreshToken } from '../../src/tokens/refresh-token-wire.js';

describe('sub encoding (Dex test vectors, reference §3)', () => {
  it.each([
    ['2342749', 'github', 'CgcyMzQyNzQ5EgZnaXRodWI'],
    ['0-385-28089-0', 'mock', 'Cg0wLTM4NS0yODA4OS0wEgRtb2Nr'],
    [
      '08a8684b-db88-4b73-90a9-3cd1661f5466',
      'local',
      'CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs',
    ],
  ])('user %s on connector %s encodes to %s', (userID, connectorID, expected) => {
    expect(encodeSubject(userID, connectorID)).toBe(expected);
    expect(decodeSubject(expected)).toEqual({ userID, connectorID });
  });

  it('uses a two-byte length for long IDs', () => {
    const long = 'u'.repeat(300);
    const sub = encodeSubject(long, 'ldap');
    const bytes = Buffer.from(sub, 'base64url');
    expect([...bytes.subarray(0, 3)]).toEqual([0x0a, 0xac, 0x02]);
    expect(decodeSubject(sub)).toEqual({ userID: long, connectorID: 'ldap' });
  });

  it('omits empty fields like proto3', () => {
    expect(Buffer.from(encodeSubject('', 'local'), 'base64url')).toEqual(
      Buffer.from([0x12, 5, ...Buffer.from('local')]),
    );
  });

  it('rejects garbage', () => {
    for (const bad of ['!!', 'CgcyMzQ', 'GgcyMzQyNzQ5', '/+==']) expect(decodeSubject(bad)).toBeUndefined();
  });
});

describe('refresh token wire format', () => {
  it('round-trips id and secret', () => {
    const raw = encodeRefreshToken('abcdefghijklmnopqrstuvwxy', 'secretsecretsecretsecretq');
    expect(raw).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeRefreshToken(raw)).toEqual({
      refreshID: 'abcdefghijklmnopqrstuvwxy',
      secret: 'secretsecretsecretsecretq',
    });
  });

  it('matches the protobuf layout byte for byte', () => {
    expect([...Buffer.from(encodeRefreshToken('id', 'tok'), 'base64url')]).toEqual([
      0x0a, 2, 0x69, 0x64, 0x12, 3, 0x74, 0x6f, 0x6b,
    ]);
  });

  it('accepts a legacy bare ID without a secret', () => {
    expect(decodeRefreshToken('abcdefghijklmnopqrstuvwxy')).toEqual({
      refreshID: 'abcdefghijklmnopqrstuvwxy',
      secret: '',
    });
  });

  it('rejects empty, oversized, non-base64url and truncated tokens', () => {
    const ok = encodeRefreshToken('abcdefghijklmnopqrstuvwxy', 'secret');
    for (const bad of ['', 'a'.repeat(5000), 'abc def', ok.slice(0, 10), encodeRefreshToken('id', '')]) {
      expect(decodeRefreshToken(bad)).toBeUndefined();
    }
  });
});
