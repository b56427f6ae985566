import { createHash, randomBytes } from 'node:crypto';
import type { Connector as ConnectorEntity } from '../../storage/storage.js';
import type { Clock } from '../../util/clock.js';
import type { ConfigSection } from '../config-keys.js';
import {
  ConnectorError,
  RefreshDeniedError,
  type CallbackConnector,
  type CallbackLogin,
  type ConnectorScopes,
  type Identity,
  type RefreshConnector,
} from '../connector.js';
import type { ConnectorLogger, ResolvedConnectorDeps } from '../deps.js';
import {
  GitHubClient,
  GitHubOAuthError,
  GitHubShapeError,
  GitHubStatusError,
  type GitHubTeam,
  type GitHubToken,
} from './api.js';
import { matchesEmailDomain, parseGitHubConfig, type GitHubConfig } from './config.js';

// `type: github` (reference §6): the OAuth web flow against github.com or a GitHub Enterprise host, then the
// user, their email and (when orgs are configured or groups are asked for) their organizations and teams
// from the REST API. Where Latchkey differs from Dex, it says why below: PKCE on the web flow, the org name
// emitted as a group next to `org:team`, the legacy `org` key enforced as its documentation promises, and a
// refresh that ends the login when GitHub no longer vouches for the user.

/** GitHub's OAuth scopes: addresses (the public one is in /user anyway), and org and team memberships. */
const SCOPE_EMAIL = 'user:email';
const SCOPE_ORGS = 'read:org';
/** Renew an expiring GitHub token this long before it lapses, so a refresh never races its expiry. */
const EXPIRY_MARGIN_MS = 60_000;

const UNAVAILABLE = 'GitHub could not be reached or answered unexpectedly; please try again later.';
const RATE_LIMITED = 'GitHub is limiting requests at the moment; please try again in a few minutes.';
const MISCONFIGURED = 'This login method is misconfigured; please contact your administrator.';
const NOT_MEMBER = 'Your GitHub account is not a member of the organizations or teams this login requires.';
const NO_EMAIL = 'Your GitHub account has no verified email address; add or verify one on GitHub and retry.';
const CODE_REFUSED = 'GitHub did not accept the sign-in (it may have taken too long); please try again.';

/** Opens a `type: github` connector; reads the rootCA file but contacts nobody. */
export function openGitHubConnector(
  entity: ConnectorEntity,
  config: ConfigSection,
  deps: ResolvedConnectorDeps,
): GitHubConnector {
  const { config: parsed, warnings } = parseGitHubConfig(config);
  for (const warning of warnings) deps.logger.warn({ connector: entity.id }, warning);
  return new GitHubConnector(parsed, {
    id: entity.id,
    logger: deps.logger,
    clock: deps.clock,
    client: new GitHubClient(
      deps.http(parsed.rootCAs !== undefined ? { rootCAs: parsed.rootCAs } : {}),
      parsed,
      parsed,
    ),
  });
}

/** The user is in none of the required organizations or teams. */
class NotAMemberError extends Error {
  constructor(login?: string) {
    super(`github: user ${login ?? '(unknown)'} is not in the required organizations or teams`);
    this.name = 'NotAMemberError';
  }
}

/** The user has no address Latchkey may claim as verified. */
class NoVerifiedEmailError extends Error {
  constructor() {
    super('github: the user has no verified primary email (nor a verified one in preferredEmailDomain)');
    this.name = 'NoVerifiedEmailError';
  }
}

/**
 * What travels in the refresh token for a later refresh: the GitHub token of this login. Dex's field names
 * (`accessToken`, and at Dex HEAD `refreshToken`/`expiry` for GitHub Apps' expiring tokens), so a refresh
 * token minted by either side stays readable by the other.
 */
interface StoredToken {
  accessToken: string;
  refreshToken?: string;
  expiry?: Date;
}

export class GitHubConnector implements CallbackConnector, RefreshConnector {
  readonly kind = 'callback' as const;
  private readonly client: GitHubClient;
  private readonly logger: ConnectorLogger;
  private readonly clock: Clock;
  private readonly id: string;

  constructor(
    private readonly config: GitHubConfig,
    deps: { id: string; client: GitHubClient; logger: ConnectorLogger; clock: Clock },
  ) {
    this.client = deps.client;
    this.logger = deps.logger;
    this.clock = deps.clock;
    this.id = deps.id;
  }

