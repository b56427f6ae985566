import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as oidc from 'openid-client';
import { REPO_ROOT, startServer, type ServerProcess } from '../helpers/cli.js';
import { writeTestConfig, type TestServerConfig } from '../helpers/config.js';
import { TestBrowser } from '../helpers/browser.js';
import { basicAuth, postForm } from '../helpers/flows.js';
import { freePort } from '../helpers/net.js';
import { StopWaiting, waitFor } from '../helpers/wait.js';
import {
  closeConnections,
  hostileCases,
  judge,
  sendRaw,
  UNCHANGED,
  type HostileCase,
  type RedirectPolicy,
  type Target,
} from '../helpers/hostile-cases.js';
import { mb, memoryAfterGC, type MemoryFigures } from '../helpers/process-memory.js';

// Issue 13, "Faults survived": every endpoint of a real `latchkey serve` (memory storage) and of
// `latchkey example-app` fed empty, huge, duplicated, wrongly-encoded, array- and object-shaped parameters
// and bodies, generated from the table in test/helpers/hostile-cases.ts. No answer may be a 5xx, show a stack
// trace or an internal path, or redirect anywhere unverified; a spoilt request is refused with an OAuth error
// or an HTML page. The sweep runs several rounds against fresh login state, and the server's memory (after a
// full GC forced through its inspector) must come back to about what it was after the first round.

const SECRET = 'ZXhhbXBsZS1hcHAtc2VjcmV0';
const CLIENT_REDIRECT = 'http://127.0.0.1:5555/callback';
const BIN = fileURLToPath(new URL('../../bin/latchkey.js', import.meta.url));
const ROUNDS = 3;

