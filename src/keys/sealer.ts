// Sealing pending authorization requests into the browser: a compact JWE (`dir` + A256GCM) under the active
// sealing key, `kid` in the protected header, plus `iat`/`exp` (seconds) so a sealed value expires on its own.
//
// Binding to a browser: the optional `aad` (e.g. a cookie value) is fed to AES-GCM as JWE Additional
// Authenticated Data (RFC 7516 §5.1 step 14, as in the JSON serialization), so nothing about it appears in
// the output and a value unseals only with the same `aad`. The output keeps the compact five-part shape;
// without `aad` it is a standard compact JWE, with one it needs the `aad` to be decrypted at all. An empty
// `aad` is refused when sealing (JWE cannot tell it from none) and never unseals anything.

import {
  base64url,
  decodeProtectedHeader,
  FlattenedEncrypt,
  flattenedDecrypt,
  importJWK,
  type JWK,
} from 'jose';
import { webcrypto } from 'node:crypto';
import type { StoredKey } from '../storage/storage.js';
import type { Clock } from '../util/clock.js';
import { SEALING_ENC } from './generate.js';
import type { KeyManager } from './manager.js';
import { activeKey, publishedKeys } from './rotation.js';

export type UnsealErrorCode =
  /** Not a sealed value of ours (shape, header, algorithms, or undecodable content). */
  | 'malformed'
  /** Sealed under a key this set does not hold (any more: past its retention), or never did. */
  | 'unknown_key'
  /** Authentication failed: tampered, or a different `aad` (another browser). */
  | 'invalid'
  /** Authentic, but older than the maximum age. */
  | 'expired';

export class UnsealError extends Error {
  constructor(
    readonly code: UnsealErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UnsealError';
  }
}

export const isUnsealError = (e: unknown): e is UnsealError => e instanceof UnsealError;

export interface SealerOptions {
  clock?: Clock;
  /** How long a sealed value stays valid; default the key set's retention (expiry.authRequests). */
  maxAgeMs?: number;
}

type AesKey = webcrypto.CryptoKey;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export class Sealer {
  private readonly clock: Clock;
  private readonly maxAgeMs: number;
  private readonly imported = new Map<string, Promise<AesKey>>();

  constructor(
    private readonly keys: KeyManager,
    opts: SealerOptions = {},
  ) {
    if (keys.kind !== 'sealing') throw new TypeError('Sealer needs a sealing KeyManager');
    this.clock = opts.clock ?? keys.clock;
    this.maxAgeMs = opts.maxAgeMs ?? keys.retentionMs;
  }

  /** `aad`, when given, must be non-empty (JWE treats empty AAD as none, which would bind nothing). */
  async seal(payload: object, aad?: string): Promise<string> {
    if (aad === '') throw new TypeError('seal: aad must be a non-empty string when given');
    const ks = await this.keys.current();
    const now = this.clock.now();
    const key = activeKey(ks, now);
    if (key === undefined) throw new Error(`no active key in key set ${ks.name}`);
    const cek = await this.importKey(key);
    const iat = Math.floor(now.getTime() / 1000);
    const enc = new FlattenedEncrypt(encoder.encode(JSON.stringify(payload))).setProtectedHeader({
      alg: 'dir',
      enc: SEALING_ENC,
      kid: key.kid,
      iat,
      exp: Math.floor((now.getTime() + this.maxAgeMs) / 1000),
    });
    if (aad !== undefined) enc.setAdditionalAuthenticatedData(encoder.encode(aad));
    const jwe = await enc.encrypt(cek);
    return [jwe.protected, jwe.encrypted_key ?? '', jwe.iv, jwe.ciphertext, jwe.tag].join('.');
  }

  /** Throws UnsealError for anything but an authentic, unexpired value sealed with `aad` under a kept key. */
  async unseal<T>(jwe: string, aad?: string): Promise<T> {
    const parts = typeof jwe === 'string' ? jwe.split('.') : [];
    if (parts.length !== 5 || parts[1] !== '') throw new UnsealError('malformed', 'not a sealed value');
    const [prot, , iv, ciphertext, tag] = parts as [string, string, string, string, string];
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(jwe) as Record<string, unknown>;
    } catch (cause) {
      throw new UnsealError('malformed', 'sealed value has no readable header', { cause });
    }
    if (header.alg !== 'dir' || header.enc !== SEALING_ENC || typeof header.kid !== 'string') {
      throw new UnsealError('malformed', 'sealed value has an unexpected header');
    }
    const ks = await this.keys.current();
    const now = this.clock.now();
    const key = publishedKeys(ks, now).find((k) => k.kid === header.kid);
    if (key === undefined) throw new UnsealError('unknown_key', 'sealed under an unknown or expired key');

    let plaintext: Uint8Array;
    try {
      const result = await flattenedDecrypt(
        {
          protected: prot,
          iv,
          ciphertext,
          tag,
          ...(aad !== undefined ? { aad: base64url.encode(aad) } : {}),
        },
        await this.importKey(key),
        { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: [SEALING_ENC] },
      );
      plaintext = result.plaintext;
    } catch (cause) {
      throw new UnsealError('invalid', 'sealed value failed authentication', { cause });
    }
    // The header is authenticated now.
    if (typeof header.exp !== 'number' || now.getTime() >= header.exp * 1000) {
      throw new UnsealError('expired', 'sealed value has expired');
    }
    try {
      return JSON.parse(decoder.decode(plaintext)) as T;
    } catch (cause) {
      throw new UnsealError('malformed', 'sealed content is not JSON', { cause });
    }
  }

  private importKey(key: StoredKey): Promise<AesKey> {
    let p = this.imported.get(key.kid);
    if (p === undefined) {
      p = (async () => {
        const raw = await importJWK(key.privateJwk as JWK, SEALING_ENC);
        if (!(raw instanceof Uint8Array) || raw.length !== 32)
          throw new TypeError(`key ${key.kid} is not an A256GCM key`);
        return webcrypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
      })();
      this.imported.set(key.kid, p);
      p.catch(() => this.imported.delete(key.kid));
      if (this.imported.size > 8) {
        // Forget keys no longer held (cheap: the set is tiny).
        const ks = this.keys.cachedKeySet();
        if (ks)
          for (const kid of this.imported.keys())
            if (!ks.keys.some((k) => k.kid === kid)) this.imported.delete(kid);
      }
    }
    return p;
  }
}