  async beginLogin(scopes: ConnectorScopes, callbackURL: string, loginHint?: string): Promise<CallbackLogin> {
    const redirectURI = this.redirectURI(callbackURL);
    // PKCE (S256) although the client secret already binds the code to us: a code intercepted on its way
    // back (a proxy log, a browser extension) is useless without the verifier, which never leaves the
    // sealed login state. GitHub honours it; a server that ignores it still works.
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const params = {
      client_id: this.config.clientID,
      redirect_uri: redirectURI,
      scope: this.upstreamScopes(scopes).join(' '),
      code_challenge: challenge,
      code_challenge_method: 'S256',
      // GitHub's own hint parameter: it suggests the account to sign in with.
      ...(loginHint ? { login: loginHint } : {}),
    };
    return {
      url: (state) => this.client.authorizeURL({ ...params, state }),
      connectorState: verifier,
    };
  }

  async handleCallback(
    scopes: ConnectorScopes,
    callbackURL: string,
    params: URLSearchParams,
    connectorState: string | undefined,
  ): Promise<Identity> {
    const code = params.get('code');
    if (!code) {
      throw new ConnectorError(
        'github: the callback carries no code',
        'GitHub did not complete the sign-in; please try again.',
      );
    }
    if (!connectorState) {
      throw new ConnectorError('github: no PKCE verifier in the login state', CODE_REFUSED);
    }
    let token: GitHubToken;
    try {
      token = await this.client.exchangeCode(code, this.redirectURI(callbackURL), connectorState);
    } catch (e) {
      throw this.loginFailure(e);
    }
    let identity: Identity;
    try {
      identity = await this.identity(token.accessToken, scopes);
    } catch (e) {
      throw this.loginFailure(e);
    }
    if (scopes.offlineAccess) identity.connectorData = encodeToken(this.stored(token));
    return identity;
  }

  async refresh(scopes: ConnectorScopes, current: Identity): Promise<Identity> {
    let token = decodeToken(current.connectorData);
    try {
      const expiry = token.expiry?.getTime();
      if (
        token.refreshToken &&
        expiry !== undefined &&
        expiry - EXPIRY_MARGIN_MS <= this.clock.now().getTime()
      ) {
        const renewed = await this.client.refresh(token.refreshToken);
        // GitHub rotates the refresh token with every use; keep the old one only if none came back. Should
        // GitHub fail between this renewal and the end of the refresh, the rotated token is lost with the
        // failed refresh and the next one is denied (bad_refresh_token): one more login, nothing worse.
        token = this.stored({ refreshToken: token.refreshToken, ...renewed });
      }
      const identity = await this.identity(token.accessToken, scopes);
      if (identity.userID !== current.userID) {
        // Only possible with useLoginAsID after a rename: the old login may now be someone else's.
        throw new RefreshDeniedError(
          `github: user ID ${JSON.stringify(current.userID)} is now ${JSON.stringify(identity.userID)} (login renamed); log in again`,
        );
      }
      identity.connectorData = encodeToken(token);
      return identity;
    } catch (e) {
      throw this.refreshFailure(e);
    }
  }

  /** The redirect URI sent to GitHub: the configured one, which must be Latchkey's own callback. */
  private redirectURI(callbackURL: string): string {
    const configured = this.config.redirectURI;
    if (configured === undefined) return callbackURL;
    if (configured !== callbackURL) {
      // GitHub would send the browser to the configured URL, which is not where this Latchkey listens.
      this.logger.error(
        { connector: this.id, redirectURI: configured, callbackURL },
        "github: redirectURI is not this issuer's callback URL",
      );
      throw new ConnectorError(
        `github: redirectURI ${JSON.stringify(configured)} is not the callback URL ${JSON.stringify(callbackURL)}`,
        MISCONFIGURED,
      );
    }
    return configured;
  }

  /** Dex's rule: read:org whenever memberships are checked or groups were asked for. */
  private upstreamScopes(scopes: ConnectorScopes): string[] {
    return this.config.membership.kind !== 'open' || scopes.groups
      ? [SCOPE_EMAIL, SCOPE_ORGS]
      : [SCOPE_EMAIL];
  }

