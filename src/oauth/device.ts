import { createHash, randomInt } from 'node:crypto';
import type { DeviceRequest, DeviceToken, PKCE, Storage } from '../storage/storage.js';
import { parseAuthorization, serializeAuthorization, type Authorization } from '../tokens/authorization.js';
import { isAlreadyExists, isConflict, isNotFound } from '../storage/errors.js';
import type { Clock } from '../util/clock.js';
import { isSecret, type IdGenerator } from '../util/ids.js';
import { digest } from './digest.js';
import { OAuthError } from './errors.js';
import { verifyCodeVerifier } from './pkce.js';
import { browserTag, verifyBrowserTag } from './browser-binding.js';
import { BoundedTable } from '../util/bounded-table.js';

/** RFC 8628 §6.1: no vowels (no words), no look-alikes; 20^8 ≈ 2.6·10^10 codes, guesses throttled. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const DEFAULT_POLL_INTERVAL_SECONDS = 5;

export function newUserCode(): string {
  let code = '';
  for (let i = 0; i < 8; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** Accepts what users type: any case, spaces or a missing dash. Undefined when it cannot be a user code. */
export function normalizeUserCode(input: unknown): string | undefined {
  if (typeof input !== 'string' || input.length > 32) return undefined;
  const chars = input.toUpperCase().replace(/[\s-]/g, '');
  if (chars.length !== 8 || [...chars].some((c) => !USER_CODE_ALPHABET.includes(c))) return undefined;
  return `${chars.slice(0, 4)}-${chars.slice(4)}`;
}

/**
 * Binds a device login to the browser that entered its user code: a tag only that browser can compute (from
 * its binding value, see browser-binding.ts) for that user code. It is handed to the browser in a cookie when
 * the code is accepted, and the login's code carries its S256 challenge as PKCE, with /device/callback as the
 * client presenting the verifier. So the callback refuses another browser (no or another tag) before any
 * storage call, and a code cannot be redeemed for another user code than the one it was issued for: a leaked
 * callback URL with `state` swapped for an attacker's own user code fails the PKCE check.
 */
export function deviceLoginTag(browserValue: string, userCode: string): string {
  return browserTag(browserValue, `device-login:${userCode}`);
}

/** Whether `presented` is the tag of this browser for this user code. */
export function verifyDeviceLoginTag(
  browserValue: string | undefined,
  userCode: string,
  presented: unknown,
): boolean {
  return verifyBrowserTag(browserValue, `device-login:${userCode}`, presented);
}

/** The PKCE challenge of a device login's code, for the verifier deviceLoginTag gives. */
export function deviceLoginPKCE(tag: string): PKCE {
  return {
    codeChallenge: createHash('sha256').update(tag, 'ascii').digest('base64url'),
    codeChallengeMethod: 'S256',
  };
}

/**
 * Device codes whose poll pace this replica remembers. When full the oldest are forgotten: a forgotten
 * device only escapes one `slow_down`, its next poll is paced again.
 */
const MAX_TRACKED_POLLS = 100_000;

/**
 * The last poll per device code (this replica's view), for slow_down without a storage write per poll. Plain
 * data in and out, so a replica with several workers keeps one in its primary (oauth/limits.ts).
 */
export class DevicePollPace {
  private readonly polls = new BoundedTable<{ at: number; interval: number; expiresAt: number }>(
    MAX_TRACKED_POLLS,
    (poll, now) => poll.expiresAt <= now,
  );

  /**
   * Records a poll at `now`; the interval (seconds) the device must now keep when it polled too early
   * (RFC 8628 §3.5: 5 seconds more, for this and every later poll), undefined when its pace was fine.
   */
  poll(codeDigest: string, pollInterval: number, expiresAt: number, now: number): number | undefined {
    const last = this.polls.get(codeDigest, now);
    const interval = last?.interval ?? pollInterval;
    if (last && now - last.at < interval * 1000) {
      this.polls.set(codeDigest, { at: now, interval: interval + 5, expiresAt }, now);
      return interval + 5;
    }
    this.polls.set(codeDigest, { at: now, interval, expiresAt }, now);
    return undefined;
  }

  forget(codeDigest: string): void {
    this.polls.delete(codeDigest);
  }
}

/** What DeviceFlow asks of a pace, wherever it lives. */
export interface PollPace {
  poll(...args: Parameters<DevicePollPace['poll']>): Promise<number | undefined> | number | undefined;
  forget(codeDigest: string): Promise<void> | void;
}

/**
 * The device authorization grant (RFC 8628), better than Dex: requests only from registered (and, when
 * confidential, authenticated) clients; the device code is bound to its client and redeemable once; a poll
 * that finds the login still pending writes nothing; device codes are stored as digests, and the grant is
 * kept as claims, not as minted tokens.
 */
