import {
  BACKCHANNEL_LOGOUT_EVENT,
  LOGOUT_TOKEN_LIFETIME_SECONDS,
  logoutTokenClaims,
  type LogoutTokenInput,
} from '../../src/tokens/logout-token.js';
import { decodeSubject, encodeSubject } from '../../src/tokens/subject.js';

const input: LogoutTokenInput = {
  issuer: 'https://issuer.example/dex',
  clientID: 'grafana',
  userID: 'user-1',
  connectorID: 'ldap',
  sessionID: 'session-abc',
  issuedAt: 1_900_000_000,
  jti: 'jti-1',
};

describe('logoutTokenClaims (Back-Channel Logout 1.0 §2.4)', () => {
  test('has exactly the claims §2.4 asks for, sub encoded as in ID tokens', () => {
    const claims = logoutTokenClaims(input);
    expect(claims).toEqual({
      iss: input.issuer,
      sub: encodeSubject(input.userID, input.connectorID),
      aud: input.clientID,
      iat: input.issuedAt,
      exp: input.issuedAt + LOGOUT_TOKEN_LIFETIME_SECONDS,
      jti: input.jti,
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
      sid: input.sessionID,
    });
    expect(decodeSubject(claims.sub)).toEqual({ userID: 'user-1', connectorID: 'ldap' });
    expect(BACKCHANNEL_LOGOUT_EVENT).toBe('http://schemas.openid.net/event/backchannel-logout');
  });

  test('never a nonce (§2.4: a logout token must not pass for an ID token)', () => {
    expect(Object.keys(logoutTokenClaims(input))).not.toContain('nonce');
    // Not even from inputs that happen to carry one.
    const withNonce = { ...input, nonce: 'n-0S6_WzA2Mj' } as LogoutTokenInput;
    expect(Object.keys(logoutTokenClaims(withNonce))).not.toContain('nonce');
  });

  test('the lifetime is short and can be set; each input shows in its claim', () => {
    expect(LOGOUT_TOKEN_LIFETIME_SECONDS).toBeLessThanOrEqual(300);
    const c = logoutTokenClaims({ ...input, lifetimeSeconds: 30, issuedAt: 1_000, jti: 'other' });
    expect(c.exp - c.iat).toBe(30);
    expect(c.iat).toBe(1_000);
    expect(c.jti).toBe('other');
    expect(logoutTokenClaims({ ...input, clientID: 'argocd' }).aud).toBe('argocd');
    expect(logoutTokenClaims({ ...input, sessionID: 's2' }).sid).toBe('s2');
    expect(logoutTokenClaims({ ...input, connectorID: 'github' }).sub).toBe(
      encodeSubject('user-1', 'github'),
    );
  });

  test('the events member serialises as an empty JSON object', () => {
    const json = JSON.parse(JSON.stringify(logoutTokenClaims(input))) as Record<string, unknown>;
    expect(json.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
  });

  test.each([
    ['issuer', { issuer: '' }],
    ['clientID', { clientID: '' }],
    ['sessionID', { sessionID: '' }],
    ['jti', { jti: '' }],
  ])('an empty %s is refused', (name, patch) => {
    expect(() => logoutTokenClaims({ ...input, ...patch })).toThrow(new RegExp(name));
  });

  test.each([{ issuedAt: 1.5 }, { issuedAt: -1 }, { lifetimeSeconds: 0 }, { lifetimeSeconds: Number.NaN }])(
    'a time that is not whole positive seconds is refused: %o',
    (patch) => {
      expect(() => logoutTokenClaims({ ...input, ...patch })).toThrow(RangeError);
    },
  );
});
