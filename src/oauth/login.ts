import type { AuthRequest, Claims, Client, Session, Storage } from '../storage/storage.js';
import { isNotFound } from '../storage/errors.js';
import type { Clock } from '../util/clock.js';
import type { IdGenerator } from '../util/ids.js';
import type { Identity } from '../connectors/connector.js';
import { authorizationOf } from '../tokens/authorization.js';
import type { PendingAuthRequest } from './authorize.js';
import type { AuthCodes, CodeGrant } from './codes.js';
import { codeRedirect, errorRedirect } from './codes.js';
import { browserTag, verifyBrowserTag } from './browser-binding.js';
import { OOB_REDIRECT_URI } from './redirect-uri.js';
import { OAuthError } from './errors.js';
import type { BrowserSessions } from './sessions.js';
import { consentCovers } from './session-rules.js';

/**
 * An approval asked within a browser session: nothing is stored for it (the session holds the user); it
 * travels sealed to the browser, and answering it is one session write (BrowserSessions.answerApproval).
 */
export interface SessionApproval {
  id: string;
  sessionID: string;
  pending: PendingAuthRequest;
  /** Epoch ms after which the form is stale. */
  expiry: number;
}

/** Where the browser goes once a connector has authenticated the user. */
export type LoginOutcome =
  | { kind: 'approval'; authRequestID: string; tag: string }
  | { kind: 'session-approval'; approval: SessionApproval }
  | { kind: 'redirect'; location: string }
  | { kind: 'oob'; code: string };

export function claimsOf(identity: Identity): Claims {
  return {
    userID: identity.userID,
    username: identity.username,
    preferredUsername: identity.preferredUsername,
    email: identity.email,
    emailVerified: identity.emailVerified,
    groups: [...identity.groups],
  };
}

/**
 * The step after authentication: the first storage write of a login. With the approval screen an AuthRequest
 * is persisted (any replica can finish it); without it the code is issued at once.
 */
export class LoginCompletion {
  constructor(
    private readonly storage: Storage,
    private readonly codes: AuthCodes,
    private readonly opts: { issuer: string; skipApprovalScreen: boolean; authRequestLifetimeMs: number },
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    /** Browser sessions, when configured: logins then complete through completeInSession. */
    private readonly sessions?: BrowserSessions,
  ) {}

  /**
   * The step after authentication when the browser has a session (just signed in, or reused for SSO): the
   * code at once when the client needs no approval (approval skipped, or these scopes approved earlier in
   * the session), else an approval form that travels sealed. With prompt=none a needed approval is
   * `consent_required`, thrown for the caller to send to the client.
   */
  async completeInSession(
    pending: PendingAuthRequest,
    session: Session,
    client: Pick<Client, 'id' | 'backchannelLogoutURI'>,
  ): Promise<LoginOutcome> {
    if (!this.sessions) throw new TypeError('completeInSession without sessions');
    const approved =
      !pending.forceApproval &&
      (this.opts.skipApprovalScreen || consentCovers(session.consents, client.id, pending.scopes));
    if (approved) {
      await this.sessions.served(session, client);
      return this.issue(grantInSession(pending, session), pending.state);
    }
    if (pending.prompt.includes('none')) {
      throw new OAuthError('consent_required', 'The user must approve this application.');
    }
    return {
      kind: 'session-approval',
      approval: {
        id: this.ids.newID(),
        sessionID: session.id,
        pending,
        expiry: this.clock.now().getTime() + this.opts.authRequestLifetimeMs,
      },
    };
  }

  /** A sealed approval that is still fresh (the seal itself proves it is ours and this browser's). */
  isFresh(approval: SessionApproval): boolean {
    return approval.expiry > this.clock.now().getTime();
  }

  /**
   * The answer to a session approval: recorded in the session (the single-use step; a second answer gets
   * ApprovalAlreadyAnsweredError), then the code, or `access_denied` for the client.
   */
  async answerInSession(
    approval: SessionApproval,
    client: Pick<Client, 'id' | 'backchannelLogoutURI'>,
    approved: boolean,
  ): Promise<LoginOutcome> {
    if (!this.sessions) throw new TypeError('answerInSession without sessions');
    const { pending } = approval;
    const stamp = { id: approval.id, expiry: new Date(approval.expiry) };
    if (approved) {
      const session = await this.sessions.answerApproval(approval.sessionID, stamp, {
        approved: true,
        client,
        scopes: pending.scopes,
      });
      return this.issue(grantInSession(pending, session), pending.state);
    }
    await this.sessions.answerApproval(approval.sessionID, stamp, { approved: false });
    return this.declined(pending.redirectURI, pending.state);
  }

  async complete(
    pending: PendingAuthRequest,
    connectorID: string,
    identity: Identity,
    browserValue: string,
  ): Promise<LoginOutcome> {
    const now = this.clock.now();
    if (this.opts.skipApprovalScreen && !pending.forceApproval) {
      return this.issue(
        {
          clientID: pending.clientID,
          scopes: pending.scopes,
          claims: claimsOf(identity),
          connectorID,
          nonce: pending.nonce,
          authTime: now,
          ...(identity.connectorData ? { connectorData: identity.connectorData } : {}),
          redirectURI: pending.redirectURI,
          pkce: pending.pkce,
        },
        pending.state,
      );
    }
    const request: AuthRequest = {
      id: this.ids.newID(),
      clientID: pending.clientID,
      responseTypes: [pending.responseType],
      scopes: pending.scopes,
      redirectURI: pending.redirectURI,
      nonce: pending.nonce,
      state: pending.state,
      forceApprovalPrompt: pending.forceApproval,
      loggedIn: true,
      claims: claimsOf(identity),
      connectorID,
      ...(identity.connectorData ? { connectorData: identity.connectorData } : {}),
      expiry: new Date(now.getTime() + this.opts.authRequestLifetimeMs),
      pkce: pending.pkce,
      hmacKey: this.ids.newSecret(),
      authTime: now,
    };
    await this.storage.createAuthRequest(request);
    this.remember(request);
    return { kind: 'approval', authRequestID: request.id, tag: approvalTag(browserValue, request) };
  }

