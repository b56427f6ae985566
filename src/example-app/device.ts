import * as oidc from 'openid-client';
import { decodeClaims, describeError, kubeconfigUser, scopeParameter } from './oidc.js';

export interface DeviceLoginOptions {
  config: oidc.Configuration;
  scopes: string[];
  crossClients: string[];
  /** Where the instructions and the claims go (stderr): stdout carries only the ID token. */
  say: (line: string) => void;
  /** Where the ID token goes (stdout), so that `TOKEN=$(latchkey example-app --device)` works. */
  print: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * The device authorization grant (RFC 8628) for machines without a browser: asks the issuer for a code,
 * tells the user where to confirm it, polls until they have, and prints the tokens. PKCE as in the code
 * flow. Returns the process exit code.
 */
export async function deviceLogin(opts: DeviceLoginOptions): Promise<number> {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  let started;
  try {
    started = await oidc.initiateDeviceAuthorization(opts.config, {
      scope: scopeParameter(opts.scopes, opts.crossClients),
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
  } catch (e) {
    opts.say(`latchkey example-app: the device login could not start: ${describeError(e)}`);
    return 1;
  }
  opts.say(`To log in, open ${started.verification_uri} and enter the code ${started.user_code}`);
  if (started.verification_uri_complete) {
    opts.say(`(or open ${started.verification_uri_complete} and confirm it)`);
  }
  opts.say(`Waiting for the login (the code expires in ${started.expires_in} s)…`);
  let tokens;
  try {
    tokens = await oidc.pollDeviceAuthorizationGrant(
      opts.config,
      started,
      { code_verifier: codeVerifier },
      opts.signal ? { signal: opts.signal } : {},
    );
  } catch (e) {
    opts.say(`latchkey example-app: the device login failed: ${describeError(e)}`);
    return 1;
  }
  if (!tokens.id_token) {
    opts.say('latchkey example-app: the issuer returned no ID token (is "openid" among the scopes?)');
    return 1;
  }
  const claims = decodeClaims(tokens.id_token);
  const who = String(claims.email ?? claims.name ?? claims.sub ?? 'unknown');
  opts.say(`Logged in as ${who}. Claims:`);
  opts.say(JSON.stringify(claims, null, 2));
  opts.say(
    tokens.refresh_token
      ? 'A refresh token was issued too (offline_access).'
      : 'No refresh token (offline_access was not granted).',
  );
  opts.say('kubeconfig user entry:');
  opts.say(kubeconfigUser(who, tokens.id_token).trimEnd());
  opts.say('ID token (on standard output):');
  opts.print(tokens.id_token);
  return 0;
}
