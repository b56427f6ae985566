// `$VAR` / `${VAR}` expansion with the exact semantics of Go's os.ExpandEnv, which Dex applies to the string
// values of storage.config, connectors[].config and signer.config. Notably there is no escape: "$$" is the
// special variable "$" (normally unset, so it expands to nothing), and a "$" followed by a character that
// cannot start a name stays as it is.

export type Lookup = (name: string) => string | undefined;

function isShellSpecial(c: string): boolean {
  return '*#$@!?-0123456789'.includes(c);
}

function isAlphaNum(c: string): boolean {
  return c === '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/** Go's getShellName: the name after a "$" and how many characters the reference occupies after the "$". */
function shellName(s: string): [name: string, width: number] {
  if (s[0] === '{') {
    if (s.length > 2 && isShellSpecial(s[1]!) && s[2] === '}') return [s[1]!, 3];
    for (let i = 1; i < s.length; i++) {
      if (s[i] === '}') return i === 1 ? ['', 2] : [s.slice(1, i), i + 1]; // "${}" is eaten
    }
    return ['', 1]; // unterminated "${": the "${" is eaten
  }
  if (isShellSpecial(s[0]!)) return [s[0]!, 1];
  let i = 0;
  while (i < s.length && isAlphaNum(s[i]!)) i++;
  return [s.slice(0, i), i];
}

/** Go's os.Expand with a lookup; unset variables expand to "". */
export function expandEnv(s: string, lookup: Lookup): string {
  let out = '';
  let copiedUpTo = 0;
  for (let j = 0; j < s.length; j++) {
    if (s[j] === '$' && j + 1 < s.length) {
      out += s.slice(copiedUpTo, j);
      const [name, width] = shellName(s.slice(j + 1));
      if (name === '' && width > 0) {
        // invalid syntax: the characters are dropped
      } else if (name === '') {
        out += '$'; // not followed by a name: the "$" stays
      } else {
        out += lookup(name) ?? '';
      }
      j += width;
      copiedUpTo = j + 1;
    }
  }
  return copiedUpTo === 0 ? s : out + s.slice(copiedUpTo);
}

export function envLookup(env: NodeJS.ProcessEnv): Lookup {
  return (name) => (Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined);
}

/** Expands every string inside a JSON-like value (maps and lists, recursively); keys are left alone. */
export function expandEnvDeep(value: unknown, lookup: Lookup): unknown {
  if (typeof value === 'string') return expandEnv(value, lookup);
  if (Array.isArray(value)) return value.map((v) => expandEnvDeep(v, lookup));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnvDeep(v, lookup);
    return out;
  }
  return value;
}
