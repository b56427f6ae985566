import type { Claims, Client, Session, Storage } from '../storage/storage.js';
import { isNotFound } from '../storage/errors.js';
import type { Clock } from '../util/clock.js';
import type { IdGenerator } from '../util/ids.js';
import {
  idleTouch,
  isSessionAlive,
  withAnsweredApproval,
  type SessionLifetimes,
  type SsoDefault,
} from './session-rules.js';

// Browser sessions in storage (issue 15). A session is written when a connector authenticates the user and
// otherwise only when something about it must change: the answer to an approval (which is also that
// approval's single-use step), a client that must hear about logout, or an idle clock gone stale. A login
// served from a session therefore costs no session write at all, which keeps an SSO login within the
// budget of a login without one.

export interface SessionPolicy extends SessionLifetimes {
  ssoSharedWithDefault: SsoDefault;
}

/** What a connector login tells the session about the user. */
export interface SignIn {
  claims: Claims;
  connectorID: string;
  connectorData?: Uint8Array;
  /** RFC 8176 method references, e.g. ["pwd"] for a password form, [] when the upstream did it. */
  amr: string[];
  ipAddress?: string;
  userAgent?: string;
}

export class BrowserSessions {
  constructor(
    private readonly storage: Storage,
    readonly policy: SessionPolicy,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
  ) {}

  /** The live session with this ID; undefined when it ended, expired or never existed. */
  async find(id: string): Promise<Session | undefined> {
    let session: Session;
    try {
      session = await this.storage.getSession(id);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    return isSessionAlive(session, this.clock.now()) ? session : undefined;
  }

  async isAlive(id: string): Promise<boolean> {
    return (await this.find(id)) !== undefined;
  }

  /**
   * A connector authenticated the user in a browser that held `previous` (or none). The same user through
   * the same connector renews that session — one write, and its `sid` stays what relying parties know —;
   * anyone else gets a new session, and the previous one is returned to be ended: one browser, one user.
   */
  async signIn(
    previous: Session | undefined,
    login: SignIn,
  ): Promise<{ session: Session; replaced?: Session }> {
    const now = this.clock.now();
    const sameUser =
      previous !== undefined &&
      previous.connectorID === login.connectorID &&
      previous.claims.userID === login.claims.userID;
    if (sameUser) {
      try {
        const session = await this.storage.updateSession(previous.id, (s) => ({
          ...s,
          claims: login.claims,
          ...(login.connectorData ? { connectorData: login.connectorData } : {}),
          authTime: now,
          amr: login.amr,
          lastActivity: now,
          idleExpiry: this.idleExpiryFrom(now, s.absoluteExpiry),
        }));
        if (isSessionAlive(session, now)) return { session };
      } catch (e) {
        // Ended meanwhile (logout in another tab, an admin): start afresh.
        if (!isNotFound(e)) throw e;
      }
    }
    const absoluteExpiry = new Date(now.getTime() + this.policy.absoluteLifetimeMs);
    const session: Session = {
      id: this.ids.newID(),
      claims: login.claims,
      connectorID: login.connectorID,
      ...(login.connectorData ? { connectorData: login.connectorData } : {}),
      authTime: now,
      amr: login.amr,
      createdAt: now,
      lastActivity: now,
      absoluteExpiry,
      idleExpiry: this.idleExpiryFrom(now, absoluteExpiry),
      clients: {},
      consents: {},
      answeredApprovals: {},
      ...(login.ipAddress ? { ipAddress: login.ipAddress } : {}),
      ...(login.userAgent ? { userAgent: login.userAgent.slice(0, 256) } : {}),
    };
    await this.storage.createSession(session);
    return { session, ...(previous && !sameUser ? { replaced: previous } : {}) };
  }

  /**
   * A login to `client` is being served from the session: records the client when logout must reach it
   * and moves a stale idle clock — in one write, and none when neither is needed.
   */
  async served(session: Session, client: Pick<Client, 'id' | 'backchannelLogoutURI'>): Promise<Session> {
    const now = this.clock.now();
    const mustRecord = (s: Session) => Boolean(client.backchannelLogoutURI) && !s.clients[client.id];
    if (!mustRecord(session) && !idleTouch(session, now, this.policy.idleLifetimeMs)) return session;
    return this.storage.updateSession(session.id, (s) => {
      const touch = idleTouch(s, now, this.policy.idleLifetimeMs);
      const record = mustRecord(s);
      if (!touch && !record) return s;
      return {
        ...s,
        ...(touch ?? {}),
        ...(record ? { clients: { ...s.clients, [client.id]: { since: now } } } : {}),
      };
    });
  }

  /**
   * Records the answer to an approval form in one write, which is also the form's single-use step: of
   * several concurrent answers (two tabs, a double click, a replay on another replica) exactly one succeeds,
   * the others get ApprovalAlreadyAnsweredError. An approval records the consent and, when logout must
   * reach the client, the client.
   */
  async answerApproval(
    sessionID: string,
    approval: { id: string; expiry: Date },
    answer:
      | { approved: true; client: Pick<Client, 'id' | 'backchannelLogoutURI'>; scopes: string[] }
      | { approved: false },
  ): Promise<Session> {
    const now = this.clock.now();
    try {
      return await this.storage.updateSession(sessionID, (s) => {
        if (s.answeredApprovals[approval.id]) throw new ApprovalAlreadyAnsweredError(approval.id);
        const next: Session = {
          ...s,
          answeredApprovals: withAnsweredApproval(s.answeredApprovals, approval.id, approval.expiry, now),
          ...(idleTouch(s, now, this.policy.idleLifetimeMs) ?? {}),
        };
        if (!answer.approved) return next;
        const { client, scopes } = answer;
        const before = s.consents[client.id] ?? [];
        next.consents = { ...s.consents, [client.id]: [...new Set([...before, ...scopes])].sort() };
        if (client.backchannelLogoutURI && !s.clients[client.id]) {
          next.clients = { ...s.clients, [client.id]: { since: now } };
        }
        return next;
      });
    } catch (e) {
      if (isNotFound(e)) throw new SessionEndedError(sessionID);
      throw e;
    }
  }

  /** Ends the session everywhere; returns what it was (for logout notices), undefined when already gone. */
  async end(id: string): Promise<Session | undefined> {
    let session: Session;
    try {
      session = await this.storage.getSession(id);
      await this.storage.deleteSession(id);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    return session;
  }

  private idleExpiryFrom(now: Date, absoluteExpiry: Date): Date {
    return new Date(Math.min(now.getTime() + this.policy.idleLifetimeMs, absoluteExpiry.getTime()));
  }
}

/** The approval form was answered already (here or on another replica): the first answer stands. */
export class ApprovalAlreadyAnsweredError extends Error {
  constructor(readonly approvalID: string) {
    super(`approval ${approvalID} was already answered`);
    this.name = 'ApprovalAlreadyAnsweredError';
  }
}

/** The session a step relied on has ended (logout, an admin, expiry) since the step began. */
export class SessionEndedError extends Error {
  constructor(readonly sessionID: string) {
    super(`session ${sessionID} has ended`);
    this.name = 'SessionEndedError';
  }
}
