import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { REPO_ROOT, startServer, type ServerProcess } from '../helpers/cli.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { BROWSER_COMMAND, PEERS_DIR } from '../helpers/kube-oidc.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';
import { localConfig, objectsOf, ok, run, serviceAccountKubeconfig, type RunResult } from './helpers.js';

// The README's "Install on a cluster", followed literally: every code block marked `<!-- test: install -->`
// is run by bash, in order, in a folder laid out like a clone of the repository; a block marked
// `<!-- test: install FILE -->` is the file of that name. Only the placeholders the README names are
// replaced: the issuer's address, the API server's address and CA, and where the API server finds
// Latchkey's CA. kube-apiserver gets the flags of the block marked `apiserver-flags`. The control plane runs
// no pods, so Latchkey itself runs on this machine, from the configuration and service account the chart
// created, with the TLS Secret the README made: it stands in for the pod and is the only step not in the
// README. The last command, `kubectl get ns`, logs in through kubelogin and a headless browser.

/** The README user's password: "password", as the comment beside its hash in the values says. */
const README_USER = { email: 'alice@example.com', password: 'password' };

interface MarkedBlock {
  /** `install` (commands), `install FILE`, or `install apiserver-flags`. */
  mark: string;
  body: string;
}

async function readmeMarkedBlocks(): Promise<MarkedBlock[]> {
  const text = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  return [...text.matchAll(/<!-- test: ([^>]+?) -->\s*\n```[a-z]*\n([\s\S]*?)```/g)].map((m) => ({
    mark: m[1]!.trim(),
    body: m[2]!,
  }));
}

