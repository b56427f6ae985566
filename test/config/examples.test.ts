import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcrypt';
import { loadConfigFile } from '../../src/config/load.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const examplesDir = join(repoRoot, 'examples');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(path);
    // Latchkey configs only: Kubernetes manifests (OAuth2Client, Password, …) live beside them.
    return /^config[^/]*\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

const files = yamlFiles(examplesDir)
  .map((f) => relative(repoRoot, f))
  .sort();

describe('examples/', () => {
  it('holds the seed scenarios', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'examples/config-ad-kubelogin.yaml',
        'examples/config-custom-frontend.yaml',
        'examples/config-dev.yaml',
        'examples/config-example-app.yaml',
        'examples/config-github-actions.yaml',
        'examples/config-token-exchange.yaml',
        'examples/k8s/config.yaml',
      ]),
    );
  });

  it.each(files)('%s loads without problems or warnings, and names its seed section', async (file) => {
    const { config, warnings } = await loadConfigFile(join(repoRoot, file), {});
    expect(warnings).toEqual([]);
    expect(config.issuer).toMatch(/^https?:\/\//);
    expect(readFileSync(join(repoRoot, file), 'utf8').split('\n')[0]).toMatch(/^# Seed §\d /);
  });

  it('config-dev.yaml is the npm start demo', async () => {
    const { config } = await loadConfigFile(join(examplesDir, 'config-dev.yaml'), {});
    expect(config.issuer).toBe('http://127.0.0.1:5556/dex');
    expect(config.issuerPath).toBe('/dex');
    expect(config.storage).toEqual({ type: 'sqlite3', file: 'data/latchkey.db' });
    expect(config.web.http).toBe('127.0.0.1:5556');
    expect(config.telemetry.http).toBe('127.0.0.1:5558');
    expect(config.logger).toEqual({ level: 'info', format: 'text', excludeFields: [] });
    expect(config.oauth2.grantTypes).toEqual([
      'authorization_code',
      'password',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:device_code',
      'urn:ietf:params:oauth:grant-type:token-exchange',
    ]);
    expect(config.staticClients.map((c) => [c.id, c.public])).toEqual([
      ['example-app', false],
      ['kubernetes', true],
    ]);
    expect(config.staticClients[0]).toEqual({
      id: 'example-app',
      secret: 'ZXhhbXBsZS1hcHAtc2VjcmV0',
      name: 'Example App',
      redirectURIs: ['http://127.0.0.1:5555/callback'],
      trustedPeers: [],
      public: false,
      logoURL: '',
    });
    expect(config.enablePasswordDB).toBe(true);
    const [admin] = config.staticPasswords;
    expect(admin).toMatchObject({
      email: 'admin@example.com',
      username: 'admin',
      userID: '08a8684b-db88-4b73-90a9-3cd1661f5466',
      groups: ['team-a', 'team-a/admins'],
      emailVerified: true,
    });
    expect(await bcrypt.compare('password', admin!.hash)).toBe(true);
    expect(admin!.hash.slice(0, 7)).toBe('$2b$10$');
  });

  it('k8s/config.yaml uses in-cluster storage, HTTPS and the GitHub connector with expanded secrets', async () => {
    const env = { GITHUB_CLIENT_ID: 'gh-id', GITHUB_CLIENT_SECRET: 'gh-secret' };
    const { config } = await loadConfigFile(join(examplesDir, 'k8s/config.yaml'), env);
    expect(config.issuerPath).toBe('');
    expect(config.storage).toEqual({ type: 'kubernetes', inCluster: true, crdHandling: 'ensure' });
    expect(config.web).toMatchObject({
      https: '0.0.0.0:5556',
      tlsCert: '/etc/dex/tls/tls.crt',
      tlsKey: '/etc/dex/tls/tls.key',
    });
    expect(config.connectors).toEqual([
      {
        type: 'github',
        id: 'github',
        name: 'GitHub',
        config: {
          clientID: 'gh-id',
          clientSecret: 'gh-secret',
          redirectURI: 'https://dex.example.com:32000/callback',
          org: 'kubernetes',
        },
      },
    ]);
    expect(config.oauth2.skipApprovalScreen).toBe(true);
  });

  it('config-token-exchange.yaml serves only the token-exchange grant', async () => {
    const { config } = await loadConfigFile(join(examplesDir, 'config-token-exchange.yaml'), {});
    expect(config.oauth2.grantTypes).toEqual(['urn:ietf:params:oauth:grant-type:token-exchange']);
    expect(config.storage).toEqual({ type: 'sqlite3', file: 'dex.db' });
    expect(config.connectors[0]).toEqual({
      type: 'oidc',
      id: 'my-upstream',
      name: 'My Upstream',
      config: { issuer: 'https://token.example.com', scopes: ['groups', 'federated:id'], userNameKey: 'sub' },
    });
    expect(config.staticClients[0]).toMatchObject({ id: 'my-app', secret: 'my-secret', public: true });
  });

  it('config-ad-kubelogin.yaml has the AD LDAP connector and the kubelogin client', async () => {
    const { config } = await loadConfigFile(join(examplesDir, 'config-ad-kubelogin.yaml'), {});
    expect(config.issuerPath).toBe('/dex');
    expect(config.connectors[0]!.type).toBe('ldap');
    expect(config.connectors[0]!.config).toMatchObject({
      host: 'ldap.example.com:636',
      insecureNoSSL: false,
      insecureSkipVerify: true,
      bindDN: 'cn=Administrator,cn=users,dc=example,dc=com',
      bindPW: 'admin0!',
      userSearch: {
        username: 'userPrincipalName',
        idAttr: 'DN',
        emailAttr: 'userPrincipalName',
        nameAttr: 'cn',
      },
      groupSearch: { filter: '(objectClass=group)', userMatchers: [{ userAttr: 'DN', groupAttr: 'member' }] },
    });
    expect(config.staticClients[0]!.redirectURIs).toEqual([
      'http://localhost:8000',
      'http://localhost:18000',
    ]);
    expect(config.oauth2.grantTypes).toEqual([
      'authorization_code',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:device_code',
    ]);
  });

  it('config-sessions.yaml turns sessions on for two clients that share sign-ins', async () => {
    const { config } = await loadConfigFile(join(examplesDir, 'config-sessions.yaml'), {});
    expect(config.sessions).toEqual({
      cookieName: 'latchkey_session',
      absoluteLifetime: 24 * 3_600_000,
      validIfNotUsedFor: 3_600_000,
      rememberMeCheckedByDefault: true,
      ssoSharedWithDefault: 'none',
    });
    expect(config.staticClients.map((c) => [c.id, c.ssoSharedWith])).toEqual([
      ['example-app', ['second-app']],
      ['second-app', ['example-app']],
    ]);
    expect(config.staticClients[0]).toMatchObject({
      postLogoutRedirectURIs: ['http://127.0.0.1:5555/'],
      backchannelLogoutURI: 'http://127.0.0.1:5555/backchannel-logout',
      refreshTokenLifetime: 'session',
    });
    expect(config.staticClients[1]).toMatchObject({
      postLogoutRedirectURIs: ['http://127.0.0.1:5557/'],
      backchannelLogoutURI: 'http://127.0.0.1:5557/backchannel-logout',
    });
    expect(config.enablePasswordDB).toBe(true);
  });

  it('config-custom-frontend.yaml sets the frontend as the seed shows', async () => {
    const { config } = await loadConfigFile(join(examplesDir, 'config-custom-frontend.yaml'), {});
    expect(config.frontend).toEqual({
      dir: 'web',
      theme: 'light',
      issuer: 'my-dex',
      logoURL: 'theme/logo.png',
      extra: {
        tos_footer_link: 'https://example.com/terms',
        client_logo_url: '../theme/client-logo.png',
        foo: 'bar',
      },
    });
  });
});
