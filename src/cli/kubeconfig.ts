import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { asksForHelp, parseFlags } from './args.js';
import { KUBELOGIN_REDIRECT_URI, IssuerCheckError, checkIssuer } from './issuer-check.js';
import { KubeconfigSourceError, clustersFromKubeconfig, type ClusterEntry } from './kubeconfig-source.js';
import { OutputFileExistsError, writePrivateFile } from './private-file.js';

/** Asked for on top of openid (which kubelogin always asks for): groups for RBAC, a refresh token. */
const DEFAULT_SCOPES = ['email', 'groups', 'offline_access'];

export const KUBECONFIG_USAGE = `Usage: latchkey kubeconfig --issuer URL --client-id ID [options]

Prints a kubeconfig that logs users in through Latchkey with kubelogin as a kubectl exec plugin
(client.authentication.k8s.io/v1). Hand it to your users; they need kubelogin installed as
"kubectl oidc-login" (or pass --exec-command kubelogin); the exec entry's installHint says how.
Before printing, it checks that the issuer answers and knows the client (--skip-check to skip).
kubelogin's own flag names (shown in brackets) are accepted too.

Login (the "users" entry):
  --issuer URL              Latchkey's issuer URL (must match the API server's --oidc-issuer-url)
                            [--oidc-issuer-url]
  --client-id ID            the OAuth2 client kubectl uses (the API server's --oidc-client-id)
                            [--oidc-client-id]
  --client-secret SECRET    its secret, if it is not a public client [--oidc-client-secret]
  --ca-file FILE            CA of Latchkey's TLS certificate (not the cluster's), embedded as
                            --certificate-authority-data [--certificate-authority]
  --scope SCOPE             a scope to ask for as well, repeatable [--oidc-extra-scope]; added to the
                            defaults ${DEFAULT_SCOPES.join(', ')} (openid is always asked for)
  --no-default-scopes       ask for openid and the --scope values only: to drop a default scope, pass
                            this and list the ones to keep (without groups, RBAC on groups sees none;
                            without offline_access, users log in again whenever the ID token expires)
  --grant-type TYPE         auto (default), authcode, authcode-keyboard, device-code or password
  --user NAME               name of the users entry (default: oidc)
  --exec-command CMD        kubectl (default: runs "kubectl oidc-login get-token") or kubelogin
  --exec-api-version V      client.authentication.k8s.io/v1 (default) or /v1beta1

Clusters (optional; each cluster gets a context of the same name):
  --cluster NAME=SERVER             an API server, e.g. prod=https://prod.example.com:6443; repeatable
  --cluster-ca NAME=FILE            that cluster's CA certificate (embedded)
  --cluster-client-id NAME=ID       a client ID for that cluster only (its own users entry, NAME-oidc)
  --context NAME                    take the server and CA of this context's cluster from an existing
                                    kubeconfig (never its credentials); repeatable
  --kubeconfig FILE                 the kubeconfig --context reads (default: $KUBECONFIG, else
                                    ~/.kube/config); alone, it means its current context
  --current-context NAME            the context to select (default: the first cluster)

Check and output:
  --skip-check              do not ask the issuer anything (offline, or the issuer is not up yet)
  -o, --output FILE         write the kubeconfig to FILE (mode 0600) instead of standard output
  --force                   with -o, replace FILE if it exists (default: refuse)
  -h, --help                this help

Exit codes: 0 printed, 1 the check failed (nothing is printed) or FILE could not be written, 2 usage error.
`;

const GRANT_TYPES = ['auto', 'authcode', 'authcode-keyboard', 'device-code', 'password'];
const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

// What kubectl prints when the exec command is missing (kubectl shows it only then: with the default
// "kubectl oidc-login", kubectl itself is there and says instead that it has no oidc-login command).
const INSTALL_HINTS: Record<string, string> = {
  kubectl: [
    'This kubeconfig logs in with kubelogin, a kubectl plugin ("kubectl oidc-login"). Install it with',
    '  kubectl krew install oidc-login',
    'or brew install kubelogin, or put kubectl-oidc_login from',
    'https://github.com/int128/kubelogin/releases on your PATH.',
  ].join('\n'),
  kubelogin: [
    'This kubeconfig logs in with kubelogin. Install it with',
    '  brew install kubelogin',
    'or put the kubelogin binary from https://github.com/int128/kubelogin/releases on your PATH.',
  ].join('\n'),
};

