import type { Request, Response } from 'express';
import type { Session } from '../storage/storage.js';
import { isUnsealError, type Sealer } from '../keys/sealer.js';
import type { ServerContext } from './context.js';

// The browser's half of a session: a sealed cookie naming the session record. Sealed (authenticated
// encryption under the rotating sealing keys, bound to this issuer) because the session ID alone is no
// secret — it is the `sid` every relying party sees in ID tokens — so a cookie must prove Latchkey wrote it.
// A cookie that does not unseal (tampered, another issuer's, sealed under a key since dropped, too old) is
// no session at all: the user logs in afresh, never sees an error.

/** What the cookie holds. */
export interface SessionCookie {
  v: 1;
  sid: string;
  /**
   * Clients for which the user authenticated interactively in this session (most recent last, bounded):
   * whether the session may serve another client is their `ssoSharedWith` to say.
   */
  origins: string[];
}

/** Origins kept in a cookie at most: the oldest go first. */
const MAX_ORIGINS = 16;
/** A cookie this long is not ours (browsers cap a cookie at 4 KiB anyway). */
const MAX_COOKIE_CHARS = 4096;

export class SessionCookies {
  constructor(
    private readonly sealer: Sealer,
    private readonly opts: {
      name: string;
      issuer: string;
      /** Cookie path: the issuer's path, so two issuers on one host keep apart. */
      path: string;
      secure: boolean;
      /** Max-Age of a remembered cookie (the session's absolute lifetime). */
      maxAgeMs: number;
    },
  ) {}

  /** The cookie's content, or undefined for anything that is not a live cookie of this issuer. */
  async read(req: Request): Promise<SessionCookie | undefined> {
    const raw = (req.cookies as Record<string, unknown> | undefined)?.[this.opts.name];
    if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_COOKIE_CHARS) return undefined;
    try {
      const value = await this.sealer.unseal<Partial<SessionCookie>>(raw, this.purpose());
      if (value.v !== 1 || typeof value.sid !== 'string' || !Array.isArray(value.origins)) return undefined;
      return { v: 1, sid: value.sid, origins: value.origins.filter((o) => typeof o === 'string') };
    } catch (e) {
      if (isUnsealError(e)) return undefined;
      throw e;
    }
  }

  /**
   * Points the browser at `session`. `remember`: a cookie that outlives the browser (until the session's
   * absolute expiry); otherwise one the browser drops when it closes.
   */
  async write(
    res: Response,
    session: Pick<Session, 'id'>,
    origins: string[],
    remember: boolean,
  ): Promise<void> {
    const cookie: SessionCookie = { v: 1, sid: session.id, origins: origins.slice(-MAX_ORIGINS) };
    res.cookie(this.opts.name, await this.sealer.seal(cookie, this.purpose()), {
      ...this.attributes(),
      ...(remember ? { maxAge: this.opts.maxAgeMs } : {}),
    });
  }

  clear(res: Response): void {
    res.clearCookie(this.opts.name, this.attributes());
  }

  private attributes() {
    return {
      httpOnly: true,
      // Lax: sent on the top-level GET from a relying party's link to /auth, never on cross-site POSTs.
      sameSite: 'lax' as const,
      secure: this.opts.secure,
      path: this.opts.path,
    };
  }

  /** Binds the seal to this issuer: another Latchkey sharing the storage cannot use this cookie. */
  private purpose(): string {
    return `session-cookie:${this.opts.issuer}`;
  }
}

/** The browser's live session and its cookie; undefined without sessions, a cookie, or a live session. */
export async function currentSession(
  ctx: Pick<ServerContext, 'sessions' | 'sessionCookies'>,
  req: Request,
): Promise<{ cookie: SessionCookie; session: Session } | undefined> {
  if (!ctx.sessions || !ctx.sessionCookies) return undefined;
  const cookie = await ctx.sessionCookies.read(req);
  if (!cookie) return undefined;
  const session = await ctx.sessions.find(cookie.sid);
  return session ? { cookie, session } : undefined;
}
