import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * SHA-256 digest, base64url: how codes and refresh secrets are stored, so a reader of storage holds no live
 * credential.
 */
export function digest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/**
 * Constant-time string equality. Both sides are hashed first so neither the content nor the length of the
 * expected value leaks through timing.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}
