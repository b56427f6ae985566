import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { startServer, type ServerProcess } from '../helpers/cli.js';
import { writeTestConfig, type TestServerConfig } from '../helpers/config.js';
import { basicAuth, postForm } from '../helpers/flows.js';
import { startSlapd, SERVICE_DN, SERVICE_PW, USERS_DN, type Slapd } from '../helpers/slapd.js';
import { restartSlapd, stopByPid, type RestartedSlapd } from '../helpers/slapd-outage.js';
import { waitFor } from '../helpers/wait.js';

// Issue 13, "Faults survived": the directory goes away while users refresh. Latchkey (dist/, Kubernetes
// storage on a real kube-apiserver + etcd) logs users in through its LDAP connector against a real slapd;
// a stream of refreshes runs; slapd is stopped by its PID. Every refresh while it is down must answer 503
// temporarily_unavailable — never invalid_grant (that would log the user out) and never a 500 — and once
// slapd is back, the very tokens the clients held through the outage must refresh, each exactly once per
// rotation (one successor per presented token), even though the outage outlasted the reuse window.

const SECRET = 'ZXhhbXBsZS1hcHAtc2VjcmV0';
const REUSE_INTERVAL_MS = 1_000;
const USERS = [
  { login: 'test@example.com', password: 'test-password' },
  { login: 'jane@example.com', password: 'jane-password' },
];
/** Between one user's refreshes: a steady stream, not a flood that starves the 2-core machine. */
const PACE_MS = 40;

type Phase = 'up' | 'down' | 'back';

interface Attempt {
  user: number;
  /** The phase when the request was sent and when its answer came: only `down`→`down` must be a 503. */
  sent: Phase;
  answered: Phase;
  status: number;
  error?: string;
  presented: string;
  successor?: string;
}

