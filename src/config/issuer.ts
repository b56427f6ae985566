/** An absolute URL of a route under the issuer ("https://h/dex" + "/token"), whatever trailing slash it has. */
export function issuerURL(issuer: string, path: string): string {
  return `${issuer.replace(/\/+$/, '')}${path}`;
}