/** A block's commands: `\`-continued lines joined, comments and blank lines dropped. */
function commandsOf(block: string): string[] {
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.replace(/(^|\s)#.*$/, '').trim())
    .filter(Boolean);
}

interface Placeholders {
  issuerAddress: string;
  apiURL: string;
  clusterCA: string;
  latchkeyCA: string;
}

/** The README's placeholders, as its "What you replace" list names them. */
function substitute(text: string, p: Placeholders): string {
  const out = text
    .replaceAll('--dns latchkey.example.com', `--ip ${p.issuerAddress.split(':')[0]!}`)
    .replaceAll('latchkey.example.com:32000', p.issuerAddress)
    .replaceAll('https://my-cluster.example.com:6443', p.apiURL)
    .replaceAll('cluster-ca.pem', p.clusterCA)
    .replaceAll('/etc/kubernetes/pki/latchkey-ca.pem', p.latchkeyCA);
  // A placeholder the list does not name would reach a command unreplaced: the README must name it.
  if (/latchkey\.example\.com|my-cluster\.example\.com/.test(out)) {
    throw new Error(`an unnamed placeholder is left in:\n${out}`);
  }
  return out;
}

describe('the README install path, followed literally', () => {
  let work: string;
  let cp: ControlPlane | undefined;
  let latchkey: ServerProcess | undefined;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'latchkey-readme-install-'));
  });
  afterAll(async () => {
    await latchkey?.stop();
    await cp?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('takes a cluster from helm install to `kubectl get ns` through a kubelogin login', async () => {
    const blocks = await readmeMarkedBlocks();
    const commands = blocks.filter((b) => b.mark === 'install').flatMap((b) => commandsOf(b.body));
    const files = blocks.filter((b) => /^install \S+\.\w+$/.test(b.mark));
    const flagsBlock = blocks.find((b) => b.mark === 'install apiserver-flags');
    expect(flagsBlock).toBeDefined();
    expect(files.map((f) => f.mark)).toEqual(['install values.yaml', 'install rbac.yaml']);
    expect(commands[0]).toMatch(/^scripts\/gencert\.sh /);
    expect(commands.at(-1)).toMatch(/^kubectl --kubeconfig \S+ get ns$/);

    // A clone of the repository, as the README's relative paths expect, and `latchkey` on the PATH.
    for (const dir of ['scripts', 'charts']) await symlink(join(REPO_ROOT, dir), join(work, dir));
    const bin = join(work, '.bin');
    await mkdir(bin);
    await writeFile(
      join(bin, 'latchkey'),
      `#!/bin/sh\nexec '${process.execPath}' '${join(REPO_ROOT, 'bin/latchkey.js')}' "$@"\n`,
    );
    await chmod(join(bin, 'latchkey'), 0o755);
    const tokenCache = join(work, '.kube-cache');
    const helmHome = join(work, '.helm');
    const port = await freePort();
    const placeholders: Placeholders = {
      issuerAddress: `127.0.0.1:${port}`,
      apiURL: '', // known once the control plane runs
      clusterCA: '',
      latchkeyCA: join(work, 'ssl/ca.pem'),
    };
    const env = () => ({
      PATH: `${bin}:${PEERS_DIR}:${process.env.PATH ?? ''}`,
      KUBECONFIG: cp?.kubeconfig ?? '',
      HELM_CACHE_HOME: join(helmHome, 'cache'),
      HELM_CONFIG_HOME: join(helmHome, 'config'),
      HELM_DATA_HOME: join(helmHome, 'data'),
      // What kubelogin's browser command needs: the Node to run on, Latchkey's CA, the user at the keyboard.
      LATCHKEY_TEST_NODE: process.execPath,
      NODE_EXTRA_CA_CERTS: placeholders.latchkeyCA,
      LOGIN_USERNAME: README_USER.email,
      LOGIN_PASSWORD: README_USER.password,
    });
    const bash = (command: string): Promise<RunResult> =>
      run('bash', ['-o', 'pipefail', '-c', command], { cwd: work, env: env() });

    let helmInstall: RunResult | undefined;
    let oidcKubeconfig: string | undefined;
    let last: RunResult | undefined;
    try {
      for (const command of commands) {
        const talksToCluster = /^(kubectl|helm)\s/.test(command);
        if (talksToCluster && !cp) {
          // The cluster the README's user has: an API server with the README's flags, pointed at this issuer.
          const flags = commandsOf(substitute(flagsBlock!.body, placeholders))
            .join(' ')
            .split(/\s+/)
            .filter((word) => word.startsWith('--oidc-'));
          expect(flags).toContain(`--oidc-issuer-url=https://${placeholders.issuerAddress}/dex`);
          cp = await startControlPlane({ extraApiserverArgs: flags });
          placeholders.apiURL = cp.apiURL;
          placeholders.clusterCA = cp.caFile;
          for (const f of files) {
            await writeFile(join(work, f.mark.split(' ')[1]!), substitute(f.body, placeholders));
          }
        }
        const line = substitute(command, placeholders);
        if (oidcKubeconfig && line.includes(oidcKubeconfig)) {
          // The API server fetches the issuer's keys by itself and retries every 10 s: poll the command.
          last = await waitFor(
            async () => {
              last = await bash(line);
              return last.code === 0 ? last : undefined;
            },
            { timeoutMs: 60_000, intervalMs: 2_000, what: `\`${line}\` to succeed` },
          ).catch((e: Error) => {
            throw new Error(`${e.message}\n${last?.stderr ?? ''}`, { cause: e });
          });
        } else {
          last = ok(await bash(line), line);
        }

        const install = /^helm install (\S+) \S+ -n (\S+)/.exec(line);
        if (install) {
          helmInstall = last;
          latchkey = await startInPlaceOfThePod(cp!, install[1]!, install[2]!, port, work, env());
        }
        const kubeconfigOut = /^latchkey kubeconfig .*> (\S+)$/.exec(line);
        if (kubeconfigOut) {
          oidcKubeconfig = kubeconfigOut[1]!;
          await addTestOnlyKubeloginArgs(join(work, oidcKubeconfig), tokenCache);
        }
      }
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- Latchkey ---\n${latchkey?.output() ?? ''}`, { cause: e });
    }

    // kubectl listed the namespaces, the README's among them.
    expect(last!.stdout).toMatch(/^NAME\s+STATUS\s+AGE$/m);
    expect(last!.stdout).toMatch(/^latchkey\s+Active\s/m);
    // As the prefixed user and group of the README's flags: the group the RBAC example binds.
    const whoami = ok(
      await bash(`kubectl --kubeconfig ${oidcKubeconfig!} auth whoami -o json`),
      'kubectl auth whoami',
    );
    const user = (
      JSON.parse(whoami.stdout) as { status: { userInfo: { username: string; groups: string[] } } }
    ).status.userInfo;
    expect(user).toMatchObject({
      username: `oidc:${README_USER.email}`,
      groups: ['oidc:devs', 'system:authenticated'],
    });

    // The install notes print the README's API server flags (the CA file is a hint there, the issuer exact).
    const readmeFlags = commandsOf(flagsBlock!.body)
      .join(' ')
      .split(/\s+/)
      .filter((w) => w.startsWith('--oidc-') && !w.startsWith('--oidc-ca-file='));
    const notes = substitute(helmInstall!.stdout, placeholders);
    for (const flag of readmeFlags) {
      expect({ flag, inNotes: notes.includes(`  ${substitute(flag, placeholders)}\n`) }).toEqual({
        flag,
        inNotes: true,
      });
    }
  }, 240_000);
});

/**
 * Latchkey as the release's pod would run it: the chart's config Secret, a token of its service account, and
 * the TLS Secret it mounts; only the listen address is this machine's (the issuer's port on 127.0.0.1).
 */
async function startInPlaceOfThePod(
  cp: ControlPlane,
  release: string,
  namespace: string,
  port: number,
  work: string,
  env: NodeJS.ProcessEnv,
): Promise<ServerProcess> {
  const manifest = ok(
    await run(join(PEERS_DIR, 'helm'), ['get', 'manifest', release, '-n', namespace], { env }),
    'helm get manifest',
  );
  const deployment = objectsOf(manifest.stdout).find((o) => o.kind === 'Deployment')!;
  const pod = (deployment.spec as { template: { spec: PodSpec } }).template.spec;
  const secretOf = (volume: string) => {
    const name = pod.volumes.find((v) => v.name === volume)?.secret?.secretName;
    if (!name) throw new Error(`the Deployment mounts no Secret as volume ${volume}`);
    return name;
  };
  const secretKey = async (name: string, key: string) =>
    Buffer.from(
      ok(
        await cp.kubectl([
          '-n',
          namespace,
          'get',
          'secret',
          name,
          '-o',
          `jsonpath={.data.${key.replace('.', '\\.')}}`,
        ]),
        `kubectl get secret ${name}`,
      ).stdout,
      'base64',
    ).toString('utf8');
  const configSecret = secretOf('config');
  const tlsSecret = secretOf('tls');
  const podDir = join(work, '.pod');
  await mkdir(podDir);
  const cert = join(podDir, 'tls.crt');
  const key = join(podDir, 'tls.key');
  await writeFile(cert, await secretKey(tlsSecret, 'tls.crt'));
  await writeFile(key, await secretKey(tlsSecret, 'tls.key'), { mode: 0o600 });
  const kubeconfig = await serviceAccountKubeconfig(cp, namespace, pod.serviceAccountName, podDir);
  const cfg = await localConfig(await secretKey(configSecret, 'config.yaml'), kubeconfig, podDir, {
    port,
    cert,
    key,
  });
  return startServer(cfg.file, `http://127.0.0.1:${cfg.telemetryPort}/healthz/ready`);
}

interface PodSpec {
  serviceAccountName: string;
  volumes: { name: string; secret?: { secretName: string } }[];
}

/**
 * The kubeconfig `latchkey kubeconfig` wrote, used as written; only kubelogin flags that make the login
 * non-interactive are appended: a private token cache, the headless browser, and a free callback port.
 */
async function addTestOnlyKubeloginArgs(file: string, tokenCache: string): Promise<void> {
  const doc = parse(await readFile(file, 'utf8')) as {
    users: { user: { exec: { args: string[] } } }[];
  };
  expect(doc.users).toHaveLength(1);
  doc.users[0]!.user.exec.args.push(
    `--token-cache-dir=${tokenCache}`,
    `--browser-command=${BROWSER_COMMAND}`,
    `--listen-address=127.0.0.1:${await freePort()}`,
  );
  await writeFile(file, stringify(doc));
}
