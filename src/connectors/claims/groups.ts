// The shapes upstreams give group memberships in, read the way Dex reads them: a list of names, a list of
// objects with a `name` (Keycloak, some OAuth APIs), or a single name as a bare string.

/** A claim that is there but has a shape no rule can read; the message names the claim. */
export class MalformedClaimError extends Error {
  constructor(readonly claim: string) {
    super(`malformed "${claim}" claim`);
    this.name = 'MalformedClaimError';
  }
}

/**
 * The group names in `value` (the claim `claim`), or undefined when the claim is absent. An element that is
 * neither a string nor an object with a string `name` makes the whole claim malformed when `strict`, and is
 * skipped otherwise (Dex's oauth connector skips, its oidc connector refuses).
 */
export function groupNames(value: unknown, claim: string, strict: boolean): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) {
    if (strict) throw new MalformedClaimError(claim);
    return [];
  }
  const names: string[] = [];
  for (const item of value) {
    const name =
      typeof item === 'string'
        ? item
        : typeof item === 'object' && item !== null && typeof (item as { name?: unknown }).name === 'string'
          ? (item as { name: string }).name
          : undefined;
    if (name !== undefined) names.push(name);
    else if (strict) throw new MalformedClaimError(claim);
  }
  return names;
}

/** Keeps the first of each name, in order. */
export function distinct(names: readonly string[]): string[] {
  return [...new Set(names)];
}