describe('LDAP outage during a stream of refreshes (Kubernetes storage, real slapd)', () => {
  let cp: ControlPlane;
  let slapd: Slapd;
  let restarted: RestartedSlapd | undefined;
  let cfg: TestServerConfig;
  let server: ServerProcess;
  let ns: string;

  beforeAll(async () => {
    cp = await startControlPlane();
    ns = await cp.newNamespace('ldap-outage');
    slapd = await startSlapd();
    cfg = await writeTestConfig({
      storage: `storage:\n  type: kubernetes\n  config:\n    kubeConfigFile: ${cp.kubeconfig}\n    namespace: ${ns}\n    crdHandling: ensure`,
      extra: `connectors:
- type: ldap
  id: ldap
  name: Directory
  config:
    host: ${slapd.ldapHost}
    insecureNoSSL: true
    bindDN: ${SERVICE_DN}
    bindPW: ${SERVICE_PW}
    userSearch:
      baseDN: ${USERS_DN}
      filter: (objectClass=person)
      username: userPrincipalName
      idAttr: DN
      emailAttr: userPrincipalName
      nameAttr: cn
    groupSearch:
      baseDN: ${USERS_DN}
      filter: (objectClass=group)
      userMatchers:
      - userAttr: DN
        groupAttr: member
      nameAttr: cn
oauth2:
  passwordConnector: ldap
expiry:
  refreshTokens:
    reuseInterval: ${REUSE_INTERVAL_MS}ms`,
    });
    server = await startServer(cfg.file, `http://127.0.0.1:${cfg.telemetryPort}/healthz/ready`);
  }, 10 * 60_000);

  afterAll(async () => {
    await server?.stop();
    await restarted?.stop();
    await slapd?.stop();
    await cp?.stop();
  });

  const refresh = (token: string) =>
    postForm(
      `${cfg.issuer}/token`,
      { grant_type: 'refresh_token', refresh_token: token },
      basicAuth('example-app', SECRET),
    );

  it('answers 503 while the directory is down and the same tokens refresh once it is back', async () => {
    const held: string[] = [];
    for (const user of USERS) {
      const res = await postForm(
        `${cfg.issuer}/token`,
        {
          grant_type: 'password',
          username: user.login,
          password: user.password,
          scope: 'openid email groups offline_access',
        },
        basicAuth('example-app', SECRET),
      );
      expect(res.status).toBe(200);
      held.push(res.body.refresh_token as string);
    }

    let phase: Phase = 'up';
    let streaming = true;
    const attempts: Attempt[] = [];
    const stream = async (user: number) => {
      while (streaming) {
        const sent = phase;
        const presented = held[user]!;
        const res = await refresh(presented);
        const attempt: Attempt = { user, sent, answered: phase, status: res.status, presented };
        if (typeof res.body.error === 'string') attempt.error = res.body.error;
        if (res.status === 200) {
          attempt.successor = res.body.refresh_token as string;
          held[user] = attempt.successor;
        }
        attempts.push(attempt);
        await new Promise((r) => setTimeout(r, PACE_MS));
      }
    };
    const streams = USERS.map((_, i) => stream(i));
    const okSince = (from: number, p: Phase, count = 1) =>
      USERS.every(
        (_, u) =>
          attempts.slice(from).filter((a) => a.user === u && a.sent === p && a.status === 200).length >=
          count,
      );

    // Up: every user's stream rotates its token a few times.
    await waitFor(() => okSince(0, 'up', 3), {
      what: 'three successful refreshes per user before the outage',
    });

    // Down: slapd stopped by its PID. Stay down until each user has seen three refreshes sent and answered
    // while down, and for longer than the reuse window, so the recovery below cannot lean on it.
    // The phase turns only once slapd has exited: a refresh sent while it was still shutting down may
    // rightly succeed.
    await stopByPid(slapd.pid, 'slapd');
    phase = 'down';
    const downSince = attempts.length;
    const downAt = Date.now();
    await waitFor(
      () =>
        Date.now() - downAt > 3 * REUSE_INTERVAL_MS &&
        USERS.every(
          (_, u) =>
            attempts
              .slice(downSince)
              .filter((a) => a.user === u && a.sent === 'down' && a.answered === 'down').length >= 3,
        ),
      { what: 'three refreshes per user during the outage', timeoutMs: 30_000 },
    );
    const heldThroughOutage = [...held];

    // Back: the same server, directory and ports. The phase turns before slapd starts, so that no answer
    // counted as "down" can come from the restarted directory.
    phase = 'back';
    restarted = await restartSlapd(slapd);
    const backSince = attempts.length;
    await waitFor(() => okSince(backSince, 'back'), {
      what: 'a successful refresh per user after the outage',
      timeoutMs: 30_000,
    });
    streaming = false;
    await Promise.all(streams);

    const during = attempts.filter((a) => a.sent === 'down' && a.answered === 'down');
    const byStatus: Record<string, number> = {};
    for (const a of attempts) {
      const key = `${a.sent}->${a.answered} ${a.status}${a.error ? ` ${a.error}` : ''}`;
      byStatus[key] = (byStatus[key] ?? 0) + 1;
    }
    console.log(
      `ldap outage: ${attempts.length} refreshes, ${during.length} during the outage ` +
        `(${Date.now() - downAt} ms from stop to recovery); by phase and status: ${JSON.stringify(byStatus)}`,
    );

    // While the directory was down: 503 temporarily_unavailable, each one.
    expect(during.length).toBeGreaterThanOrEqual(3 * USERS.length);
    expect(during.filter((a) => a.status !== 503 || a.error !== 'temporarily_unavailable')).toEqual([]);
    // Across the transitions: a success or the outage's 503, never a refusal or a server error.
    expect(
      attempts.filter(
        (a) => !(a.status === 200 || (a.status === 503 && a.error === 'temporarily_unavailable')),
      ),
    ).toEqual([]);
    // The tokens held through the outage were the ones that refreshed afterwards.
    for (const [u, token] of heldThroughOutage.entries()) {
      const first = attempts.find((a) => a.user === u && a.presented === token && a.status === 200);
      expect(first).toBeDefined();
    }
    // Exactly once per rotation: each presented token has one successor, never itself.
    const successors = new Map<string, Set<string>>();
    for (const a of attempts.filter((x) => x.successor !== undefined)) {
      expect(a.successor).not.toBe(a.presented);
      successors.set(a.presented, (successors.get(a.presented) ?? new Set()).add(a.successor!));
    }
    expect([...successors.values()].filter((s) => s.size !== 1)).toEqual([]);

    // The operator sees why: the connector's own reason, logged as a warning (not a bare 503 line).
    const warnings = server
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"refresh: connector unavailable"'))
      .map((l) => JSON.parse(l) as { level: string; connector: string; err: string });
    expect(warnings.length).toBeGreaterThanOrEqual(during.length);
    expect(warnings[0]).toMatchObject({ level: 'WARN', connector: 'ldap' });
    expect(warnings[0]!.err).toContain(`${slapd.ldapHost} cannot be reached`);

    // Still one login per user in storage (no duplicate written by a retry), and each chain goes on.
    const stored = await cp.kubectl(['get', 'refreshtokens.latchkey.dev', '-n', ns, '-o', 'name']);
    expect(stored.code).toBe(0);
    expect(stored.stdout.trim().split('\n')).toHaveLength(USERS.length);
    // Each token presented twice at once (a client retrying): one rotation, the same successor for both.
    const next = await Promise.all(held.flatMap((token) => [refresh(token), refresh(token)]));
    expect(next.map((r) => r.status)).toEqual(next.map(() => 200));
    for (const [u, token] of held.entries()) {
      const [a, b] = [next[2 * u]!.body.refresh_token, next[2 * u + 1]!.body.refresh_token];
      expect(a).toBe(b);
      expect(a).not.toBe(token);
    }

    // And a rotated token stays spent: presenting the pre-outage token again, long past the reuse window,
    // is a replay (the login it belonged to is revoked), as for any other used token.
    const replay = await refresh(heldThroughOutage[0]!);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
  }, 110_000);
});