  /**
   * Loads a persisted login for the approval page, checking it belongs to this browser (the tag) and has not
   * expired. Undefined when it does not exist or is not this browser's.
   */
  async pendingApproval(
    id: string,
    browserValue: string | undefined,
    tag: unknown,
  ): Promise<AuthRequest | undefined> {
    if (typeof id !== 'string' || !/^[a-z][a-z2-7]{24}$/.test(id)) return undefined;
    let request = this.recent.get(id);
    if (!request) {
      try {
        request = await this.storage.getAuthRequest(id);
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    }
    if (!browserValue || !verifyBrowserTag(browserValue, approvalPurpose(request), tag)) return undefined;
    if (request.expiry.getTime() < this.clock.now().getTime()) return undefined;
    return request;
  }

  /**
   * The user approved: the code replaces the AuthRequest (one delete, one write). The delete comes first and
   * is the single-use step: storage lets exactly one of several concurrent deletes succeed, on any replica,
   * so an approval posted twice (two tabs, a double click, a replay on another replica) yields one code; the
   * others get LoginAlreadyFinishedError. Should storage fail between the delete and the code, the user
   * starts the login again: losing one login is better than two codes for it.
   */
  async approve(request: AuthRequest): Promise<LoginOutcome> {
    await this.take(request.id);
    return this.issue(
      { ...authorizationOf(request), redirectURI: request.redirectURI, pkce: request.pkce },
      request.state,
    );
  }

  /** The user declined: the client learns `access_denied` (its redirect URI was verified at /auth). */
  async reject(request: AuthRequest): Promise<LoginOutcome> {
    await this.take(request.id);
    return this.declined(request.redirectURI, request.state);
  }

  private declined(redirectURI: string, state: string): LoginOutcome {
    if (redirectURI === OOB_REDIRECT_URI) throw new OAuthError('access_denied', 'Approval rejected.');
    return {
      kind: 'redirect',
      location: errorRedirect(redirectURI, {
        error: 'access_denied',
        description: 'The user declined the request.',
        state,
        issuer: this.opts.issuer,
      }),
    };
  }

  private async issue(grant: CodeGrant, state: string): Promise<LoginOutcome> {
    const code = await this.codes.issue(grant);
    if (grant.redirectURI === OOB_REDIRECT_URI) return { kind: 'oob', code };
    return {
      kind: 'redirect',
      location: codeRedirect(grant.redirectURI, { code, state, issuer: this.opts.issuer }),
    };
  }

  /** Drops a pending login without an answer to the client (the device flow answers by polling). */
  async discard(request: AuthRequest): Promise<void> {
    await this.take(request.id);
  }

  /**
   * AuthRequests this replica wrote, kept until approved, declined or expired: the approval page and its
   * POST usually land on the replica that wrote the request, and then cost no storage read (the budget of a
   * whole login is two uncached reads). Another replica reads storage. The entity never changes after it is
   * written, so the copy cannot go stale; only its deletion matters, and that goes through this class.
   */
  private readonly recent = new Map<string, AuthRequest>();

  private remember(request: AuthRequest): void {
    const now = this.clock.now().getTime();
    if (this.recent.size >= RECENT_LIMIT) {
      for (const [id, r] of this.recent) if (r.expiry.getTime() < now) this.recent.delete(id);
      // Still full: drop the oldest (Map keeps insertion order).
      while (this.recent.size >= RECENT_LIMIT) this.recent.delete(this.recent.keys().next().value!);
    }
    this.recent.set(request.id, request);
  }

  /** Deletes the AuthRequest as the one step that finishes it; whoever finds it gone lost the race. */
  private async take(id: string): Promise<void> {
    this.recent.delete(id);
    try {
      await this.storage.deleteAuthRequest(id);
    } catch (e) {
      if (isNotFound(e)) throw new LoginAlreadyFinishedError(id);
      throw e;
    }
  }
}

/** What a code issued within a session stands for: the session's user, this request's client and scopes. */
function grantInSession(pending: PendingAuthRequest, session: Session): CodeGrant {
  return {
    clientID: pending.clientID,
    scopes: pending.scopes,
    claims: session.claims,
    connectorID: session.connectorID,
    nonce: pending.nonce,
    authTime: session.authTime,
    ...(session.connectorData ? { connectorData: session.connectorData } : {}),
    sessionID: session.id,
    redirectURI: pending.redirectURI,
    pkce: pending.pkce,
  };
}

/** The approval was already answered (approved or declined), here or on another replica. */
export class LoginAlreadyFinishedError extends Error {
  constructor(readonly authRequestID: string) {
    super(`auth request ${authRequestID} was already approved or declined`);
    this.name = 'LoginAlreadyFinishedError';
  }
}

/** Upper bound on remembered AuthRequests (each a few hundred bytes). */
const RECENT_LIMIT = 10_000;

function approvalPurpose(request: Pick<AuthRequest, 'id' | 'hmacKey'>): string {
  return `approval:${request.id}:${request.hmacKey}`;
}

/** The approval link's tag (and the approval form's CSRF token): only this browser can compute it. */
export function approvalTag(browserValue: string, request: Pick<AuthRequest, 'id' | 'hmacKey'>): string {
  return browserTag(browserValue, approvalPurpose(request));
}