/** kubelogin's flag names (what `kubectl oidc-login setup` prints), each with the Latchkey flag it means. */
const KUBELOGIN_SYNONYMS = {
  'oidc-issuer-url': 'issuer',
  'oidc-client-id': 'client-id',
  'oidc-client-secret': 'client-secret',
  'certificate-authority': 'ca-file',
} as const;

export class KubeconfigUsageError extends Error {
  override name = 'KubeconfigUsageError';
}

interface Login {
  issuer: string;
  clientID: string;
  clientSecret?: string;
  caFile?: string;
  scopes: string[];
  grantType: string;
  userName: string;
  execCommand: string;
  apiVersion: string;
}

interface Request {
  login: Login;
  clusters: ClusterEntry[];
  currentContext?: string;
  skipCheck: boolean;
  output?: string;
  force: boolean;
  warnings: string[];
}

export async function kubeconfigCommand(args: string[]): Promise<number> {
  if (asksForHelp(args)) {
    process.stdout.write(KUBECONFIG_USAGE);
    return 0;
  }
  let request: Request;
  let doc: Record<string, unknown>;
  try {
    request = await parseRequest(args);
    doc = buildKubeconfig(request);
  } catch (e) {
    if (!(e instanceof KubeconfigUsageError || e instanceof KubeconfigSourceError)) throw e;
    process.stderr.write(`latchkey kubeconfig: ${e.message}\n\n${KUBECONFIG_USAGE}`);
    return 2;
  }
  for (const w of request.warnings) process.stderr.write(`latchkey kubeconfig: warning: ${w}\n`);

  if (!request.skipCheck) {
    try {
      await checkLogin(request);
    } catch (e) {
      if (!(e instanceof IssuerCheckError)) throw e;
      process.stderr.write(`latchkey kubeconfig: ${e.message}\n`);
      return 1;
    }
  }

  // No folding: the install hint keeps its lines, and nothing a user might copy is split.
  const yaml = stringify(doc, { lineWidth: 0 });
  if (request.output === undefined) {
    process.stdout.write(yaml);
    return 0;
  }
  try {
    await writePrivateFile(request.output, yaml, request.force);
  } catch (e) {
    const message =
      e instanceof OutputFileExistsError
        ? e.message
        : `cannot write ${request.output}: ${(e as Error).message}`;
    process.stderr.write(`latchkey kubeconfig: ${message}\n`);
    return 1;
  }
  process.stderr.write(`latchkey kubeconfig: wrote ${request.output}\n`);
  return 0;
}

