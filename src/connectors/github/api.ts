import type { HttpFetch } from '../http.js';

// The few GitHub calls the connector makes, with the shapes of GitHub's REST documentation
// (docs.github.com/en/rest: users, users/emails, orgs, teams; "Authorizing OAuth apps" for the web flow).
// Only what the connector reads is checked; everything else GitHub sends is ignored. The access token is
// only ever sent to the configured API root: a pagination link elsewhere is refused, never followed.

/** The REST API version the shapes below are from (GitHub's `X-GitHub-Api-Version`). */
const API_VERSION = '2022-11-28';
/** GitHub's largest page; fewer round trips for users in many orgs and teams. */
const PER_PAGE = 100;
/** 50 pages of 100: far beyond any real membership, and a bound on what a misbehaving server costs us. */
const MAX_PAGES = 50;
const USER_AGENT = 'Latchkey';

export interface GitHubUser {
  id: number;
  login: string;
  name: string | null;
  /** The public email, if the user chose one (always one of their verified addresses). */
  email: string | null;
}

export interface GitHubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

export interface GitHubTeam {
  name: string;
  slug: string;
  /** The login of the team's organization. */
  org: string;
}

/** What the token endpoint issued. Expiring tokens (GitHub Apps) come with a refresh token. */
export interface GitHubToken {
  accessToken: string;
  refreshToken?: string;
  /** Seconds until the access token expires, for expiring tokens. */
  expiresIn?: number;
}

/** GitHub answered with a status the connector does not expect. */
export class GitHubStatusError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    /** GitHub's `message` field, or the start of the body. */
    readonly detail: string,
    /** 403/429 with the rate-limit headers GitHub documents. */
    readonly rateLimited: boolean,
  ) {
    super(`${url} answered ${status}${detail ? `: ${detail}` : ''}`);
    this.name = 'GitHubStatusError';
  }
}

/** The token endpoint refused (RFC 6749 §5.2 codes; GitHub answers them with status 200). */
export class GitHubOAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
  ) {
    super(`GitHub's token endpoint answered error=${error}${description ? ` (${description})` : ''}`);
    this.name = 'GitHubOAuthError';
  }
}

/** GitHub answered 2xx with a body that is not what its documentation describes. */
export class GitHubShapeError extends Error {
  constructor(url: string, problem: string) {
    super(`${url}: ${problem}`);
    this.name = 'GitHubShapeError';
  }
}

export class GitHubClient {
  constructor(
    private readonly http: HttpFetch,
    private readonly urls: { webURL: string; apiURL: string },
    private readonly credentials: { clientID: string; clientSecret: string },
  ) {}

  /** The browser's first stop (GitHub's "Request a user's GitHub identity"). */
  authorizeURL(params: Record<string, string>): string {
    return `${this.urls.webURL}/login/oauth/authorize?${new URLSearchParams(params)}`;
  }

  /** Redeems an authorization code (with the PKCE verifier it was issued for). */
  exchangeCode(code: string, redirectURI: string, codeVerifier: string): Promise<GitHubToken> {
    return this.tokenRequest({ code, redirect_uri: redirectURI, code_verifier: codeVerifier });
  }

