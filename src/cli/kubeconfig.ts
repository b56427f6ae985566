import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { parseFlags } from './args.js';

export const KUBECONFIG_USAGE = `Usage: latchkey kubeconfig --issuer URL --client-id ID [options]

Prints a kubeconfig that logs users in through Latchkey with kubelogin as a kubectl exec plugin
(client.authentication.k8s.io/v1). Hand it to your users; they need kubelogin installed as
"kubectl oidc-login" (or pass --exec-command kubelogin).

Login (the "users" entry):
  --issuer URL              Latchkey's issuer URL (must match the API server's --oidc-issuer-url)
  --client-id ID            the OAuth2 client kubectl uses (the API server's --oidc-client-id)
  --client-secret SECRET    its secret, if it is not a public client
  --ca-file FILE            CA of Latchkey's TLS certificate, embedded as --certificate-authority-data
  --scope SCOPE             extra scope, repeatable (default: email, groups, offline_access)
  --grant-type TYPE         auto (default), authcode, authcode-keyboard, device-code or password
  --user NAME               name of the users entry (default: oidc)
  --exec-command CMD        kubectl (default: runs "kubectl oidc-login get-token") or kubelogin
  --exec-api-version V      client.authentication.k8s.io/v1 (default) or /v1beta1

Clusters (optional; repeat --cluster for several clusters, each with its own context):
  --cluster NAME=SERVER             an API server, e.g. prod=https://prod.example.com:6443
  --cluster-ca NAME=FILE            that cluster's CA certificate (embedded)
  --cluster-client-id NAME=ID       a client ID for that cluster only (its own users entry, NAME-oidc)
  --current-context NAME            the context to select (default: the first cluster)

  -h, --help                this help
`;

interface Cluster {
  name: string;
  server: string;
  caFile?: string;
  clientID?: string;
}

