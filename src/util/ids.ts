import { randomBytes } from 'node:crypto';

// Dex's ID scheme (reference §5): random bytes, lower-case base32 without padding, first char a letter.
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

export interface IdGenerator {
  /** 25 characters, [a-z2-7], starting with a letter (Dex's NewID). */
  newID(): string;
  /** 51 characters from 32 random bytes: device codes and other long secrets. */
  newSecret(): string;
}

export const randomIds: IdGenerator = {
  newID: () => newBase32ID(16),
  newSecret: () => newBase32ID(32),
};

function newBase32ID(size: number): string {
  const bytes = randomBytes(size);
  // Like Dex: a letter first (so an ID never starts with a digit and is a valid name in more places),
  // then the remaining bytes in base32.
  return String.fromCharCode(97 + (bytes[0]! % 26)) + base32(bytes.subarray(1));
}

/**
 * Whether a presented value can be one of our IDs or secrets at all: a credential of the wrong shape is
 * refused before it costs a storage read (on Kubernetes, an API call).
 */
export const isID = (s: string): boolean => /^[a-z][a-z2-7]{24}$/.test(s);
export const isSecret = (s: string): boolean => /^[a-z][a-z2-7]{50}$/.test(s);
