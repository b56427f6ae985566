import { createHmac, randomBytes } from 'node:crypto';
import type { Claims, RefreshToken, Storage } from '../storage/storage.js';
import type { Authorization } from '../tokens/authorization.js';
import { RefreshDeniedError } from '../connectors/connector.js';
import { isNotFound } from '../storage/errors.js';
import type { Clock } from '../util/clock.js';
import { isID, type IdGenerator } from '../util/ids.js';
import { decodeRefreshToken, encodeRefreshToken } from '../tokens/refresh-token-wire.js';
import { digest } from './digest.js';
import { OAuthError } from './errors.js';
import type { GrantRevocations } from './revocations.js';

export interface RefreshPolicy {
  disableRotation: boolean;
  reuseIntervalMs: number;
  validIfNotUsedForMs?: number;
  absoluteLifetimeMs?: number;
}

export interface NewRefreshToken extends Authorization {
  /** Storage ID; derived from the code for the code grant, so a replayed code can find and revoke it. */
  id?: string;
  /** Dies with the browser session it came from (its client's refreshTokenLifetime: session). */
  sessionBound?: boolean;
}

export interface RefreshUse {
  token: RefreshToken;
  /** The refresh token to hand back (the successor, or the same one when rotation is off). */
  wire: string;
  /** True for exactly one request per rotation: it alone asked the connector for a fresh identity. */
  refreshIdentity: boolean;
}

/** A fresh identity for the token, written together with its rotation. */
export interface IdentityUpdate {
  claims: Claims;
  connectorData?: Uint8Array;
}

/**
 * The caller's part of a refresh, run after the token was validated and BEFORE anything is written. A throw
 * leaves the presented token exactly as it was, so a failed upstream never costs the user their login (the
 * client retries with the token it still holds).
 */
export interface RefreshHooks {
  /** Checks that may refuse this request (scopes, the client may still use the connector); every request. */
  check?(token: RefreshToken): Promise<void>;
  /**
   * The connector's fresh identity, asked only when the presented secret is current; racers in this process
   * presenting the same secret share one call, so the upstream is asked once per rotation.
   */
  refreshIdentity?(token: RefreshToken): Promise<IdentityUpdate | undefined>;
}

const INVALID = 'Refresh token is invalid or has already been claimed by another client.';

/** How stale lastUsed may get when rotation is off (see rotate). */
const LAST_USED_GRANULARITY_MS = 60_000;

/** Why a refresh was refused, for metrics and audit logs (never shown to clients beyond the description). */
export type RefreshFailureReason =
  | 'invalid'
  | 'other_client'
  | 'expired'
  | 'replayed'
  | 'revoked_upstream'
  | 'connector_gone'
  /** A session-bound token whose browser session has ended (logout, an admin, expiry). */
  | 'session_ended';

/** invalid_grant for a refresh token, with the reason kept for metrics. */
export class RefreshRejected extends OAuthError {
  constructor(
    readonly reason: RefreshFailureReason,
    description: string,
    /** For the audit log only (what the connector said), never for the client. */
    readonly detail?: string,
  ) {
    super('invalid_grant', description);
  }
}

/**
 * Refresh tokens, better than Dex (RFC 9700): one per login rather than one per user and client; rotation
 * with a reuse window in which racing clients (kubectl, Lens) all get the same successor; replay of an
 * obsolete token outside the window revokes the login; idle and absolute lifetimes; secrets stored as digests.
 */
export class RefreshTokens {
  constructor(
    private readonly storage: Storage,
    private readonly policy: RefreshPolicy,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    /** Where a revoked login is recorded, so its access tokens die too (a token's ID is its grant ID). */
    private readonly revocations?: Pick<GrantRevocations, 'revoke'>,
  ) {}

  /** Stores a new refresh token and returns its wire form. */
  async create(input: NewRefreshToken): Promise<string> {
    const now = this.clock.now();
    const id = input.id ?? this.ids.newID();
    const secret = this.ids.newID();
    const token: RefreshToken = {
      id,
      token: digest(secret),
      obsoleteToken: '',
      createdAt: now,
      lastUsed: now,
      clientID: input.clientID,
      scopes: [...input.scopes],
      nonce: input.nonce,
      claims: input.claims,
      connectorID: input.connectorID,
      ...(input.connectorData ? { connectorData: input.connectorData } : {}),
      familyID: id,
      rotationKey: randomBytes(32).toString('base64url'),
      ...(input.authTime ? { authTime: input.authTime } : {}),
      ...(input.sessionID ? { sessionID: input.sessionID } : {}),
      ...(input.sessionID && input.sessionBound ? { sessionBound: true } : {}),
    };
    const expiry = this.expiryOf(token);
    if (expiry) token.expiry = expiry;
    await this.storage.createRefreshToken(token);
    return encodeRefreshToken(id, secret);
  }