export class DeviceFlow {
  constructor(
    private readonly storage: Storage,
    private readonly lifetimeMs: number,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly pace: PollPace = new DevicePollPace(),
  ) {}

  /** Two writes: the request (looked up by user code) and the token (looked up by device code). */
  async start(
    clientID: string,
    scopes: string[],
    pkce: PKCE,
  ): Promise<{ deviceCode: string; userCode: string; expiresIn: number }> {
    const now = this.clock.now();
    const expiry = new Date(now.getTime() + this.lifetimeMs);
    const deviceCode = this.ids.newSecret();
    const codeDigest = digest(deviceCode);
    const userCode = await this.createRequest({ deviceCode: codeDigest, clientID, scopes, expiry, pkce });
    const token: DeviceToken = {
      deviceCode: codeDigest,
      clientID,
      status: 'pending',
      token: '',
      expiry,
      lastRequest: now,
      pollInterval: DEFAULT_POLL_INTERVAL_SECONDS,
      pkce,
    };
    await this.storage.createDeviceToken(token);
    return { deviceCode, userCode, expiresIn: Math.floor(this.lifetimeMs / 1000) };
  }

  /** Stores the request under a fresh user code, drawing again on the rare collision. */
  private async createRequest(fields: Omit<DeviceRequest, 'userCode'>): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const userCode = newUserCode();
      try {
        await this.storage.createDeviceRequest({ userCode, ...fields });
        return userCode;
      } catch (e) {
        if (!isAlreadyExists(e) || attempt >= 4) throw e;
      }
    }
  }

  /** The live request for a user code the user typed, or undefined. */
  async request(userCode: string): Promise<DeviceRequest | undefined> {
    try {
      const r = await this.storage.getDeviceRequest(userCode);
      return r.expiry.getTime() > this.clock.now().getTime() ? r : undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /**
   * The user approved: the device's next poll gets tokens. The authorization is stored, not minted tokens:
   * nothing is signed before the device asks.
   */
  async complete(request: DeviceRequest, authorization: Authorization): Promise<void> {
    await this.setStatus(request, 'complete', serializeAuthorization(authorization));
  }

  /** The user declined: the device's next poll gets access_denied. */
  async deny(request: DeviceRequest): Promise<void> {
    await this.setStatus(request, 'denied', '');
  }

  /**
   * One poll of the token endpoint. Returns the grant once (the device token is consumed), or throws
   * authorization_pending, slow_down, expired_token, access_denied or invalid_grant.
   */
  async poll(deviceCode: string, clientID: string, verifier: string | undefined): Promise<Authorization> {
    // Not a device code we could have issued: refused without a storage read.
    if (!isSecret(deviceCode)) throw new OAuthError('invalid_grant', 'Invalid or already used device_code.');
    const codeDigest = digest(deviceCode);
    let token: DeviceToken;
    try {
      token = await this.storage.getDeviceToken(codeDigest);
    } catch (e) {
      if (isNotFound(e)) throw new OAuthError('invalid_grant', 'Invalid or already used device_code.');
      throw e;
    }
    const now = this.clock.now().getTime();
    if (token.expiry.getTime() <= now) throw new OAuthError('expired_token', 'The device code has expired.');
    // The device code belongs to the client that asked for it (Dex does not check).
    if (token.clientID !== clientID)
      throw new OAuthError('invalid_grant', 'The device code was issued to another client.');
    const grant = token.status === 'complete' ? parseAuthorization(token.token) : undefined;
    if (token.status === 'pending') {
      const slower = await this.pace.poll(codeDigest, token.pollInterval, token.expiry.getTime(), now);
      if (slower !== undefined) throw new OAuthError('slow_down', `Poll at most every ${slower} seconds.`);
      throw new OAuthError('authorization_pending', 'The user has not finished logging in yet.');
    }
    // Checked before consuming, so a wrong verifier cannot burn the legitimate device's login.
    if (token.status === 'complete') verifyCodeVerifier(token.pkce, verifier);
    try {
      await this.storage.consumeDeviceToken(codeDigest);
    } catch (e) {
      if (isNotFound(e) || isConflict(e))
        throw new OAuthError('invalid_grant', 'Invalid or already used device_code.');
      throw e;
    }
    await this.pace.forget(codeDigest);
    if (token.status === 'denied') throw new OAuthError('access_denied', 'The user denied the request.', 400);
    return grant!;
  }

  private async setStatus(
    request: DeviceRequest,
    status: 'complete' | 'denied',
    body: string,
  ): Promise<void> {
    await this.storage.updateDeviceToken(request.deviceCode, (old) => {
      if (old.status !== 'pending')
        throw new OAuthError('invalid_request', 'This device login was already finished.');
      return { ...old, status, token: body };
    });
  }
}
