// Seed §1 "Consuming ID tokens": an API that takes Latchkey ID tokens as bearer credentials, and only those
// issued to one client ("only trust the example app's client"). The seed's Go verifier, on jose:
//   * the signature, with the issuer's published keys (its JWKS, fetched again when a token names a key
//     it does not know: Latchkey publishes a key before it signs with it, and rotates them);
//   * the issuer, the audience (the client ID must be in `aud`) and the expiry;
//   * `email_verified` must be true.
// Anything else is answered 401 with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3).
//
// Run it with Node.js 24, which runs TypeScript as it is (in this repository `npx node` is the project's
// Node 24); it needs jose 6 (`npm install jose` outside this repository):
//   npx node examples/bearer-api/server.ts --issuer http://127.0.0.1:5556/dex --client-id example-app
//   curl -H "Authorization: Bearer $ID_TOKEN" http://127.0.0.1:5557/me
// For an issuer whose certificate comes from your own CA: NODE_EXTRA_CA_CERTS=ssl/ca.pem npx node …
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

const USAGE = `Usage: node examples/bearer-api/server.ts --issuer URL [--client-id ID] [--listen HOST:PORT]
  --issuer URL          the Latchkey issuer whose ID tokens are accepted
  --client-id ID        accept only tokens issued to this client (default example-app)
  --listen HOST:PORT    default 127.0.0.1:5557
  --jwks-cooldown SEC   least time between two JWKS fetches for unknown keys (default 30)
GET /me answers the caller's email and groups; GET /healthz answers ok.
`;

const { values } = parseArgs({
  options: {
    issuer: { type: 'string' },
    'client-id': { type: 'string', default: 'example-app' },
    listen: { type: 'string', default: '127.0.0.1:5557' },
    'jwks-cooldown': { type: 'string', default: '30' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help || !values.issuer) {
  process.stderr.write(USAGE);
  process.exit(values.help ? 0 : 2);
}
const issuer = values.issuer;
const clientID = values['client-id'];
const cooldownSeconds = Number(values['jwks-cooldown']);
const listen = /^(.+):(\d+)$/.exec(values.listen);
if (!listen || !Number.isFinite(cooldownSeconds) || cooldownSeconds < 0) {
  process.stderr.write(USAGE);
  process.exit(2);
}

// Asymmetric algorithms only: a token signed with "none" or an HMAC key is never accepted.
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const REALM = 'bearer-api';

type KeySet = ReturnType<typeof createRemoteJWKSet>;
let keySet: Promise<KeySet> | undefined;

/** The issuer's JWKS, located by discovery once (and again after a failed discovery). */
function issuerKeys(): Promise<KeySet> {
  keySet ??= (async () => {
    const res = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
    if (!res.ok) throw new Error(`discovery answered ${res.status}`);
    const doc = (await res.json()) as { issuer?: string; jwks_uri?: string };
    if (doc.issuer !== issuer) throw new Error(`discovery names issuer ${doc.issuer}, not ${issuer}`);
    if (!doc.jwks_uri) throw new Error('discovery has no jwks_uri');
    // jose fetches the set again when a token's kid is not in it (at most once per cooldown).
    return createRemoteJWKSet(new URL(doc.jwks_uri), { cooldownDuration: cooldownSeconds * 1000 });
  })();
  keySet.catch(() => {
    keySet = undefined;
  });
  return keySet;
}

class Unauthorized extends Error {}

/** The verified claims of the request's bearer token; throws Unauthorized with the reason otherwise. */
async function authenticate(req: IncomingMessage): Promise<JWTPayload> {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(req.headers.authorization ?? '');
  if (!match) throw new Unauthorized('');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(match[1]!, await issuerKeys(), {
      issuer,
      audience: clientID,
      algorithms: ALGORITHMS,
      requiredClaims: ['exp', 'iat', 'sub'],
    }));
  } catch (e) {
    if (e instanceof errors.JWTExpired) throw new Unauthorized('the token has expired');
    if (e instanceof errors.JWTClaimValidationFailed) {
      if (e.claim === 'aud') throw new Unauthorized(`the token was not issued to ${clientID}`);
      if (e.claim === 'iss') throw new Unauthorized('the token is from another issuer');
      throw new Unauthorized(`the ${e.claim} claim is invalid`);
    }
    if (e instanceof errors.JWKSNoMatchingKey)
      throw new Unauthorized('the token is signed by an unknown key');
    if (e instanceof errors.JOSEError) throw new Unauthorized('the token is invalid');
    throw e; // the issuer could not be reached: not the caller's fault
  }
  if (payload.email_verified !== true) throw new Unauthorized('the email address is not verified');
  return payload;
}

function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (req.method === 'GET' && path === '/healthz') return answer(res, 200, { status: 'ok' });
  if (req.method !== 'GET' || path !== '/me') return answer(res, 404, { error: 'not_found' });
  authenticate(req).then(
    (claims) => answer(res, 200, { email: claims.email, groups: claims.groups ?? [], sub: claims.sub }),
    (e: unknown) => {
      if (e instanceof Unauthorized) {
        // RFC 6750 §3.1: no error code when no token was sent at all.
        const challenge = e.message
          ? `Bearer realm="${REALM}", error="invalid_token", error_description="${e.message.replace(/["\\]/g, '')}"`
          : `Bearer realm="${REALM}"`;
        const error = e.message ? 'invalid_token' : 'missing_token';
        return answer(res, 401, { error, error_description: e.message }, { 'www-authenticate': challenge });
      }
      process.stderr.write(`bearer-api: cannot verify tokens: ${(e as Error).message}\n`);
      return answer(res, 503, { error: 'temporarily_unavailable' });
    },
  );
});
server.listen(Number(listen[2]), listen[1], () => {
  process.stdout.write(
    `bearer-api: accepting ID tokens of ${issuer} for ${clientID} on http://${values.listen}/me\n`,
  );
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close();
    server.closeAllConnections();
  });
}
