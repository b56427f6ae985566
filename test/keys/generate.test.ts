import { base64url, calculateJwkThumbprint, type JWK } from 'jose';
import { generateSealingKey, generateSigningKey } from '../../src/keys/generate.js';
import { H, T0 } from './helpers.js';

const later = new Date(T0.getTime() + 6 * H);

describe('generateSigningKey', () => {
  test('RS256: RSA 2048, kid = RFC 7638 thumbprint, use sig, alg set', async () => {
    const k = await generateSigningKey('RS256', later, T0);
    const pub = k.publicJwk as JWK;
    expect(k.alg).toBe('RS256');
    expect(pub.kty).toBe('RSA');
    expect(pub.e).toBe('AQAB');
    expect(base64url.decode(pub.n!).length).toBe(256);
    expect(Object.keys(pub).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    expect(pub).toMatchObject({ alg: 'RS256', use: 'sig', kid: k.kid });
    expect(k.kid).toBe(await calculateJwkThumbprint({ kty: 'RSA', n: pub.n!, e: pub.e! }, 'sha256'));
    expect(k.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(k.privateJwk).toMatchObject({ kty: 'RSA', n: pub.n, e: pub.e, kid: k.kid, alg: 'RS256' });
    expect(typeof k.privateJwk.d).toBe('string');
    expect(k.createdAt).toEqual(T0);
    expect(k.activeFrom).toEqual(later);
    expect(k.retiredAt).toBeUndefined();
    expect(k.publishUntil).toBeUndefined();
  });

  test('ES256: P-256', async () => {
    const k = await generateSigningKey('ES256', T0, T0);
    const pub = k.publicJwk as JWK;
    expect(Object.keys(pub).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(pub).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(k.kid).toBe(
      await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: pub.x!, y: pub.y! }, 'sha256'),
    );
  });

  test('fresh keys differ; unknown algorithms are refused', async () => {
    const [a, b] = await Promise.all([
      generateSigningKey('ES256', T0, T0),
      generateSigningKey('ES256', T0, T0),
    ]);
    expect(a.kid).not.toBe(b.kid);
    await expect(generateSigningKey('HS256' as 'RS256', T0, T0)).rejects.toThrow(/unsupported/);
  });
});

describe('generateSealingKey', () => {
  test('A256GCM, 32 random bytes, random kid, nothing public', async () => {
    const [a, b] = await Promise.all([generateSealingKey(later, T0), generateSealingKey(later, T0)]);
    expect(a.alg).toBe('A256GCM');
    expect(a.publicJwk).toBeUndefined();
    expect(a.privateJwk).toMatchObject({ kty: 'oct', alg: 'A256GCM', kid: a.kid });
    expect(base64url.decode(a.privateJwk.k as string).length).toBe(32);
    expect(a.kid).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a.kid).not.toBe(b.kid);
    expect(a.privateJwk.k).not.toBe(b.privateJwk.k);
    // The kid is not derived from the secret.
    expect(a.kid).not.toBe(
      await calculateJwkThumbprint({ kty: 'oct', k: a.privateJwk.k as string }, 'sha256'),
    );
    expect(a.activeFrom).toEqual(later);
    expect(a.createdAt).toEqual(T0);
  });
});