  /**
   * Redeems a presented refresh token for `clientID`: validates it, lets `hooks` check it and refresh the
   * identity, then rotates it (claiming the rotation by compare-and-swap, the new identity in the same
   * write), or answers from the reuse window. Within this process, racers presenting the same secret share
   * one hook call, so the upstream is asked once per rotation.
   */
  async use(raw: string, clientID: string, hooks: RefreshHooks = {}): Promise<RefreshUse> {
    const parsed = decodeRefreshToken(raw);
    if (!parsed || parsed.secret === '') throw new RefreshRejected('invalid', INVALID);
    // The first read may come from a cache that lags a rotation made on another replica by the watch's
    // delay (Kubernetes storage). A verdict against the client — refused, or the whole login revoked — is
    // only ever reached on the stored state itself: on a copy, it sends us back for a consistent read.
    try {
      return await this.judge(parsed, await this.get(parsed.refreshID), clientID, hooks, false);
    } catch (e) {
      if (!(e instanceof OnACopy)) throw e;
      const stored = await this.get(parsed.refreshID, { consistent: true });
      return this.judge(parsed, stored, clientID, hooks, true);
    }
  }

  private async judge(
    parsed: { refreshID: string; secret: string },
    token: RefreshToken | undefined,
    clientID: string,
    hooks: RefreshHooks,
    consistent: boolean,
  ): Promise<RefreshUse> {
    const against = (): void => {
      if (!consistent) throw new OnACopy();
    };
    // No token is no copy: a cache only holds tokens that exist, so a miss was asked of the stored state.
    if (!token) throw new RefreshRejected('invalid', INVALID);
    if (token.clientID !== clientID) {
      against();
      throw new RefreshRejected('other_client', 'Refresh token was issued to another client.');
    }
    const now = this.clock.now();
    if (this.isExpired(token, now)) {
      against();
      await this.revoke(token.id);
      throw new RefreshRejected('expired', 'Refresh token expired.');
    }

    const presented = digest(parsed.secret);
    if (presented === token.token) {
      let update: IdentityUpdate | undefined;
      try {
        await hooks.check?.(token);
        const refresh = hooks.refreshIdentity;
        update = refresh ? await this.once(`${token.id}:${presented}`, () => refresh(token)) : undefined;
      } catch (e) {
        // A racer (another replica) rotated the token while our connector call failed — likely because that
        // racer's call used the upstream's one-time refresh token first. It won: answer as its racers are.
        const current = await this.get(token.id, { consistent: true });
        if (current && current.token !== presented && current.obsoleteToken === presented) {
          return this.reuse(current, parsed.secret, now, hooks, () => {});
        }
        if (e instanceof RefreshDeniedError) {
          // The connector no longer vouches for the user (deleted, disabled, left the required groups).
          await this.revoke(token.id);
          throw new RefreshRejected(
            'revoked_upstream',
            'The user can no longer be signed in; log in again.',
            e.message,
          );
        }
        throw e;
      }
      return this.rotate(token, parsed.secret, now, update);
    }
    if (presented === token.obsoleteToken && token.obsoleteToken !== '') {
      return this.reuse(token, parsed.secret, now, hooks, against);
    }
    against();
    throw new RefreshRejected('invalid', INVALID);
  }

  /** An obsolete secret: the current successor inside the reuse window, a revoked login outside it. */
  private async reuse(
    token: RefreshToken,
    secret: string,
    now: Date,
    hooks: RefreshHooks,
    against: () => void,
  ): Promise<RefreshUse> {
    const successor = this.successorOf(token, secret);
    const withinWindow = now.getTime() - token.lastUsed.getTime() <= this.policy.reuseIntervalMs;
    if (withinWindow && successor !== undefined && digest(successor) === token.token) {
      await hooks.check?.(token);
      return { token, wire: encodeRefreshToken(token.id, successor), refreshIdentity: false };
    }
    // An old secret presented again, outside the window: someone holds a copy. End the whole login.
    against();
    await this.revoke(token.id);
    throw new RefreshRejected('replayed', 'Refresh token was already used; the login has been revoked.');
  }

  /** Hook calls in flight, by token and presented secret: racers share one (entries live while pending). */
  private readonly inFlight = new Map<string, Promise<IdentityUpdate | undefined>>();

  private once(
    key: string,
    run: () => Promise<IdentityUpdate | undefined>,
  ): Promise<IdentityUpdate | undefined> {
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const started = run().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }

  /**
   * The replay of a code: revokes the refresh token its first redemption issued, if there is one. Read
   * before deleting, so a made-up code costs a read (rate-limited), never a write.
   */
  async revokeIssued(id: string): Promise<boolean> {
    return (await this.get(id)) !== undefined && this.revoke(id);
  }

