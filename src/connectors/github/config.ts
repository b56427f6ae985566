import { ConfigSection, ConnectorConfigError } from '../config-keys.js';
import { readRootCAs } from '../http.js';

// `type: github` configuration (reference §6), read the way Dex reads it: keys case-insensitively (Go's
// encoding/json), `$VAR` already expanded by the config loader. Everything is checked when the connector is
// opened, so a mistake stops `latchkey serve` with the key path instead of failing every login later.

/** `type: github` configuration keys (reference §6), read case-insensitively like every connector config. */
export const GITHUB_CONFIG_KEYS = [
  'clientID',
  'clientSecret',
  'redirectURI',
  'org',
  'orgs',
  'hostName',
  'rootCA',
  'teamNameField',
  'loadAllGroups',
  'useLoginAsID',
  'preferredEmailDomain',
] as const;

const ORG_KEYS = ['name', 'teams'];

/** Which of a team's names become group names: its display name, its URL slug, or both. */
export type TeamNameField = 'name' | 'slug' | 'both';

/** One entry of `orgs`: members of the org may log in (only those in one of `teams`, when teams are listed). */
export interface OrgRule {
  name: string;
  teams: string[];
}

/**
 * Who may log in and which groups they get:
 * * `orgs`: members of at least one listed org (and team, where teams are listed);
 * * `org` (Dex's legacy key): members of that one org; groups are its team names without a prefix;
 * * `open`: anyone with a GitHub account; groups only with loadAllGroups.
 */
export type Membership = { kind: 'orgs'; orgs: OrgRule[] } | { kind: 'org'; org: string } | { kind: 'open' };

export interface GitHubConfig {
  clientID: string;
  clientSecret: string;
  /** Must equal Latchkey's own callback when given (checked at login: opening does not know the issuer). */
  redirectURI?: string;
  membership: Membership;
  /** GitHub Enterprise host (`host[:port]`); undefined = github.com. */
  hostName?: string;
  /** Where browsers authorize and the code is exchanged: `https://github.com` or `https://<hostName>`. */
  webURL: string;
  /** The REST API root: `https://api.github.com` or `https://<hostName>/api/v3`. */
  apiURL: string;
  /** PEM certificates trusted for the Enterprise host besides the system's (from rootCA). */
  rootCAs?: string[];
  teamNameField: TeamNameField;
  loadAllGroups: boolean;
  useLoginAsID: boolean;
  /** A domain glob (`example.com`, `*.example.com`), lower-cased; undefined = the primary email. */
  preferredEmailDomain?: string;
}

export interface ParsedGitHubConfig {
  config: GitHubConfig;
  /** Non-fatal findings (legacy keys, settings that have no effect), for a warning. */
  warnings: string[];
}

/** Validates a connector's `config` mapping and reads the rootCA file; throws ConnectorConfigError. */
export function parseGitHubConfig(top: ConfigSection): ParsedGitHubConfig {
  const warnings: string[] = [];
  // Required although Dex is silent about them: without either, GitHub refuses every code exchange, and an
  // unset $GITHUB_CLIENT_SECRET is better reported by `serve --check` than by the first user.
  const clientID = top.requiredString('clientID', 'required (the OAuth app\'s "Client ID")');
  const clientSecret = top.requiredString('clientSecret', 'required (a client secret of the OAuth app)');
  const redirectURI = top.url('redirectURI');
  const membership = readMembership(top);

  const hostName = readHostName(top);
  const rootCA = top.string('rootCA');
  if (rootCA !== undefined && hostName === undefined) {
    throw new ConnectorConfigError(
      top.keyPath('rootCA'),
      'requires hostName: rootCA is for a GitHub Enterprise host (github.com is trusted through the system roots)',
    );
  }
  const rootCAs =
    rootCA === undefined ? undefined : readRootCAs([{ path: top.keyPath('rootCA'), value: rootCA }]);

  const loadAllGroups = top.boolean('loadAllGroups');
  if (loadAllGroups && membership.kind !== 'open') {
    warnings.push(
      `${top.keyPath('loadAllGroups')}: has no effect when ${membership.kind} is set (groups come from the listed organizations)`,
    );
  }
  const preferredEmailDomain = readPreferredEmailDomain(top);

  return {
    config: {
      clientID,
      clientSecret,
      ...(redirectURI !== undefined ? { redirectURI } : {}),
      membership,
      ...(hostName !== undefined ? { hostName } : {}),
      webURL: hostName === undefined ? 'https://github.com' : `https://${hostName}`,
      apiURL: hostName === undefined ? 'https://api.github.com' : `https://${hostName}/api/v3`,
      ...(rootCAs !== undefined ? { rootCAs } : {}),
      teamNameField: readTeamNameField(top),
      loadAllGroups,
      useLoginAsID: top.boolean('useLoginAsID'),
      ...(preferredEmailDomain !== undefined ? { preferredEmailDomain } : {}),
    },
    warnings,
  };
}

