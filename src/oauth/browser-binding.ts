import { createHmac, randomBytes } from 'node:crypto';
import { constantTimeEqual } from './digest.js';

/**
 * Binds a login to the browser that started it. The browser holds a random value in an HttpOnly cookie;
 * everything the flow hands out — the sealed pending request, the approval link, every form's CSRF token —
 * is tied to a tag derived from that value, so a stolen link or a cross-site form post cannot be completed
 * from another browser. Nothing about it is stored server-side.
 */
export const BROWSER_COOKIE = 'latchkey_browser';

const VALUE = /^[A-Za-z0-9_-]{43}$/;

export function newBrowserValue(): string {
  return randomBytes(32).toString('base64url');
}

export function isBrowserValue(v: unknown): v is string {
  return typeof v === 'string' && VALUE.test(v);
}

/** A tag for one purpose (e.g. "seal", "password-form", "approval:<id>"). */
export function browserTag(browserValue: string, purpose: string): string {
  return createHmac('sha256', browserValue).update(purpose, 'utf8').digest('base64url');
}

export function verifyBrowserTag(
  browserValue: string | undefined,
  purpose: string,
  presented: unknown,
): boolean {
  if (!isBrowserValue(browserValue) || typeof presented !== 'string' || presented.length > 100) return false;
  return constantTimeEqual(browserTag(browserValue, purpose), presented);
}
