import bcrypt from 'bcrypt';
import { TestBrowser, type Page } from '../helpers/browser.js';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';

// An approval is single-use (issue 13 §10): the same approval form posted twice at once — a double click, two
// tabs, a replay on another replica — yields one code, and the second post a page that says what happened.

const REDIRECT = 'http://127.0.0.1:5555/callback';

let server: InProcessServer;

beforeAll(async () => {
  const hash = await bcrypt.hash('password', 10);
  server = await startInProcess(`
enablePasswordDB: true
staticPasswords:
- email: jane@example.com
  hash: '${hash}'
  username: jane
  userID: user-jane
staticClients:
- id: app
  name: App
  secret: app-secret
  redirectURIs: ['${REDIRECT}']
`);
});
afterAll(async () => {
  await server?.close();
});

async function approvalPage(browser: TestBrowser): Promise<Page> {
  const auth = new URL(`${server.issuer}/auth`);
  auth.search = new URLSearchParams({
    client_id: 'app',
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid email',
    state: 'st-1',
  }).toString();
  let page = await browser.open(auth.toString(), { stopAt: REDIRECT });
  page = await browser.submit(
    page,
    { login: 'jane@example.com', password: 'password' },
    { stopAt: REDIRECT },
  );
  expect(page.$('button[name=approval]').length).toBeGreaterThan(0);
  return page;
}

type StorageMethods = Record<string, (...args: unknown[]) => Promise<unknown>>;

/**
 * Makes two requests overlap for certain: the first storage write of an approval (deleting the AuthRequest,
 * or writing the code) waits until the other request has reached its own, then both go on. Returns the undo.
 */
function holdFirstWritesUntilBoth(methods: string[]): () => void {
  const storage = server.running.storage as unknown as StorageMethods;
  let waiting = 0;
  let releaseBoth!: () => void;
  const both = new Promise<void>((resolve) => (releaseBoth = resolve));
  // Bound: the storage's methods use `this` (the static overlay over the real back end does).
  const originals = methods.map((m) => [m, storage[m]!.bind(storage)] as const);
  for (const [m, original] of originals) {
    storage[m] = async (...args: unknown[]) => {
      if (waiting < 2 && ++waiting === 2) releaseBoth();
      await both;
      return original(...args);
    };
  }
  return () => {
    for (const [m] of originals) delete storage[m];
  };
}

describe('the approval POST', () => {
  it('issues exactly one code when posted twice at once; the other post gets an error page', async () => {
    const browser = new TestBrowser();
    const page = await approvalPage(browser);
    const approve = () =>
      browser.submit(page, {}, { button: { name: 'approval', value: 'approve' }, stopAt: REDIRECT });
    const undo = holdFirstWritesUntilBoth(['deleteAuthRequest', 'createAuthCode']);
    const answers = await Promise.all([approve(), approve()]).finally(undo);

    const redirected = answers.filter((a) => a.url.startsWith(REDIRECT));
    expect(redirected).toHaveLength(1);
    expect(new URL(redirected[0]!.url).searchParams.get('code')).toMatch(/^[a-z][a-z2-7]{24}$/);
    const refused = answers.find((a) => !a.url.startsWith(REDIRECT))!;
    expect(refused.status).toBe(409);
    expect(refused.$('body').text()).toContain('already answered');

    const { items } = await server.running.storage.listAuthRequests();
    expect(items).toHaveLength(0);
  });
});
