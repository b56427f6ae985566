import * as cheerio from 'cheerio';

export interface Page {
  url: string;
  status: number;
  html: string;
  $: cheerio.CheerioAPI;
}

/**
 * A minimal browser for protocol tests: one cookie jar, redirects followed by hand (so tests can stop at the
 * client's redirect URI), forms submitted with their hidden fields — what a user's browser does, without a
 * rendering engine. (Real Chromium comes with the page tests.)
 */
export class TestBrowser {
  private readonly cookies = new Map<string, string>();
  /** Every URL requested, in order. */
  readonly history: string[] = [];

  /**
   * GETs (or POSTs) `url` and follows redirects until a page answers, or a redirect leaves for a URL that
   * starts with `stopAt` (returned without being requested).
   */
  async open(
    url: string,
    opts: { stopAt?: string; method?: string; form?: Record<string, string> } = {},
  ): Promise<Page> {
    let method = opts.method ?? 'GET';
    let body: string | undefined = opts.form ? new URLSearchParams(opts.form).toString() : undefined;
    for (let hop = 0; hop < 20; hop++) {
      if (opts.stopAt && url.startsWith(opts.stopAt))
        return { url, status: 0, html: '', $: cheerio.load('') };
      this.history.push(url);
      const res = await fetch(url, {
        method,
        redirect: 'manual',
        headers: {
          cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
          ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        ...(body ? { body } : {}),
      });
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const i = pair!.indexOf('=');
        this.cookies.set(pair!.slice(0, i).trim(), pair!.slice(i + 1).trim());
      }
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        url = new URL(location, url).toString();
        method = 'GET';
        body = undefined;
        continue;
      }
      const html = await res.text();
      return { url, status: res.status, html, $: cheerio.load(html) };
    }
    throw new Error('too many redirects');
  }

  /** Submits the page's form (the first, or the one matching `selector`), overriding some fields. */
  async submit(
    page: Page,
    fields: Record<string, string>,
    opts: { selector?: string; button?: { name: string; value: string }; stopAt?: string } = {},
  ): Promise<Page> {
    const form = page.$(opts.selector ?? 'form').first();
    if (form.length === 0)
      throw new Error(`no form on ${page.url} (HTTP ${page.status}):\n${page.html.slice(0, 500)}`);
    const values: Record<string, string> = {};
    form.find('input').each((_, el) => {
      const name = page.$(el).attr('name');
      const type = page.$(el).attr('type');
      if (name && type !== 'submit') values[name] = page.$(el).attr('value') ?? '';
    });
    if (opts.button) values[opts.button.name] = opts.button.value;
    const action = new URL(form.attr('action') ?? page.url, page.url).toString();
    return this.open(action, {
      method: (form.attr('method') ?? 'GET').toUpperCase(),
      form: { ...values, ...fields },
      ...(opts.stopAt ? { stopAt: opts.stopAt } : {}),
    });
  }

  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  /** Sets (or, with undefined, drops) a cookie by hand: a tampered or foreign one. */
  setCookie(name: string, value: string | undefined): void {
    if (value === undefined) this.cookies.delete(name);
    else this.cookies.set(name, value);
  }

  /** Forgets every cookie: a different browser. */
  clearCookies(): void {
    this.cookies.clear();
  }
}