  /** Reads the user and, in parallel, their memberships; throws NotAMemberError when they do not qualify. */
  private async identity(accessToken: string, scopes: ConnectorScopes): Promise<Identity> {
    const [user, groups] = await Promise.allSettled([
      this.client.user(accessToken).then(async (u) => ({
        ...u,
        email: u.email ?? (await this.verifiedEmail(accessToken)),
      })),
      this.groups(accessToken, scopes),
    ]);
    if (user.status === 'rejected') throw user.reason;
    const { login } = user.value;
    if (groups.status === 'rejected') {
      throw groups.reason instanceof NotAMemberError ? new NotAMemberError(login) : groups.reason;
    }
    return {
      userID: this.config.useLoginAsID ? login : String(user.value.id),
      username: user.value.name ?? login,
      preferredUsername: login,
      email: user.value.email,
      // A public email is one of the user's verified addresses (GitHub allows no other); the others are
      // checked in verifiedEmail.
      emailVerified: true,
      groups: groups.value,
    };
  }

  /**
   * For a user without a public email: the first verified address in preferredEmailDomain, else the
   * verified primary one. (Dex keeps a public email even when another matches the preferred domain; so do
   * we, so email claims do not change in a switch.) Unlike Dex, a preferred-domain address must be
   * verified too: the ID token says email_verified.
   */
  private async verifiedEmail(accessToken: string): Promise<string> {
    const emails = await this.client.emails(accessToken);
    // Dex's rule for GitHub Enterprise, which has no email verification: every address counts as verified.
    const verified = emails.filter((e) => e.verified || this.config.hostName !== undefined);
    const domain = this.config.preferredEmailDomain;
    const preferred =
      domain === undefined ? undefined : verified.find((e) => matchesEmailDomain(domain, e.email));
    const chosen = preferred ?? verified.find((e) => e.primary);
    if (chosen === undefined) throw new NoVerifiedEmailError();
    return chosen.email;
  }

  private async groups(accessToken: string, scopes: ConnectorScopes): Promise<string[]> {
    const membership = this.config.membership;
    if (membership.kind === 'open' && !(scopes.groups && this.config.loadAllGroups)) return [];
    const [orgs, teams] = await Promise.all([this.client.orgs(accessToken), this.client.teams(accessToken)]);
    const memberOf = new Set(orgs.map((o) => o.toLowerCase()));
    const teamsOf = (org: string) =>
      teams.filter((t) => sameOrg(t.org, org)).flatMap((t) => this.teamNames(t));

    switch (membership.kind) {
      case 'orgs': {
        const groups: string[] = [];
        for (const rule of membership.orgs) {
          if (!memberOf.has(rule.name.toLowerCase())) continue;
          let names = teamsOf(rule.name);
          if (rule.teams.length > 0) {
            const wanted = new Set(rule.teams.map((t) => t.toLowerCase()));
            names = names.filter((n) => wanted.has(n.toLowerCase()));
            if (names.length === 0) continue;
          }
          // Dex emits only `org:team` here. The org itself is added (for orgs the user qualifies through)
          // so that RBAC can bind a whole organization, as the issue for this connector asks; an org whose
          // listed teams the user is not in grants nothing, not even its name.
          groups.push(rule.name, ...names.map((n) => `${rule.name}:${n}`));
        }
        if (groups.length === 0) throw new NotAMemberError();
        return unique(groups);
      }
      case 'org':
        // Dex reads the teams of the legacy `org` without checking membership, though its documentation
        // says members only; Latchkey enforces what the documentation promises.
        if (!memberOf.has(membership.org.toLowerCase())) throw new NotAMemberError();
        return unique(teamsOf(membership.org));
      case 'open':
        return unique(orgs.flatMap((org) => [org, ...teamsOf(org).map((n) => `${org}:${n}`)]));
    }
  }

  private teamNames(team: GitHubTeam): string[] {
    switch (this.config.teamNameField) {
      case 'name':
        return [team.name];
      case 'slug':
        return [team.slug];
      case 'both':
        return [team.name, team.slug];
    }
  }

  private stored(token: GitHubToken): StoredToken {
    return {
      accessToken: token.accessToken,
      ...(token.refreshToken !== undefined ? { refreshToken: token.refreshToken } : {}),
      ...(token.expiresIn !== undefined
        ? { expiry: new Date(this.clock.now().getTime() + token.expiresIn * 1000) }
        : {}),
    };
  }

