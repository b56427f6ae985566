import { Agent, fetch } from 'undici';

// `latchkey kubeconfig` asks the issuer two questions before it hands out a kubeconfig, because a kubeconfig
// that names a wrong issuer URL or client ID fails only later, on a user's machine, with kubelogin's error:
//   1. does the issuer answer discovery, and call itself by exactly the URL given (kube-apiserver and
//      kubelogin both compare it byte for byte: a trailing slash is a different issuer)?
//   2. does it know the client? Asked with an authorization request that no server can carry out: a
//      response_type nobody supports. Latchkey and Dex check the client and its redirect URI first, so the
//      answer tells the three cases apart (unknown client: an error page; a redirect URI the client did not
//      register: an error page; both fine: a redirect back with error=unsupported_response_type), and the
//      request fails before anything is stored: no auth request, no session, no cookie kept.

/** kubelogin's redirect URI for the browser login with its default --listen-address (127.0.0.1:8000). */
export const KUBELOGIN_REDIRECT_URI = 'http://localhost:8000';

/** A response_type no server supports, so that the probe can never start a login. */
const PROBE_RESPONSE_TYPE = 'latchkey-kubeconfig-check';

/** How long each request of the check may take. */
const CHECK_TIMEOUT_MS = 10_000;

// How Latchkey ("Unknown client") and Dex ("Invalid client_id") word an unknown client on the error page.
const UNKNOWN_CLIENT = /unknown client|invalid client_id/i;

export class IssuerCheckError extends Error {
  override name = 'IssuerCheckError';
}

/** The issuer answered, but has no client with this ID. */
export class UnknownClientError extends IssuerCheckError {
  override name = 'UnknownClientError';
  constructor(readonly clientID: string) {
    super(
      `the issuer does not know client "${clientID}": add it to the config's staticClients (or create an ` +
        `OAuth2Client), or fix --client-id`,
    );
  }
}

export interface IssuerCheck {
  issuer: string;
  clientIDs: readonly string[];
  /** PEM of the CA that signed the issuer's certificate; the system's CAs otherwise. */
  caPem?: string;
}

export interface ClientFinding {
  clientID: string;
  /** Whether the client may use kubelogin's default redirect URI (needed by the browser login). */
  acceptsKubeloginRedirect: boolean;
}

/** Runs both checks; throws an IssuerCheckError saying what is wrong. */
export async function checkIssuer(check: IssuerCheck): Promise<ClientFinding[]> {
  const agent = new Agent({ connect: check.caPem ? { ca: check.caPem } : {} });
  try {
    const authorizationEndpoint = await discover(agent, check.issuer);
    const findings: ClientFinding[] = [];
    for (const clientID of new Set(check.clientIDs)) {
      findings.push(await probeClient(agent, authorizationEndpoint, clientID));
    }
    return findings;
  } finally {
    await agent.close();
  }
}

/** The issuer's discovery document must answer and name this very issuer; returns its /auth endpoint. */
async function discover(agent: Agent, issuer: string): Promise<string> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const res = await request(agent, url, `fetch discovery ${url}`);
  if (res.status !== 200) throw new IssuerCheckError(`discovery ${url} answered HTTP ${res.status}`);
  let doc: { issuer?: unknown; authorization_endpoint?: unknown };
  try {
    doc = (await res.json()) as typeof doc;
  } catch {
    throw new IssuerCheckError(`discovery ${url} did not answer JSON`);
  }
  if (doc.issuer !== issuer) {
    throw new IssuerCheckError(
      `the issuer calls itself ${JSON.stringify(doc.issuer)}, not "${issuer}": use exactly its URL ` +
        `(kube-apiserver's --oidc-issuer-url must match it too)`,
    );
  }
  if (typeof doc.authorization_endpoint !== 'string') {
    throw new IssuerCheckError(`discovery ${url} has no authorization_endpoint`);
  }
  return doc.authorization_endpoint;
}

async function probeClient(agent: Agent, endpoint: string, clientID: string): Promise<ClientFinding> {
  const url = new URL(endpoint);
  url.search = new URLSearchParams({
    client_id: clientID,
    redirect_uri: KUBELOGIN_REDIRECT_URI,
    response_type: PROBE_RESPONSE_TYPE,
    scope: 'openid',
  }).toString();
  const res = await request(agent, url.toString(), `ask ${endpoint} about client "${clientID}"`);
  const location = res.headers.get('location');
  if (res.status >= 300 && res.status < 400 && location?.startsWith(KUBELOGIN_REDIRECT_URI)) {
    return { clientID, acceptsKubeloginRedirect: true };
  }
  if (res.status >= 500) {
    throw new IssuerCheckError(`${endpoint} answered HTTP ${res.status} for client "${clientID}"`);
  }
  if (UNKNOWN_CLIENT.test(await res.text())) throw new UnknownClientError(clientID);
  return { clientID, acceptsKubeloginRedirect: false };
}

async function request(agent: Agent, url: string, what: string) {
  try {
    return await fetch(url, {
      dispatcher: agent,
      redirect: 'manual',
      signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
    });
  } catch (e) {
    throw new IssuerCheckError(`cannot ${what}: ${describeFetchError(e)} (--skip-check to skip the check)`);
  }
}

/** undici's fetch says only "fetch failed"; the reason (ECONNREFUSED, a certificate error) is its cause. */
function describeFetchError(e: unknown): string {
  const cause = (e as { cause?: unknown }).cause;
  const inner = cause instanceof Error ? cause : e;
  if (inner instanceof Error && inner.name === 'TimeoutError')
    return `no answer within ${CHECK_TIMEOUT_MS} ms`;
  return inner instanceof Error ? inner.message : String(inner);
}
