import type { GrantType } from '../../src/config/types.js';
import {
  checkConnectorUse,
  clientMayUseConnector,
  clientMayUseGrant,
  connectorAllowsGrant,
} from '../../src/oauth/connector-policy.js';
import type { OAuthError } from '../../src/oauth/errors.js';

const SERVED: GrantType[] = ['authorization_code', 'refresh_token', 'password'];
const confidential = { public: false };

describe('connector policy', () => {
  it('allowedConnectors: absent or empty allows every connector, else only those listed', () => {
    expect(clientMayUseConnector({}, 'ldap')).toBe(true);
    expect(clientMayUseConnector({ allowedConnectors: [] }, 'ldap')).toBe(true);
    expect(clientMayUseConnector({ allowedConnectors: ['github'] }, 'ldap')).toBe(false);
    expect(clientMayUseConnector({ allowedConnectors: ['github', 'ldap'] }, 'ldap')).toBe(true);
  });

  it('connector grantTypes: absent or empty allows every grant, else only those listed', () => {
    expect(connectorAllowsGrant({}, 'password')).toBe(true);
    expect(connectorAllowsGrant({ grantTypes: [] }, 'password')).toBe(true);
    expect(connectorAllowsGrant({ grantTypes: ['authorization_code'] }, 'password')).toBe(false);
  });

  it('checkConnectorUse throws the token endpoint errors, naming client, connector and grant', () => {
    const err = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return e as OAuthError;
      }
      throw new Error('no error');
    };
    expect(() =>
      checkConnectorUse({ id: 'app' }, { id: 'ldap', grantTypes: ['password'] }, 'password'),
    ).not.toThrow();
    expect(
      err(() => checkConnectorUse({ id: 'app', allowedConnectors: ['gh'] }, { id: 'ldap' }, 'password')),
    ).toMatchObject({
      error: 'invalid_grant',
      description: 'Client "app" may not log in through connector "ldap".',
    });
    expect(
      err(() => checkConnectorUse({ id: 'app' }, { id: 'ldap', grantTypes: ['refresh_token'] }, 'password')),
    ).toMatchObject({
      error: 'unauthorized_client',
      description: 'Connector "ldap" does not serve the password grant.',
    });
  });

  it('a client uses the served grants, narrowed by its own list', () => {
    expect(clientMayUseGrant(confidential, 'password', SERVED)).toBe(true);
    expect(clientMayUseGrant(confidential, 'urn:ietf:params:oauth:grant-type:device_code', SERVED)).toBe(
      false,
    );
    expect(
      clientMayUseGrant({ ...confidential, grantTypes: ['authorization_code'] }, 'password', SERVED),
    ).toBe(false);
    // A client cannot enable a grant the server does not serve, except client_credentials.
    expect(
      clientMayUseGrant(
        { ...confidential, grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'] },
        'urn:ietf:params:oauth:grant-type:device_code',
        SERVED,
      ),
    ).toBe(false);
  });

  it('client_credentials: confidential clients that opted in, or all of them when the server serves it', () => {
    expect(clientMayUseGrant(confidential, 'client_credentials', SERVED)).toBe(false);
    expect(
      clientMayUseGrant(
        { ...confidential, grantTypes: ['client_credentials'] },
        'client_credentials',
        SERVED,
      ),
    ).toBe(true);
    expect(clientMayUseGrant(confidential, 'client_credentials', [...SERVED, 'client_credentials'])).toBe(
      true,
    );
    // A client's own list still restricts it.
    expect(
      clientMayUseGrant({ ...confidential, grantTypes: ['password'] }, 'client_credentials', [
        ...SERVED,
        'client_credentials',
      ]),
    ).toBe(false);
    expect(
      clientMayUseGrant({ public: true, grantTypes: ['client_credentials'] }, 'client_credentials', SERVED),
    ).toBe(false);
    expect(clientMayUseGrant({ public: true }, 'client_credentials', [...SERVED, 'client_credentials'])).toBe(
      false,
    );
  });
});
