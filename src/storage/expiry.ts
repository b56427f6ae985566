import type { Session } from './storage.js';

// When garbage collection may remove a session: whichever of its two lifetimes ends first. Every back end
// indexes (SQLite's expiry column, Kubernetes' expires label) and collects sessions by this one instant, so
// an update that moves idleExpiry moves it too.
export function sessionExpiry(s: Pick<Session, 'absoluteExpiry' | 'idleExpiry'>): Date {
  return new Date(Math.min(s.absoluteExpiry.getTime(), s.idleExpiry.getTime()));
}