  /** Renews an expiring user token (GitHub Apps with "user-to-server token expiration"). */
  refresh(refreshToken: string): Promise<GitHubToken> {
    return this.tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  async user(token: string): Promise<GitHubUser> {
    const url = `${this.urls.apiURL}/user`;
    const { body } = await this.get(token, url);
    if (
      !isRecord(body) ||
      typeof body.id !== 'number' ||
      typeof body.login !== 'string' ||
      body.login === ''
    ) {
      throw new GitHubShapeError(url, 'expected a user with a numeric id and a login');
    }
    return {
      id: body.id,
      login: body.login,
      name: typeof body.name === 'string' && body.name !== '' ? body.name : null,
      email: typeof body.email === 'string' && body.email !== '' ? body.email : null,
    };
  }

  async emails(token: string): Promise<GitHubEmail[]> {
    return this.list(token, '/user/emails', (item, url) => {
      if (!isRecord(item) || typeof item.email !== 'string') {
        throw new GitHubShapeError(url, 'expected email objects with an email field');
      }
      return { email: item.email, primary: item.primary === true, verified: item.verified === true };
    });
  }

  /** The logins of the user's organizations. */
  async orgs(token: string): Promise<string[]> {
    return this.list(token, '/user/orgs', (item, url) => {
      if (!isRecord(item) || typeof item.login !== 'string') {
        throw new GitHubShapeError(url, 'expected organization objects with a login');
      }
      return item.login;
    });
  }

  async teams(token: string): Promise<GitHubTeam[]> {
    return this.list(token, '/user/teams', (item, url) => {
      const org = isRecord(item) ? item.organization : undefined;
      if (
        !isRecord(item) ||
        typeof item.name !== 'string' ||
        typeof item.slug !== 'string' ||
        !isRecord(org) ||
        typeof org.login !== 'string'
      ) {
        throw new GitHubShapeError(url, 'expected team objects with name, slug and organization.login');
      }
      return { name: item.name, slug: item.slug, org: org.login };
    });
  }

  private async tokenRequest(params: Record<string, string>): Promise<GitHubToken> {
    const url = `${this.urls.webURL}/login/oauth/access_token`;
    const res = await this.http(url, {
      method: 'POST',
      headers: {
        // Without it GitHub answers form-encoded.
        Accept: 'application/json',
        'Content-Type': 'application/x-www-form-urlencoded',
        'User-Agent': USER_AGENT,
      },
      body: new URLSearchParams({
        client_id: this.credentials.clientID,
        client_secret: this.credentials.clientSecret,
        ...params,
      }).toString(),
    });
    const text = await res.text();
    if (!res.ok) throw new GitHubStatusError(url, res.status, excerpt(text), false);
    const body = parseJSON(text);
    if (!isRecord(body)) throw new GitHubShapeError(url, `not a JSON object: ${excerpt(text)}`);
    if (typeof body.error === 'string') {
      throw new GitHubOAuthError(
        body.error,
        typeof body.error_description === 'string' ? body.error_description : '',
      );
    }
    if (typeof body.access_token !== 'string' || body.access_token === '') {
      throw new GitHubShapeError(url, 'no access_token in the answer');
    }
    if (typeof body.token_type === 'string' && body.token_type.toLowerCase() !== 'bearer') {
      throw new GitHubShapeError(url, `token_type ${JSON.stringify(body.token_type)} is not bearer`);
    }
    const expiresIn = Number(body.expires_in);
    return {
      accessToken: body.access_token,
      ...(typeof body.refresh_token === 'string' && body.refresh_token !== ''
        ? { refreshToken: body.refresh_token }
        : {}),
      ...(Number.isFinite(expiresIn) && expiresIn > 0 ? { expiresIn } : {}),
    };
  }

  private async get(token: string, url: string): Promise<{ body: unknown; next: string | undefined }> {
    const res = await this.http(url, {
      headers: {
        Accept: 'application/vnd.github+json',
        Authorization: `Bearer ${token}`,
        'X-GitHub-Api-Version': API_VERSION,
        'User-Agent': USER_AGENT,
      },
    });
    const text = await res.text();
    if (res.status !== 200) {
      const body = parseJSON(text);
      const detail = isRecord(body) && typeof body.message === 'string' ? body.message : excerpt(text);
      // GitHub's documented rate-limit answers: 429, or 403 with no requests left / a retry-after.
      const rateLimited =
        res.status === 429 ||
        (res.status === 403 &&
          (res.headers.get('x-ratelimit-remaining') === '0' || res.headers.has('retry-after')));
      throw new GitHubStatusError(url, res.status, detail, rateLimited);
    }
    const body = parseJSON(text);
    if (body === undefined) throw new GitHubShapeError(url, `not JSON: ${excerpt(text)}`);
    return { body, next: nextLink(res.headers.get('link'), url) };
  }

  /** Whether a URL lies under the API root (compared as parsed URLs: host case and default ports aside). */
  private withinAPI(url: string): boolean {
    const root = new URL(`${this.urls.apiURL}/`);
    const target = new URL(url);
    return target.origin === root.origin && target.pathname.startsWith(root.pathname);
  }

  /** Every page of a list endpoint, following `Link: <…>; rel="next"` within the API root. */
  private async list<T>(token: string, path: string, item: (raw: unknown, url: string) => T): Promise<T[]> {
    const all: T[] = [];
    let url: string | undefined = `${this.urls.apiURL}${path}?per_page=${PER_PAGE}`;
    for (let page = 0; url !== undefined; page++) {
      if (page === MAX_PAGES) {
        throw new GitHubShapeError(url, `more than ${MAX_PAGES} pages; refusing to read further`);
      }
      const { body, next } = await this.get(token, url);
      if (!Array.isArray(body)) throw new GitHubShapeError(url, 'expected a JSON array');
      for (const raw of body) all.push(item(raw, url));
      if (next !== undefined && !this.withinAPI(next)) {
        throw new GitHubShapeError(url, `pagination link ${JSON.stringify(next)} leaves ${this.urls.apiURL}`);
      }
      url = next;
    }
    return all;
  }
}

/** The `rel="next"` target of a Link header (RFC 8288), resolved against the request URL. */
export function nextLink(header: string | null, base: string): string | undefined {
  if (header === null) return undefined;
  for (const match of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,"]+(?:"[^"]*")?)*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(match[2] ?? '');
    const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (rels.includes('next')) {
      try {
        return new URL(match[1]!, base).toString();
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function parseJSON(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const excerpt = (text: string): string => text.replace(/\s+/g, ' ').trim().slice(0, 200);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