function readMembership(top: ConfigSection): Membership {
  const org = top.string('org');
  const listed = top.list('orgs');
  if (org !== undefined && listed !== undefined && listed.items.length > 0) {
    throw new ConnectorConfigError(
      top.keyPath('org'),
      'cannot be combined with orgs (org is the older form of orgs: move it into the orgs list)',
    );
  }
  // No deprecation warning: the seed's own deployment uses `org`, and moving to `orgs` would change the
  // groups (org:team instead of bare team names), so it is not a drop-in replacement to advise.
  if (org !== undefined) return { kind: 'org', org };
  if (listed === undefined || listed.items.length === 0) return { kind: 'open' };
  const seen = new Map<string, string>();
  const orgs = listed.items.map((item, i) => {
    const section = ConfigSection.of(`${listed.path}[${i}]`, item);
    const unknown = section.unknownKeys(ORG_KEYS);
    // An unknown key here is most likely a misspelt `teams`: ignoring it would let the whole org in.
    if (unknown.length > 0) throw new ConnectorConfigError(unknown[0]!, 'not an orgs key (name, teams)');
    const name = section.requiredString(
      'name',
      "required (the organization's login, as in github.com/<name>)",
    );
    const earlier = seen.get(name.toLowerCase());
    if (earlier !== undefined) {
      throw new ConnectorConfigError(
        section.keyPath('name'),
        `${JSON.stringify(name)} is already listed at ${earlier}; list each organization once`,
      );
    }
    seen.set(name.toLowerCase(), section.keyPath('name'));
    const teams = (section.strings('teams') ?? []).map((t) => t.value);
    return { name, teams };
  });
  return { kind: 'orgs', orgs };
}

/** `host` or `host:port` of a GitHub Enterprise server; Dex only refuses a `/`. */
function readHostName(top: ConfigSection): string | undefined {
  const value = top.string('hostName');
  if (value === undefined) return undefined;
  const path = top.keyPath('hostName');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new ConnectorConfigError(
      path,
      `expected a host name, not a URL: write ${JSON.stringify(value.replace(/^[^:]+:\/\//, '').replace(/\/.*$/, ''))} (the connector always uses https)`,
    );
  }
  if (/[\s/?#@\\]/.test(value)) {
    throw new ConnectorConfigError(path, `expected host or host:port, got ${JSON.stringify(value)}`);
  }
  try {
    new URL(`https://${value}/`);
  } catch {
    throw new ConnectorConfigError(path, `expected host or host:port, got ${JSON.stringify(value)}`);
  }
  return value;
}

function readTeamNameField(top: ConfigSection): TeamNameField {
  const value = top.string('teamNameField') ?? 'name';
  if (value !== 'name' && value !== 'slug' && value !== 'both') {
    throw new ConnectorConfigError(
      top.keyPath('teamNameField'),
      `expected "name", "slug" or "both", got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * A domain, or a glob whose `*` labels stand for exactly one label each (`*.example.com` matches
 * `eu.example.com`, not `example.com` nor `a.eu.example.com`), as Dex matches it. A trailing `*` would
 * match any top-level domain, so Dex refuses it and so do we.
 */
function readPreferredEmailDomain(top: ConfigSection): string | undefined {
  const value = top.string('preferredEmailDomain');
  if (value === undefined) return undefined;
  const path = top.keyPath('preferredEmailDomain');
  if (value.endsWith('*')) {
    throw new ConnectorConfigError(
      path,
      `may not end with "*" (got ${JSON.stringify(value)}): a wildcard top-level domain would match anyone's address`,
    );
  }
  const labels = value.split('.');
  const bad = labels.find((l) => l === '' || (l !== '*' && !/^[A-Za-z0-9_-]+$/.test(l)));
  if (value.includes('@') || bad !== undefined) {
    throw new ConnectorConfigError(
      path,
      `expected a domain such as "example.com" or "*.example.com", got ${JSON.stringify(value)}`,
    );
  }
  return value.toLowerCase();
}

/** Whether an email address's domain matches the preferredEmailDomain glob (case-insensitively). */
export function matchesEmailDomain(glob: string, email: string): boolean {
  const at = email.lastIndexOf('@');
  if (at < 0) return false;
  const domain = email
    .slice(at + 1)
    .toLowerCase()
    .split('.');
  const pattern = glob.split('.');
  return domain.length === pattern.length && pattern.every((p, i) => p === '*' || p === domain[i]);
}