  /** Any failure of a login as the ConnectorError the user sees (the message keeps the detail for the log). */
  private loginFailure(e: unknown): ConnectorError {
    if (e instanceof ConnectorError) return e;
    if (e instanceof RefreshDeniedError) return new ConnectorError(e.message, UNAVAILABLE, { cause: e });
    if (e instanceof NotAMemberError) return new ConnectorError(e.message, NOT_MEMBER);
    if (e instanceof NoVerifiedEmailError) return new ConnectorError(e.message, NO_EMAIL);
    if (e instanceof GitHubOAuthError) {
      if (e.error === 'bad_verification_code')
        return new ConnectorError(`github: ${e.message}`, CODE_REFUSED);
      // incorrect_client_credentials, redirect_uri_mismatch, …: the configuration, not the user.
      this.logger.error({ connector: this.id, error: e.error }, `github: ${e.message}`);
      return new ConnectorError(`github: ${e.message}`, MISCONFIGURED);
    }
    if (e instanceof GitHubStatusError) {
      return new ConnectorError(`github: ${e.message}`, e.rateLimited ? RATE_LIMITED : UNAVAILABLE, {
        cause: e,
      });
    }
    if (e instanceof GitHubShapeError) return new ConnectorError(`github: ${e.message}`, UNAVAILABLE);
    // fetch's TypeError (refused, reset, TLS) or the per-request deadline: GitHub is out of reach.
    return new ConnectorError(`github: GitHub could not be reached: ${describe(e)}`, UNAVAILABLE, {
      cause: e,
    });
  }

  /** A refresh: GitHub no longer vouching for the user ends the login; an outage does not. */
  private refreshFailure(e: unknown): Error {
    if (e instanceof RefreshDeniedError) return e;
    if (e instanceof NotAMemberError) return new RefreshDeniedError(e.message);
    if (e instanceof NoVerifiedEmailError) return new RefreshDeniedError(e.message);
    if (e instanceof GitHubStatusError && e.status === 401) {
      return new RefreshDeniedError(
        `github: GitHub no longer accepts this login's access token (revoked, or the app was removed): ${e.message}`,
      );
    }
    if (e instanceof GitHubOAuthError && e.error === 'bad_refresh_token') {
      return new RefreshDeniedError(`github: ${e.message}`);
    }
    return this.loginFailure(e);
  }
}

const sameOrg = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

const unique = (values: string[]): string[] => [...new Set(values)];

/** An error and its cause (fetch says only "fetch failed"; the cause says refused, reset or TLS). */
function describe(e: unknown): string {
  // Duck-typed: undici's errors may come from another realm, where instanceof Error is false.
  const text = (v: unknown): string | undefined => {
    if (typeof v !== 'object' || v === null) return undefined;
    const { message, code } = v as { message?: unknown; code?: unknown };
    const m = typeof message === 'string' && message !== '' ? message : undefined;
    const c = typeof code === 'string' && !(m ?? '').includes(code) ? code : undefined;
    return [m, c].filter(Boolean).join(' ') || undefined;
  };
  const cause = (e as { cause?: unknown } | null)?.cause;
  return [text(e) ?? String(e), text(cause)].filter(Boolean).join(': ');
}

function encodeToken(token: StoredToken): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      accessToken: token.accessToken,
      ...(token.refreshToken !== undefined ? { refreshToken: token.refreshToken } : {}),
      ...(token.expiry !== undefined ? { expiry: token.expiry.toISOString() } : {}),
    }),
  );
}

/** The stored GitHub token; a refresh token without one cannot be refreshed (nothing to ask GitHub with). */
function decodeToken(data: Uint8Array | undefined): StoredToken {
  let parsed: unknown;
  try {
    parsed = data === undefined ? undefined : JSON.parse(new TextDecoder().decode(data));
  } catch {
    parsed = undefined;
  }
  const record = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  if (typeof record.accessToken !== 'string' || record.accessToken === '') {
    throw new RefreshDeniedError('github: this login holds no GitHub access token; log in again');
  }
  const expiry = typeof record.expiry === 'string' ? new Date(record.expiry) : undefined;
  return {
    accessToken: record.accessToken,
    ...(typeof record.refreshToken === 'string' && record.refreshToken !== ''
      ? { refreshToken: record.refreshToken }
      : {}),
    // Go writes a zero time.Time as year 1 when a token does not expire.
    ...(expiry !== undefined && !Number.isNaN(expiry.getTime()) && expiry.getUTCFullYear() > 1
      ? { expiry }
      : {}),
  };
}
