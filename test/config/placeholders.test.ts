import { ConfigError, parseConfig } from '../../src/config/load.js';
import { findPlaceholders } from '../../src/config/placeholders.js';

const HASH = '$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW';
const BASE = `
issuer: http://127.0.0.1:5556/dex
storage:
  type: memory
web:
  http: 127.0.0.1:5556
`;

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml, env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('loaded without problems');
}

describe('placeholders (REPLACE-ME values of shipped files)', () => {
  it('refuses a placeholder client secret and password hash, naming each key, and nothing else about them', () => {
    const got = problems(`${BASE}
enablePasswordDB: true
staticClients:
  - id: app
    name: App
    redirectURIs: [http://127.0.0.1:5555/callback]
    secret: REPLACE-ME-with-a-random-client-secret
staticPasswords:
  - email: admin@example.com
    hash: 'REPLACE-ME-with-a-bcrypt-hash'
    username: admin
    userID: '1'
`);
    // The hash placeholder is no bcrypt hash either; that would only hide what to do.
    expect(got).toEqual([
      'staticClients[0].secret: replace this placeholder ("REPLACE-ME-with-a-random-client-secret") with your own value',
      'staticPasswords[0].hash: replace this placeholder ("REPLACE-ME-with-a-bcrypt-hash") with your own value',
    ]);
  });

  it('loads the same file once the placeholders are replaced', () => {
    const { config } = parseConfig(
      `${BASE}
enablePasswordDB: true
staticClients:
  - id: app
    name: App
    redirectURIs: [http://127.0.0.1:5555/callback]
    secret: a-secret-of-my-own
staticPasswords:
  - email: admin@example.com
    hash: '${HASH}'
    username: admin
    userID: '1'
`,
      {},
    );
    expect(config.staticClients[0]?.secret).toBe('a-secret-of-my-own');
  });

  it('finds the marker anywhere in any value, in any case and spelling, also under unknown keys', () => {
    const got = problems(`${BASE}
connectors:
  - type: mockCallback
    id: mock
    name: Mock
    config:
      somethingUnknown: prefix-replace_me-suffix
frontend:
  extra:
    banner: Replace-Me
`);
    expect(got).toEqual([
      expect.stringMatching(/^connectors\[0\]\.config\.somethingUnknown: replace this placeholder/),
      expect.stringMatching(/^frontend\.extra\.banner: replace this placeholder/),
    ]);
  });

  it('keeps reporting the other problems of the file', () => {
    const got = problems(`${BASE}
oauth2:
  skipApprovalScreen: maybe
staticClients:
  - id: app
    name: App
    redirectURIs: [http://127.0.0.1:5555/callback]
    secret: REPLACE-ME
`);
    expect(got).toHaveLength(2);
    expect(got[0]).toMatch(/^staticClients\[0\]\.secret: replace this placeholder/);
    expect(got[1]).toMatch(/^oauth2\.skipApprovalScreen: /);
  });

  it('looks at values only, not keys, numbers or booleans; a value that merely resembles the marker passes', () => {
    expect(
      findPlaceholders({ 'REPLACE-ME': 1, a: [true, 3, null], b: 'replace me', c: 'REPLACEME' }),
    ).toEqual([]);
    expect(findPlaceholders({ a: [{ b: 'x' }, { c: 'REPLACE-ME' }] })).toEqual([['a', 1, 'c']]);
  });
});
