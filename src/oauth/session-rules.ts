import type { Client, Session } from '../storage/storage.js';

// The rules of browser sessions as pure functions of the session, the request and the time: whether a
// session is alive, whether a login may be served from it (SSO), whether its client must be asked again,
// when its idle clock is worth a write. oauth/sessions.ts does the storage I/O around them.

export interface SessionLifetimes {
  absoluteLifetimeMs: number;
  idleLifetimeMs: number;
}

/** Clients that may reuse a session a client started when the client itself says nothing. */
export type SsoDefault = 'none' | 'all';

/** Alive at `now`: neither its absolute nor its idle expiry has passed. */
export function isSessionAlive(s: Pick<Session, 'absoluteExpiry' | 'idleExpiry'>, now: Date): boolean {
  const t = now.getTime();
  return t < s.absoluteExpiry.getTime() && t < s.idleExpiry.getTime();
}

/**
 * The idle expiry after a use at `now`: never past the absolute expiry. The clock only moves when the
 * stored value is stale by a tenth of the idle lifetime (6 minutes of the default hour), so a burst of SSO
 * logins costs no writes for it; the price is that a session may end up to that much early.
 */
export function idleTouch(
  s: Pick<Session, 'lastActivity' | 'absoluteExpiry' | 'idleExpiry'>,
  now: Date,
  idleLifetimeMs: number,
): { lastActivity: Date; idleExpiry: Date } | undefined {
  if (now.getTime() - s.lastActivity.getTime() < idleLifetimeMs / 10) return undefined;
  const idle = Math.min(now.getTime() + idleLifetimeMs, s.absoluteExpiry.getTime());
  return { lastActivity: now, idleExpiry: new Date(idle) };
}

/**
 * Whether a session started by the clients in `origins` may sign the user in to `client` without the
 * connector (Dex main's `ssoSharedWith`): a client always reuses its own sessions; another client's only
 * when that client shares with it — by ID or `*` — or, saying nothing, when the default is `all`.
 */
export function sessionSharedWith(
  origins: readonly Pick<Client, 'id' | 'ssoSharedWith'>[],
  clientID: string,
  byDefault: SsoDefault,
): boolean {
  return origins.some((origin) => {
    if (origin.id === clientID) return true;
    const shared = origin.ssoSharedWith;
    if (shared === undefined) return byDefault === 'all';
    return shared.includes('*') || shared.includes(clientID);
  });
}

/** Why a login could not be served from the browser's session: the connector step is needed. */
export type ReauthenticationReason =
  /** No cookie, or one that names no live session. */
  | 'no_session'
  /** prompt=login or prompt=select_account. */
  | 'prompt'
  /** max_age has passed since the user last authenticated. */
  | 'max_age'
  /** id_token_hint names another user. */
  | 'hint_mismatch'
  /** The session was started by clients that do not share it with this one. */
  | 'not_shared'
  /** The session's connector is not one this login may use (allowedConnectors, connector_id). */
  | 'connector';

export interface ReuseQuestion {
  prompt: readonly string[];
  /** Seconds (max_age). */
  maxAge?: number;
  /** The `sub` of a valid id_token_hint, when one was sent. */
  hintSubject?: string;
  /** The session's user as a `sub` (the same encoding the hint's `sub` has). */
  sessionSubject: string;
  /** Whether this login may use the session's connector (client and grant policy, connector_id). */
  connectorUsable: boolean;
  shared: boolean;
  authTime: Date;
  now: Date;
}

/** Undefined when the login may be served from the session; otherwise why it may not. */
export function reauthenticationReason(q: ReuseQuestion): ReauthenticationReason | undefined {
  if (q.prompt.includes('login') || q.prompt.includes('select_account')) return 'prompt';
  if (q.hintSubject !== undefined && q.hintSubject !== q.sessionSubject) return 'hint_mismatch';
  if (!q.shared) return 'not_shared';
  if (!q.connectorUsable) return 'connector';
  if (q.maxAge !== undefined && q.now.getTime() - q.authTime.getTime() > q.maxAge * 1000) return 'max_age';
  return undefined;
}

/** Whether the user approved these scopes for this client earlier in the session. */
export function consentCovers(
  consents: Session['consents'],
  clientID: string,
  scopes: readonly string[],
): boolean {
  const granted = consents[clientID];
  return granted !== undefined && scopes.every((s) => granted.includes(s));
}

/** Answered approvals kept in a session at most (each lives as long as an auth request). */
export const MAX_ANSWERED_APPROVALS = 64;

/** The answered-approval map with `id` added and entries expired at `now` dropped (bounded). */
export function withAnsweredApproval(
  answered: Session['answeredApprovals'],
  id: string,
  expiry: Date,
  now: Date,
): Session['answeredApprovals'] {
  const kept = Object.entries(answered)
    .filter(([, until]) => until.getTime() > now.getTime())
    .sort(([, a], [, b]) => b.getTime() - a.getTime())
    .slice(0, MAX_ANSWERED_APPROVALS - 1);
  return { ...Object.fromEntries(kept), [id]: expiry };
}
