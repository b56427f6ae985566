import { ConnectorError } from '../../../src/connectors/connector.js';
import { serveAgain, startUpstreamOidc, type UpstreamOidc } from '../../helpers/upstream-oidc.js';
import { waitFor } from '../../helpers/wait.js';
import { scopes } from '../helpers.js';
import { CALLBACK, JANE, LATCHKEY_AT_UPSTREAM, loginAtUpstream, openOidc, type Opened } from './harness.js';

// Discovery in the background: an issuer that is down when the connector opens is retried with backoff,
// each failure logged naming the connector, logins meanwhile fail with "cannot be reached"; once the issuer
// answers, logins work without reopening anything, and the retries stop.

describe('oidc connector: discovery of an issuer that is down, then up', () => {
  let upstream: UpstreamOidc;
  let o: Opened | undefined;

  beforeAll(async () => {
    upstream = await startUpstreamOidc({ clients: [LATCHKEY_AT_UPSTREAM], accounts: [JANE] });
    await upstream.stop();
  });
  afterAll(async () => {
    o?.stop.abort();
    await upstream?.stop();
  });

  it('retries, logging each failure, and serves logins once the issuer answers', async () => {
    o = openOidc(
      { issuer: upstream.issuer, clientID: 'latchkey', clientSecret: 'latchkey-secret' },
      { id: 'corp' },
    );
    const failures = () =>
      o!.logger.at('warn').filter((r) => r.msg === `connector corp: discovery of ${upstream.issuer} failed`);
    await waitFor(() => failures().length >= 2, { what: 'two failed discovery attempts' });
    expect(failures()[0]!.obj).toMatchObject({
      connector: 'corp',
      issuer: upstream.issuer,
      err: 'ECONNREFUSED',
      failures: 1,
      retryInMs: 50,
    });
    expect(failures()[1]!.obj).toMatchObject({ failures: 2, retryInMs: 100 });

    const attempt = o.connector.beginLogin(scopes, CALLBACK);
    await expect(attempt).rejects.toBeInstanceOf(ConnectorError);
    await expect(attempt).rejects.toMatchObject({
      userMessage: 'The identity provider cannot be reached at the moment; please try again later.',
    });

    await serveAgain(upstream);
    await waitFor(
      () => o!.logger.at('info').some((r) => r.msg === 'upstream discovery succeeded after failures'),
      {
        what: 'discovery to succeed',
      },
    );
    const begun = await o.connector.beginLogin(scopes, CALLBACK);
    const identity = await o.connector.handleCallback(
      scopes,
      CALLBACK,
      await loginAtUpstream(begun.url('s')),
      begun.connectorState,
    );
    expect(identity.userID).toBe('jane-sub');
    // No more attempts once discovered.
    const settled = failures().length;
    await upstream.stop();
    await expect(o.connector.beginLogin(scopes, CALLBACK)).resolves.toBeDefined();
    expect(failures().length).toBe(settled);
  });
});