export async function kubeconfigCommand(args: string[]): Promise<number> {
  const flags = parseFlags({
    args,
    options: {
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      'ca-file': { type: 'string' },
      scope: { type: 'string', multiple: true },
      'grant-type': { type: 'string' },
      user: { type: 'string' },
      'exec-command': { type: 'string' },
      'exec-api-version': { type: 'string' },
      cluster: { type: 'string', multiple: true },
      'cluster-ca': { type: 'string', multiple: true },
      'cluster-client-id': { type: 'string', multiple: true },
      'current-context': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.ok && flags.parsed.values.help) {
    process.stdout.write(KUBECONFIG_USAGE);
    return 0;
  }
  const fail = (message: string) => {
    process.stderr.write(`latchkey kubeconfig: ${message}\n\n${KUBECONFIG_USAGE}`);
    return 2;
  };
  if (!flags.ok) return fail(flags.message);
  const v = flags.parsed.values as Record<string, string | string[] | boolean | undefined>;
  const issuer = v.issuer as string | undefined;
  const clientID = v['client-id'] as string | undefined;
  if (!issuer || !/^https?:\/\/[^/?#]+/.test(issuer)) return fail('--issuer must be an http(s) URL');
  if (!clientID) return fail('--client-id is required');
  const grantType = (v['grant-type'] as string | undefined) ?? 'auto';
  if (!['auto', 'authcode', 'authcode-keyboard', 'device-code', 'password'].includes(grantType)) {
    return fail(
      `--grant-type "${grantType}" is not one of auto, authcode, authcode-keyboard, device-code, password`,
    );
  }
  const execCommand = (v['exec-command'] as string | undefined) ?? 'kubectl';
  if (!['kubectl', 'kubelogin'].includes(execCommand))
    return fail('--exec-command must be kubectl or kubelogin');
  const apiVersion = (v['exec-api-version'] as string | undefined) ?? 'client.authentication.k8s.io/v1';
  if (!['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'].includes(apiVersion)) {
    return fail(
      '--exec-api-version must be client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1',
    );
  }

  let caData: string | undefined;
  const readCA = (file: string): string => readFileSync(file).toString('base64');
  try {
    if (v['ca-file']) caData = readCA(v['ca-file'] as string);
  } catch (e) {
    return fail(`cannot read --ca-file: ${(e as Error).message}`);
  }

  const clusters: Cluster[] = [];
  for (const spec of (v.cluster as string[] | undefined) ?? []) {
    const [name, server] = splitPair(spec);
    if (!name || !server || !/^https:\/\//.test(server))
      return fail(`--cluster "${spec}": expected NAME=https://SERVER`);
    if (clusters.some((c) => c.name === name)) return fail(`--cluster "${name}" given twice`);
    clusters.push({ name, server });
  }
  const byName = (flag: string, spec: string): Cluster | string => {
    const [name, value] = splitPair(spec);
    const c = clusters.find((x) => x.name === name);
    if (!c || !value) return `${flag} "${spec}": expected NAME=VALUE for a cluster given with --cluster`;
    return c;
  };
  for (const spec of (v['cluster-ca'] as string[] | undefined) ?? []) {
    const c = byName('--cluster-ca', spec);
    if (typeof c === 'string') return fail(c);
    c.caFile = splitPair(spec)[1];
  }
  for (const spec of (v['cluster-client-id'] as string[] | undefined) ?? []) {
    const c = byName('--cluster-client-id', spec);
    if (typeof c === 'string') return fail(c);
    c.clientID = splitPair(spec)[1];
  }

  const userName = (v.user as string | undefined) ?? 'oidc';
  const scopes = (v.scope as string[] | undefined) ?? ['email', 'groups', 'offline_access'];
  const execUser = (id: string) => {
    const getToken = [
      'get-token',
      `--oidc-issuer-url=${issuer}`,
      `--oidc-client-id=${id}`,
      ...(v['client-secret'] ? [`--oidc-client-secret=${v['client-secret'] as string}`] : []),
      ...scopes.map((s) => `--oidc-extra-scope=${s}`),
      ...(caData ? [`--certificate-authority-data=${caData}`] : []),
      ...(grantType !== 'auto' ? [`--grant-type=${grantType}`] : []),
    ];
    return {
      exec: {
        apiVersion,
        command: execCommand,
        args: execCommand === 'kubectl' ? ['oidc-login', ...getToken] : getToken,
        interactiveMode: 'IfAvailable',
        provideClusterInfo: false,
      },
    };
  };

  const users = [{ name: userName, user: execUser(clientID) }];
  for (const c of clusters) {
    if (c.clientID && c.clientID !== clientID)
      users.push({ name: `${c.name}-${userName}`, user: execUser(c.clientID) });
  }
  const doc: Record<string, unknown> = { apiVersion: 'v1', kind: 'Config', users };
  if (clusters.length > 0) {
    try {
      doc.clusters = clusters.map((c) => ({
        name: c.name,
        cluster: {
          server: c.server,
          ...(c.caFile ? { 'certificate-authority-data': readCA(c.caFile) } : {}),
        },
      }));
    } catch (e) {
      return fail(`cannot read --cluster-ca: ${(e as Error).message}`);
    }
    doc.contexts = clusters.map((c) => ({
      name: c.name,
      context: {
        cluster: c.name,
        user: c.clientID && c.clientID !== clientID ? `${c.name}-${userName}` : userName,
      },
    }));
    const current = (v['current-context'] as string | undefined) ?? clusters[0]!.name;
    if (!clusters.some((c) => c.name === current))
      return fail(`--current-context "${current}" is not a --cluster`);
    doc['current-context'] = current;
  }
  process.stdout.write(stringify(doc));
  return 0;
}

function splitPair(spec: string): [string, string] {
  const i = spec.indexOf('=');
  return i < 0 ? [spec, ''] : [spec.slice(0, i), spec.slice(i + 1)];
}