async function parseRequest(args: string[]): Promise<Request> {
  const flags = parseFlags({
    args,
    options: {
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      'ca-file': { type: 'string' },
      scope: { type: 'string', multiple: true },
      'no-default-scopes': { type: 'boolean' },
      'grant-type': { type: 'string' },
      user: { type: 'string' },
      'exec-command': { type: 'string' },
      'exec-api-version': { type: 'string' },
      cluster: { type: 'string', multiple: true },
      'cluster-ca': { type: 'string', multiple: true },
      'cluster-client-id': { type: 'string', multiple: true },
      context: { type: 'string', multiple: true },
      kubeconfig: { type: 'string' },
      'current-context': { type: 'string' },
      'skip-check': { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      'oidc-issuer-url': { type: 'string' },
      'oidc-client-id': { type: 'string' },
      'oidc-client-secret': { type: 'string' },
      'oidc-extra-scope': { type: 'string', multiple: true },
      'certificate-authority': { type: 'string' },
    },
  });
  if (!flags.ok) throw new KubeconfigUsageError(flags.message);
  const v = flags.parsed.values;
  const single = (name: keyof typeof KUBELOGIN_SYNONYMS): string | undefined =>
    sameValue(KUBELOGIN_SYNONYMS[name], v[KUBELOGIN_SYNONYMS[name]], name, v[name]);

  const warnings: string[] = [];
  const login: Login = {
    issuer: requireIssuer(single('oidc-issuer-url')),
    clientID: requireClientID(single('oidc-client-id')),
    scopes: extraScopes(
      [...(v.scope ?? []), ...(v['oidc-extra-scope'] ?? [])],
      v['no-default-scopes'] ?? false,
      warnings,
    ),
    grantType: oneOf('--grant-type', v['grant-type'] ?? 'auto', GRANT_TYPES),
    userName: v.user ?? 'oidc',
    execCommand: oneOf('--exec-command', v['exec-command'] ?? 'kubectl', Object.keys(INSTALL_HINTS)),
    apiVersion: oneOf(
      '--exec-api-version',
      v['exec-api-version'] ?? EXEC_API_VERSIONS[0]!,
      EXEC_API_VERSIONS,
    ),
  };
  const clientSecret = single('oidc-client-secret');
  if (clientSecret) login.clientSecret = clientSecret;
  const caFile = single('certificate-authority');
  if (caFile) login.caFile = caFile;

  const clusters = namedClusters(v.cluster ?? []);
  if (v.context !== undefined || v.kubeconfig !== undefined) {
    for (const c of await clustersFromKubeconfig(v.kubeconfig, v.context ?? [])) {
      if (clusters.some((x) => x.name === c.name))
        throw new KubeconfigUsageError(`cluster "${c.name}" given twice`);
      clusters.push(c);
    }
  }
  for (const spec of v['cluster-ca'] ?? []) {
    const [cluster, file] = clusterAndValue(clusters, '--cluster-ca', spec);
    cluster.caData = readBase64(file, '--cluster-ca');
  }
  for (const spec of v['cluster-client-id'] ?? []) {
    const [cluster, id] = clusterAndValue(clusters, '--cluster-client-id', spec);
    if (id !== login.clientID) cluster.clientID = id;
  }
  const currentContext = v['current-context'] ?? clusters[0]?.name;
  if (currentContext !== undefined && !clusters.some((c) => c.name === currentContext)) {
    throw new KubeconfigUsageError(`--current-context "${currentContext}" is not a --cluster or --context`);
  }
  if (v.force && v.output === undefined) throw new KubeconfigUsageError('--force goes with -o FILE');

  return {
    login,
    clusters,
    ...(currentContext !== undefined ? { currentContext } : {}),
    skipCheck: v['skip-check'] ?? false,
    ...(v.output !== undefined ? { output: v.output } : {}),
    force: v.force ?? false,
    warnings,
  };
}

/** The kubeconfig document: one users entry per client ID, one cluster and context per cluster. */
function buildKubeconfig(request: Request): Record<string, unknown> {
  const { login, clusters } = request;
  const caData = login.caFile !== undefined ? readBase64(login.caFile, '--ca-file') : undefined;
  const userOf = (c: ClusterEntry) => (c.clientID ? `${c.name}-${login.userName}` : login.userName);
  const users = [{ name: login.userName, user: execUser(login, login.clientID, caData) }];
  for (const c of clusters) {
    if (c.clientID) users.push({ name: userOf(c), user: execUser(login, c.clientID, caData) });
  }
  const doc: Record<string, unknown> = { apiVersion: 'v1', kind: 'Config', users };
  if (clusters.length === 0) return doc;
  doc.clusters = clusters.map((c) => ({
    name: c.name,
    cluster: {
      server: c.server,
      ...(c.caData ? { 'certificate-authority-data': c.caData } : {}),
      ...(c.tlsServerName ? { 'tls-server-name': c.tlsServerName } : {}),
      ...(c.insecureSkipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}),
    },
  }));
  doc.contexts = clusters.map((c) => ({ name: c.name, context: { cluster: c.name, user: userOf(c) } }));
  doc['current-context'] = request.currentContext;
  return doc;
}

/** The exec entry that runs `kubelogin get-token` with this client. */
function execUser(login: Login, clientID: string, caData: string | undefined) {
  const getToken = [
    'get-token',
    `--oidc-issuer-url=${login.issuer}`,
    `--oidc-client-id=${clientID}`,
    ...(login.clientSecret ? [`--oidc-client-secret=${login.clientSecret}`] : []),
    ...login.scopes.map((s) => `--oidc-extra-scope=${s}`),
    ...(caData ? [`--certificate-authority-data=${caData}`] : []),
    ...(login.grantType !== 'auto' ? [`--grant-type=${login.grantType}`] : []),
  ];
  return {
    exec: {
      apiVersion: login.apiVersion,
      command: login.execCommand,
      args: login.execCommand === 'kubectl' ? ['oidc-login', ...getToken] : getToken,
      installHint: INSTALL_HINTS[login.execCommand],
      interactiveMode: 'IfAvailable',
      provideClusterInfo: false,
    },
  };
}

