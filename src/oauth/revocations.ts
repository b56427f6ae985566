import type { Storage } from '../storage/storage.js';
import { isAlreadyExists, isNotFound } from '../storage/errors.js';
import type { Clock } from '../util/clock.js';

// Whether the login behind an access token is still alive. Access tokens stay self-contained JWTs
// (kube-apiserver and Dex's users verify them offline, and nothing can recall those), so only Latchkey's own
// endpoints — /userinfo and introspection — can refuse a token whose login was ended early: revoked at
// /token/revoke (RFC 7009), its code replayed (RFC 6749 §4.1.2), its refresh family revoked on replay or by
// the upstream.
//
// Why a revocation record and not the refresh token itself: checking that the login's refresh token still
// exists would cost an API-server GET per request on Kubernetes (refresh tokens are too many to cache), and a
// login without `offline_access` has no refresh token to check or delete. A record is written only when
// something is revoked — never per login, so the login (≤ 5 writes) and refresh (≤ 2) budgets hold — and
// revoked logins are few and live only until their last access token has expired, so every back end can
// serve the check from memory (a watch cache on Kubernetes) or one indexed read (SQLite).

/**
 * How much longer than one access-token lifetime a record lives: a refresh that another replica validated
 * just before the revocation may mint its access token a moment after it, and that token must die too.
 */
export const REVOCATION_GRACE_MS = 5 * 60_000;

/** Revoked grants (logins), by the grant ID every access token carries (tokens/mint.ts GRANT_ID_CLAIM). */
export class GrantRevocations {
  constructor(
    private readonly storage: Storage,
    private readonly opts: { accessTokenLifetimeMs: number },
    private readonly clock: Clock,
  ) {}

  /** Ends every access token of the grant at Latchkey's endpoints. Revoking twice is fine. */
  async revoke(grantID: string): Promise<void> {
    const expiry = new Date(
      this.clock.now().getTime() + this.opts.accessTokenLifetimeMs + REVOCATION_GRACE_MS,
    );
    try {
      await this.storage.createRevocation({ id: grantID, expiry });
    } catch (e) {
      // Revoked already (a racing replay, another replica): the earlier record covers every token too.
      if (!isAlreadyExists(e)) throw e;
    }
  }

  /** Whether the grant was revoked (a cached lookup: no remote request on any back end). */
  async isRevoked(grantID: string): Promise<boolean> {
    try {
      await this.storage.getRevocation(grantID);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }
}
