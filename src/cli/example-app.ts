import { readFileSync } from 'node:fs';
import { deviceLogin } from '../example-app/device.js';
import { describeError, discoverIssuer } from '../example-app/oidc.js';
import { exampleApp, listen } from '../example-app/web.js';
import { parseFlags } from './args.js';

export const EXAMPLE_APP_USAGE = `Usage: latchkey example-app [options]

A relying party to try Latchkey with (Dex's example-app, on openid-client): it logs a user in with the
authorization code flow (state, nonce and PKCE checked) and shows the ID token, its claims, the access and
refresh tokens (with a Refresh button) and a kubeconfig user entry. With --device it uses the device flow
instead and prints the ID token on standard output (instructions and claims go to standard error).

When the issuer has an end_session_endpoint (Latchkey with sessions on), the token page has a Log out
button: the browser goes to the issuer's logout and back to the app's root (the redirect URI's origin + /,
e.g. http://127.0.0.1:5555/, which must be among the client's postLogoutRedirectURIs). POST
/backchannel-logout takes the issuer's back-channel logout tokens (register it as the client's
backchannelLogoutURI); the start page lists the last ones received.

  --issuer URL             the issuer (default http://127.0.0.1:5556/dex)
  --issuer-root-ca FILE    CA certificate (PEM) of the issuer's TLS certificate
  --listen URL             where to serve the app (default http://127.0.0.1:5555)
  --redirect-uri URL       registered redirect URI; its path is the callback route
                           (default http://127.0.0.1:5555/callback)
  --client-id ID           (default example-app)
  --client-secret SECRET   (default ZXhhbXBsZS1hcHAtc2VjcmV0; "" for a public client)
  --scopes LIST            scopes to ask for, comma- or space-separated; openid is always asked for
                           (default openid,profile,email,groups,offline_access)
  --cross-client ID        also ask for a token meant for client ID (audience:server:client_id:ID), e.g.
                           kubernetes for a kube-apiserver started with --oidc-client-id=kubernetes;
                           repeatable (the web page's field starts with these)
  --device                 no web server: log in with the device flow and print the ID token
  -h, --help               this help
`;

const DEFAULTS = {
  issuer: 'http://127.0.0.1:5556/dex',
  listen: 'http://127.0.0.1:5555',
  redirectURI: 'http://127.0.0.1:5555/callback',
  clientID: 'example-app',
  clientSecret: 'ZXhhbXBsZS1hcHAtc2VjcmV0',
  scopes: 'openid,profile,email,groups,offline_access',
};

export async function exampleAppCommand(args: string[]): Promise<number> {
  const flags = parseFlags({
    args,
    options: {
      issuer: { type: 'string' },
      'issuer-root-ca': { type: 'string' },
      listen: { type: 'string' },
      'redirect-uri': { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      scopes: { type: 'string' },
      'cross-client': { type: 'string', multiple: true },
      device: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.ok && flags.parsed.values.help) {
    process.stdout.write(EXAMPLE_APP_USAGE);
    return 0;
  }
  const fail = (message: string) => {
    process.stderr.write(`latchkey example-app: ${message}\n\n${EXAMPLE_APP_USAGE}`);
    return 2;
  };
  if (!flags.ok) return fail(flags.message);
  const v = flags.parsed.values;
  const issuer = v.issuer ?? DEFAULTS.issuer;
  const listenURL = httpURL(v.listen ?? DEFAULTS.listen);
  const redirectURI = httpURL(v['redirect-uri'] ?? DEFAULTS.redirectURI);
  if (!httpURL(issuer)) return fail('--issuer must be an http(s) URL');
  if (!listenURL || listenURL.protocol !== 'http:' || listenURL.pathname !== '/') {
    return fail('--listen must be http://HOST:PORT (put a TLS proxy in front to serve HTTPS)');
  }
  if (!redirectURI) return fail('--redirect-uri must be an http(s) URL');
  const clientID = v['client-id'] ?? DEFAULTS.clientID;
  if (clientID === '') return fail('--client-id must not be empty');
  const scopes = (v.scopes ?? DEFAULTS.scopes).split(/[\s,]+/).filter((s) => s !== '');
  const crossClients = (v['cross-client'] ?? []).flatMap((s) => s.split(/[\s,]+/)).filter((s) => s !== '');

  let issuerRootCA: string | undefined;
  if (v['issuer-root-ca'] !== undefined) {
    try {
      issuerRootCA = readFileSync(v['issuer-root-ca'], 'utf8');
    } catch (e) {
      return fail(`cannot read --issuer-root-ca: ${(e as Error).message}`);
    }
    if (!issuerRootCA.includes('-----BEGIN CERTIFICATE-----')) {
      return fail(`--issuer-root-ca ${v['issuer-root-ca']} holds no PEM certificate`);
    }
  }

  let config;
  try {
    config = await discoverIssuer({
      issuer,
      clientID,
      clientSecret: v['client-secret'] ?? DEFAULTS.clientSecret,
      ...(issuerRootCA ? { issuerRootCA } : {}),
    });
  } catch (e) {
    process.stderr.write(`latchkey example-app: discovery of ${issuer} failed: ${describeError(e)}\n`);
    return 1;
  }

  if (v.device) {
    const abort = new AbortController();
    const stop = () => abort.abort(new Error('interrupted'));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      return await deviceLogin({
        config,
        scopes,
        crossClients,
        say: (line) => process.stderr.write(`${line}\n`),
        print: (line) => process.stdout.write(`${line}\n`),
        signal: abort.signal,
      });
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  }

  const host = listenURL.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(listenURL.port || 80);
  let server;
  try {
    server = await listen(
      exampleApp({ config, issuer, clientID, redirectURI: redirectURI.href, scopes, crossClients }),
      host,
      port,
    );
  } catch (e) {
    process.stderr.write(
      `latchkey example-app: cannot listen on ${listenURL.host}: ${(e as Error).message}\n`,
    );
    return 1;
  }
  process.stdout.write(
    `Example app for ${issuer} (client ${clientID}) at ${listenURL.origin}/ (callback ${redirectURI.href})\n`,
  );
  return new Promise<number>((resolve) => {
    const stop = () => {
      server.closeAllConnections();
      server.close(() => resolve(0));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

function httpURL(text: string): URL | undefined {
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : undefined;
  } catch {
    return undefined;
  }
}