describe('hostile input sweep', () => {
  let cfg: TestServerConfig;
  let server: ServerProcess;
  let inspectorPort: number;
  let app: ChildProcess | undefined;
  let appURL: string;
  let appOutput = '';

  beforeAll(async () => {
    const appPort = await freePort();
    appURL = `http://127.0.0.1:${appPort}`;
    cfg = await writeTestConfig({
      storage: 'storage:\n  type: memory',
      noStaticClient: true,
      extra: `staticClients:
- id: example-app
  secret: ${SECRET}
  name: Example App
  redirectURIs: ['${CLIENT_REDIRECT}', '${appURL}/callback']
enablePasswordDB: true
staticPasswords:
- email: admin@example.com
  hash: "$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW"
  username: admin
  userID: admin-1
connectors:
- type: mockCallback
  id: mock
  name: Mock
oauth2:
  passwordConnector: local`,
    });
    inspectorPort = await freePort();
    server = await startServer(cfg.file, `http://127.0.0.1:${cfg.telemetryPort}/healthz/ready`, {
      env: { NODE_OPTIONS: `--inspect=127.0.0.1:${inspectorPort}` },
    });
    app = spawn(
      process.execPath,
      [
        BIN,
        'example-app',
        '--issuer',
        cfg.issuer,
        '--listen',
        appURL,
        '--redirect-uri',
        `${appURL}/callback`,
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } },
    );
    app.stdout!.on('data', (d: Buffer) => (appOutput += d.toString()));
    app.stderr!.on('data', (d: Buffer) => (appOutput += d.toString()));
    await waitFor(
      async () => {
        if (app!.exitCode !== null) throw new StopWaiting(`example-app exited:\n${appOutput}`);
        return (await fetch(appURL)).ok;
      },
      { what: 'the example app' },
    );
  }, 60_000);

  afterAll(async () => {
    closeConnections();
    if (app && app.exitCode === null && app.signalCode === null) {
      const exited = new Promise((resolve) => app!.once('exit', resolve));
      process.kill(app.pid!, 'SIGTERM');
      await exited;
    }
    await server?.stop();
  });

  /** Fresh login state for one round: the live values a well-formed request to each endpoint carries. */
  async function session() {
    const issuer = cfg.issuer;
    const browser = new TestBrowser();
    const verifier = oidc.randomPKCECodeVerifier();
    const authParams = {
      client_id: 'example-app',
      redirect_uri: CLIENT_REDIRECT,
      response_type: 'code',
      scope: 'openid email groups offline_access',
      state: 'state-1',
      nonce: 'nonce-1',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    const chooser = await browser.open(`${issuer}/auth?${new URLSearchParams(authParams)}`);
    const linkTo = (id: string) => new URL(chooser.$(`a[href*="/auth/${id}?"]`).attr('href')!, chooser.url);
    const sealed = linkTo('local').searchParams.get('req')!;
    const passwordPage = await browser.open(linkTo('local').toString());
    const loginCSRF = passwordPage.$('input[name=csrf_token]').attr('value')!;
    const callback = new URL(
      (await browser.open(linkTo('mock').toString(), { stopAt: `${issuer}/callback` })).url,
    );
    const approvalPage = await browser.open(linkTo('mock').toString());
    const approvalURL = new URL(approvalPage.url);
    const code = async () => {
      const page = await browser.open(linkTo('mock').toString());
      const done = await browser.submit(
        page,
        {},
        { button: { name: 'approval', value: 'approve' }, stopAt: CLIENT_REDIRECT },
      );
      return new URL(done.url).searchParams.get('code')!;
    };
    const tokens = await postForm(
      `${issuer}/token`,
      {
        grant_type: 'authorization_code',
        code: await code(),
        redirect_uri: CLIENT_REDIRECT,
        code_verifier: verifier,
      },
      basicAuth('example-app', SECRET),
    );
    if (tokens.status !== 200) throw new Error(`code grant: ${JSON.stringify(tokens.body)}`);
    const device = await postForm(
      `${issuer}/device/code`,
      { scope: 'openid' },
      basicAuth('example-app', SECRET),
    );
    if (device.status !== 200) throw new Error(`device code: ${JSON.stringify(device.body)}`);
    const devicePage = await browser.open(`${issuer}/device`);
    return {
      cookie: `latchkey_browser=${browser.cookie('latchkey_browser')!}`,
      authParams,
      sealed,
      loginCSRF,
      callbackState: callback.searchParams.get('state')!,
      approval: {
        req: approvalURL.searchParams.get('req')!,
        hmac: approvalURL.searchParams.get('hmac')!,
      },
      unusedCode: await code(),
      verifier,
      accessToken: tokens.body.access_token as string,
      idToken: tokens.body.id_token as string,
      refreshToken: tokens.body.refresh_token as string,
      userCode: device.body.user_code as string,
      deviceCode: device.body.device_code as string,
      deviceCSRF: devicePage.$('input[name=csrf_token]').attr('value')!,
    };
  }

  /** Every endpoint of the issuer (src/server/app.ts and its routers) and of the example app. */
  function targets(s: Awaited<ReturnType<typeof session>>): Target[] {
    const e = cfg.issuer;
    const basic = basicAuth('example-app', SECRET);
    const cookie = { cookie: s.cookie };
    const ignored = { a: '1', b: 'two' };
    const token = (grant: string, params: Record<string, string>): Target => ({
      name: `POST /token ${grant}`,
      method: 'POST',
      url: `${e}/token`,
      where: 'body',
      params: { grant_type: grant, ...params },
      headers: basic,
      auth: 'basic',
    });
    return [
      {
        name: 'GET discovery',
        method: 'GET',
        url: `${e}/.well-known/openid-configuration`,
        where: 'query',
        params: ignored,
        ignoresParams: true,
      },
      {
        name: 'GET /keys',
        method: 'GET',
        url: `${e}/keys`,
        where: 'query',
        params: ignored,
        ignoresParams: true,
      },
      {
        name: 'GET /healthz',
        method: 'GET',
        url: `${e}/healthz`,
        where: 'query',
        params: ignored,
        ignoresParams: true,
      },
      { name: 'GET /auth', method: 'GET', url: `${e}/auth`, where: 'query', params: s.authParams },
      { name: 'POST /auth', method: 'POST', url: `${e}/auth`, where: 'body', params: s.authParams },
      {
        name: 'GET /auth/{connector}',
        method: 'GET',
        url: `${e}/auth/{seg}`,
        segment: 'local',
        where: 'query',
        params: { req: s.sealed },
        headers: cookie,
        auth: 'cookie',
      },
      {
        name: 'GET /auth/{connector}/login',
        method: 'GET',
        url: `${e}/auth/{seg}/login`,
        segment: 'local',
        where: 'query',
        params: { req: s.sealed },
        headers: cookie,
        auth: 'cookie',
      },
      {
        name: 'POST /auth/{connector}/login',
        method: 'POST',
        url: `${e}/auth/{seg}/login`,
        segment: 'local',
        where: 'body',
        fixedQuery: { req: s.sealed },
        params: { login: 'admin@example.com', password: 'password', csrf_token: s.loginCSRF },
        headers: cookie,
        auth: 'cookie',
      },
      {
        name: 'GET /approval',
        method: 'GET',
        url: `${e}/approval`,
        where: 'query',
        params: s.approval,
        headers: cookie,
        auth: 'cookie',
      },
      {
        name: 'POST /approval',
        method: 'POST',
        url: `${e}/approval`,
        where: 'body',
        params: { req: s.approval.req, csrf_token: s.approval.hmac, approval: 'approve' },
        headers: cookie,
        auth: 'cookie',
      },
      {
        name: 'GET /callback',
        method: 'GET',
        url: `${e}/callback`,
        where: 'query',
        params: { state: s.callbackState, code: 'upstream-code' },
        headers: cookie,
        auth: 'cookie',
      },
      token('authorization_code', {
        code: s.unusedCode,
        redirect_uri: CLIENT_REDIRECT,
        code_verifier: s.verifier,
      }),
      token('refresh_token', { refresh_token: s.refreshToken }),
      token('password', { username: 'admin@example.com', password: 'password', scope: 'openid' }),
      // Nobody entered the user code yet: authorization_pending.
      {
        ...token('urn:ietf:params:oauth:grant-type:device_code', { device_code: s.deviceCode }),
        control: 'refused',
      },
      token('urn:ietf:params:oauth:grant-type:token-exchange', {
        subject_token: s.idToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        connector_id: 'mock',
        scope: 'openid',
      }),
      // example-app did not opt into client_credentials: refused even when well-formed.
      { ...token('client_credentials', { scope: 'openid' }), control: 'refused' },
      {
        ...token('', {}),
        name: 'GET /token',
        method: 'GET',
        where: 'query',
        params: ignored,
        control: 'refused',
      },
      {
        name: 'POST /token/introspect',
        method: 'POST',
        url: `${e}/token/introspect`,
        where: 'body',
        params: { token: s.accessToken },
        headers: basic,
        auth: 'basic',
      },
      {
        name: 'POST /token/revoke',
        method: 'POST',
        url: `${e}/token/revoke`,
        where: 'body',
        params: { token: 'made-up-token', token_type_hint: 'refresh_token' },
        headers: basic,
        auth: 'basic',
      },
      ...(['GET', 'POST'] as const).map((method): Target => ({
        name: `${method} /userinfo`,
        method,
        url: `${e}/userinfo`,
        where: method === 'GET' ? 'query' : 'body',
        params: ignored,
        headers: { authorization: `Bearer ${s.accessToken}` },
        auth: 'bearer',
        ignoresParams: true,
      })),
      {
        name: 'POST /device/code',
        method: 'POST',
        url: `${e}/device/code`,
        where: 'body',
        params: { scope: 'openid profile' },
        headers: basic,
        auth: 'basic',
        optionalParams: true,
      },
      {
        name: 'GET /device',
        method: 'GET',
        url: `${e}/device`,
        where: 'query',
        params: { user_code: s.userCode },
        headers: cookie,
        ignoresParams: true,
      },
      {
        name: 'POST /device/auth/verify_code',
        method: 'POST',
        url: `${e}/device/auth/verify_code`,
        where: 'body',
        params: { user_code: s.userCode, csrf_token: s.deviceCSRF },
        headers: cookie,
        auth: 'cookie',
      },
      {
        name: 'GET /device/callback',
        method: 'GET',
        url: `${e}/device/callback`,
        where: 'query',
        params: { state: s.userCode, code: s.unusedCode },
        headers: cookie,
        // The code is real but was issued for the client's redirect URI, not this device.
        control: 'refused',
      },
      {
        name: 'example app GET /',
        method: 'GET',
        url: `${appURL}/`,
        where: 'query',
        params: ignored,
        ignoresParams: true,
      },
      {
        name: 'example app POST /login',
        method: 'POST',
        url: `${appURL}/login`,
        where: 'body',
        params: { scope: 'openid email', extra_scopes: 'groups', cross_client: '', connector_id: 'mock' },
        ignoresParams: true,
      },
      {
        name: 'example app GET /callback',
        method: 'GET',
        url: `${appURL}/callback`,
        where: 'query',
        params: { state: 'not-started-here', code: 'x' },
        control: 'refused',
      },
      {
        name: 'example app POST /callback (refresh)',
        method: 'POST',
        url: `${appURL}/callback`,
        where: 'body',
        params: { refresh_token: 'made-up-refresh-token' },
        control: 'refused',
      },
    ];
  }

  it('answers every case without a 5xx, a stack, an unverified redirect or a spoilt request accepted; memory returns to baseline', async () => {
    const redirects: RedirectPolicy = {
      ownPages: [`${cfg.issuer}/`, `${appURL}/`],
      registered: [CLIENT_REDIRECT, `${appURL}/callback`],
    };
    const byStatus: Record<string, number> = {};
    const problems: string[] = [];
    let cases = 0;
    const memory: { label: string; figures: MemoryFigures }[] = [];
    const measure = async (label: string) =>
      memory.push({ label, figures: await memoryAfterGC(inspectorPort) });

    const sweep = async () => {
      // Controls on one session (each target, unspoilt, answers as described), the table on another: a
      // mutation that still reads as a valid request may use up a code or an approval.
      for (const c of hostileCases(targets(await session()), [UNCHANGED])) {
        const res = await sendRaw(c.request);
        const verdict = judge(c, res, redirects);
        const expected = c.target.control ?? 'served';
        if (verdict.outcome !== expected || verdict.problems.length > 0) {
          problems.push(
            `${c.target.name} unchanged: ${verdict.outcome} (${res.status}), expected ${expected} ${verdict.problems.join('; ')} — ${res.body.slice(0, 160)}`,
          );
        }
      }
      const table: HostileCase[] = hostileCases(targets(await session()));
      for (const c of table) {
        const res = await sendRaw(c.request);
        const verdict = judge(c, res, redirects);
        cases++;
        byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
        for (const p of verdict.problems) {
          problems.push(
            `${c.target.name} × ${c.mutation.name}: ${p} — ${res.body.slice(0, 160).replace(/\s+/g, ' ')}`,
          );
        }
      }
      return table.length;
    };

    await measure('started');
    const perRound = await sweep();
    await measure('after round 1 (baseline)');
    for (let round = 2; round <= ROUNDS; round++) await sweep();
    await measure(`after round ${ROUNDS}`);

    const [started, baseline, after] = memory.map((m) => m.figures) as [
      MemoryFigures,
      MemoryFigures,
      MemoryFigures,
    ];
    console.log(
      `hostile input: ${cases} cases (${perRound} a round × ${ROUNDS}); statuses ${JSON.stringify(byStatus)}; ` +
        `memory after a forced GC — ${memory.map((m) => `${m.label}: rss ${mb(m.figures.rss)}, heap used ${mb(m.figures.heapUsed)}`).join('; ')}` +
        (problems.length > 0 ? `\n${problems.length} problems:\n${problems.join('\n')}` : ''),
    );
    expect(problems).toEqual([]);
    expect(started.heapUsed).toBeGreaterThan(0);
    // Back to about the baseline: live heap within 8 MB, RSS within 48 MB (allocator arenas keep some).
    expect(after.heapUsed - baseline.heapUsed).toBeLessThan(8 * 1024 * 1024);
    expect(after.rss - baseline.rss).toBeLessThan(48 * 1024 * 1024);
  }, 110_000);
});