/** Asks the issuer about every client ID of the kubeconfig; a problem that only may bite is a warning. */
async function checkLogin({ login, clusters }: Request): Promise<void> {
  const clientIDs = [login.clientID, ...clusters.flatMap((c) => (c.clientID ? [c.clientID] : []))];
  const findings = await checkIssuer({
    issuer: login.issuer,
    clientIDs,
    ...(login.caFile !== undefined ? { caPem: readFileSync(login.caFile, 'utf8') } : {}),
  });
  // kubelogin's browser login (grant types auto and authcode) redirects to http://localhost:8000 by default.
  const browserLogin = login.grantType === 'auto' || login.grantType === 'authcode';
  for (const f of findings) {
    if (browserLogin && !f.acceptsKubeloginRedirect) {
      process.stderr.write(
        `latchkey kubeconfig: warning: client "${f.clientID}" does not accept kubelogin's redirect URI ` +
          `${KUBELOGIN_REDIRECT_URI}: the browser login will fail unless the client is public or lists it ` +
          `(and http://localhost:18000) in its redirectURIs\n`,
      );
    }
  }
  process.stderr.write(
    `latchkey kubeconfig: checked: ${login.issuer} answers and knows client${clientIDs.length > 1 ? 's' : ''} ` +
      `${[...new Set(clientIDs)].map((id) => `"${id}"`).join(', ')}\n`,
  );
}

/** A Latchkey flag and its kubelogin synonym: either, or both when they agree. */
function sameValue(
  ours: string,
  ourValue: string | undefined,
  theirs: string,
  theirValue: string | undefined,
): string | undefined {
  if (ourValue !== undefined && theirValue !== undefined && ourValue !== theirValue) {
    throw new KubeconfigUsageError(`--${ours} and --${theirs} say different things; give one`);
  }
  return ourValue ?? theirValue;
}

function requireIssuer(issuer: string | undefined): string {
  if (!issuer || !/^https?:\/\/[^/?#]+/.test(issuer)) {
    throw new KubeconfigUsageError('--issuer must be an http(s) URL');
  }
  return issuer;
}

function requireClientID(clientID: string | undefined): string {
  if (!clientID) throw new KubeconfigUsageError('--client-id is required');
  return clientID;
}

function oneOf(flag: string, value: string, allowed: readonly string[]): string {
  if (!allowed.includes(value)) {
    throw new KubeconfigUsageError(`${flag} "${value}" is not one of ${allowed.join(', ')}`);
  }
  return value;
}

/**
 * The scopes kubelogin asks for besides openid: the defaults plus the given ones, in that order and each
 * once. A scope given is never a replacement: dropping groups or offline_access by accident breaks RBAC or
 * sends users back to the login page every hour, so dropping takes --no-default-scopes, and is warned about.
 */
function extraScopes(given: string[], noDefaults: boolean, warnings: string[]): string[] {
  const wanted = [...(noDefaults ? [] : DEFAULT_SCOPES), ...given.flatMap((s) => s.split(/[\s,]+/))];
  const scopes = [...new Set(wanted.filter((s) => s !== '' && s !== 'openid'))];
  if (!scopes.includes('groups')) {
    warnings.push('no groups scope: ID tokens will carry no groups, so RBAC bindings to groups match nobody');
  }
  if (!scopes.includes('offline_access')) {
    warnings.push(
      'no offline_access scope: no refresh token, users log in again whenever the ID token expires',
    );
  }
  return scopes;
}

function namedClusters(specs: string[]): ClusterEntry[] {
  const clusters: ClusterEntry[] = [];
  for (const spec of specs) {
    const [name, server] = splitPair(spec);
    if (!name || !server || !/^https:\/\//.test(server)) {
      throw new KubeconfigUsageError(`--cluster "${spec}": expected NAME=https://SERVER`);
    }
    if (clusters.some((c) => c.name === name))
      throw new KubeconfigUsageError(`cluster "${name}" given twice`);
    clusters.push({ name, server });
  }
  return clusters;
}

function clusterAndValue(clusters: ClusterEntry[], flag: string, spec: string): [ClusterEntry, string] {
  const [name, value] = splitPair(spec);
  const cluster = clusters.find((c) => c.name === name);
  if (!cluster || !value) {
    throw new KubeconfigUsageError(
      `${flag} "${spec}": expected NAME=VALUE for a cluster given with --cluster`,
    );
  }
  return [cluster, value];
}

function readBase64(file: string, flag: string): string {
  try {
    return readFileSync(file).toString('base64');
  } catch (e) {
    throw new KubeconfigUsageError(`cannot read ${flag}: ${(e as Error).message}`);
  }
}

function splitPair(spec: string): [string, string] {
  const i = spec.indexOf('=');
  return i < 0 ? [spec, ''] : [spec.slice(0, i), spec.slice(i + 1)];
}