  /**
   * Ends the login: records the revocation first (a failure leaves the login whole, not half-revoked), then
   * deletes its refresh token; a missing one is fine (already revoked or collected).
   */
  async revoke(id: string): Promise<boolean> {
    await this.revocations?.revoke(id);
    try {
      await this.storage.deleteRefreshToken(id);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /** RFC 7009 for a presented token: revokes it when it is valid and belongs to `clientID`. */
  async revokePresented(raw: string, clientID: string): Promise<boolean> {
    const parsed = decodeRefreshToken(raw);
    if (!parsed || parsed.secret === '') return false;
    const token = await this.get(parsed.refreshID);
    if (!token || token.clientID !== clientID) return false;
    const presented = digest(parsed.secret);
    if (presented !== token.token && presented !== token.obsoleteToken) return false;
    return this.revoke(token.id);
  }

  /** For introspection: the stored token when `raw` is its current secret and it has not expired. */
  async lookupActive(raw: string): Promise<RefreshToken | undefined> {
    const parsed = decodeRefreshToken(raw);
    if (!parsed || parsed.secret === '') return undefined;
    const token = await this.get(parsed.refreshID);
    if (!token || digest(parsed.secret) !== token.token || this.isExpired(token, this.clock.now()))
      return undefined;
    return token;
  }

  /** When garbage collection may remove the token: the earlier of its idle and absolute limits. */
  expiryOf(t: Pick<RefreshToken, 'createdAt' | 'lastUsed'>): Date | undefined {
    const limits: number[] = [];
    if (this.policy.absoluteLifetimeMs) limits.push(t.createdAt.getTime() + this.policy.absoluteLifetimeMs);
    if (this.policy.validIfNotUsedForMs) limits.push(t.lastUsed.getTime() + this.policy.validIfNotUsedForMs);
    return limits.length > 0 ? new Date(Math.min(...limits)) : undefined;
  }

  private isExpired(t: RefreshToken, now: Date): boolean {
    const expiry = this.expiryOf(t);
    return expiry !== undefined && now.getTime() > expiry.getTime();
  }

  private async rotate(
    token: RefreshToken,
    secret: string,
    now: Date,
    update: IdentityUpdate | undefined,
  ): Promise<RefreshUse> {
    const presented = digest(secret);
    const successor = this.policy.disableRotation ? secret : this.successorOf(token, secret);
    if (successor === undefined) throw new RefreshRejected('invalid', INVALID);
    const changed = update !== undefined && identityChanged(token, update);
    // Without rotation there is nothing to claim; lastUsed only feeds the idle limit and the GC expiry,
    // which need minutes, not milliseconds: record it at most once a minute instead of on every refresh.
    if (
      this.policy.disableRotation &&
      !changed &&
      now.getTime() - token.lastUsed.getTime() < LAST_USED_GRANULARITY_MS
    ) {
      return { token, wire: encodeRefreshToken(token.id, secret), refreshIdentity: true };
    }
    let claimed = false;
    const updated = await this.storage.updateRefreshToken(token.id, (old) => {
      // Somebody else rotated (or revoked-and-reissued) since we read it: leave it alone.
      claimed = old.token === presented;
      if (!claimed) return old;
      const next: RefreshToken = { ...old, lastUsed: now };
      if (!this.policy.disableRotation) {
        next.token = digest(successor);
        next.obsoleteToken = presented;
      }
      if (changed) {
        next.claims = update.claims;
        if (update.connectorData) next.connectorData = update.connectorData;
      }
      const expiry = this.expiryOf(next);
      if (expiry) next.expiry = expiry;
      return next;
    });
    if (claimed)
      return { token: updated, wire: encodeRefreshToken(token.id, successor), refreshIdentity: true };
    // Lost the race to a concurrent refresh of the same secret: its successor is ours too.
    if (
      !this.policy.disableRotation &&
      updated.obsoleteToken === presented &&
      updated.token === digest(successor)
    ) {
      return { token: updated, wire: encodeRefreshToken(token.id, successor), refreshIdentity: false };
    }
    throw new RefreshRejected('invalid', INVALID);
  }

  private successorOf(token: RefreshToken, secret: string): string | undefined {
    if (!token.rotationKey) return undefined;
    return createHmac('sha256', token.rotationKey).update(secret, 'utf8').digest('base64url');
  }

  /** The stored token; undefined for an ID we cannot have issued (no storage read) or a missing one. */
  private async get(id: string, opts?: { consistent?: boolean }): Promise<RefreshToken | undefined> {
    if (!isID(id)) return undefined;
    try {
      return await this.storage.getRefreshToken(id, opts);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }
}

/** Whether the connector's answer differs from what the token holds (else nothing needs writing). */
function identityChanged(token: RefreshToken, update: IdentityUpdate): boolean {
  const sameData =
    update.connectorData === undefined ||
    (token.connectorData !== undefined &&
      Buffer.from(update.connectorData).equals(Buffer.from(token.connectorData)));
  return !sameData || JSON.stringify(update.claims) !== JSON.stringify(token.claims);
}

/** The refresh token ID for a code: lets a replayed code revoke what its first redemption issued. */
export function refreshIDForCode(codeDigest: string): string {
  const h = createHmac('sha256', 'latchkey refresh-for-code').update(codeDigest).digest();
  // Same shape as storage IDs: a letter, then base32.
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let out = String.fromCharCode(97 + (h[0]! % 26));
  for (let i = 1; i < 25; i++) out += alphabet[h[i]! & 31];
  return out;
}

/** A verdict against the client reached on a possibly lagging copy: judge again on the stored state. */
class OnACopy extends Error {
  constructor() {
    super('judged on a cached copy');
    this.name = 'OnACopy';
  }
}
