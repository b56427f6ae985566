import {
  BerReader,
  BerWriter,
  EqualityFilter,
  ExtensibleFilter,
  FilterParser,
  OrFilter,
  type Filter,
} from 'ldapts';
import { ConnectorConfigError } from '../../../src/connectors/config-keys.js';
import {
  groupFilter,
  parseAttributeSpec,
  parseConfiguredFilter,
  userFilter,
  type AttributeSpec,
} from '../../../src/connectors/ldap/filters.js';

const spec = (text: string): AttributeSpec => parseAttributeSpec(text, 'p');

/** The filter as the server receives it: written to BER and read back. */
function onTheWire(filter: Filter): Filter {
  const writer = new BerWriter();
  filter.write(writer);
  return FilterParser.parse(new BerReader(writer.buffer));
}

const TRICKY = ["o'brien", 'a*b', 'x(y)', 'back\\slash', '*)(uid=*', '*', 'nul\u0000byte', 'Ünïcødé ✓'];

describe('user search filter', () => {
  const search = {
    filter: parseConfiguredFilter('(objectClass=person)', 'p'),
    username: [spec('sAMAccountName'), spec('userPrincipalName')],
  };

  it('ANDs the configured filter with an OR over the username attributes, escaping once (RFC 4515)', () => {
    expect(userFilter(search, 'jane').toString()).toBe(
      '(&(objectClass=person)(|(sAMAccountName=jane)(userPrincipalName=jane)))',
    );
    expect(userFilter(search, '*)(uid=*').toString()).toBe(
      '(&(objectClass=person)(|(sAMAccountName=\\2a\\29\\28uid=\\2a)(userPrincipalName=\\2a\\29\\28uid=\\2a)))',
    );
    expect(userFilter(search, 'back\\slash').toString()).toBe(
      '(&(objectClass=person)(|(sAMAccountName=back\\5cslash)(userPrincipalName=back\\5cslash)))',
    );
  });

  it('has no OR for a single attribute and no AND without a configured filter', () => {
    expect(userFilter({ username: [spec('uid')] }, 'a*b').toString()).toBe('(uid=a\\2ab)');
  });

  it.each(TRICKY)('sends %j to the server as exactly that value, never as filter syntax', (name) => {
    const wire = onTheWire(userFilter(search, name));
    // (ldapts lower-cases attribute names when it reads a filter back; the server compares them so anyway.)
    expect(wire.toString().toLowerCase()).toBe(userFilter(search, name).toString().toLowerCase());
    const or = (wire as unknown as { filters: Filter[] }).filters[1] as OrFilter;
    expect(or).toBeInstanceOf(OrFilter);
    for (const f of or.filters) {
      expect(f).toBeInstanceOf(EqualityFilter);
      expect((f as EqualityFilter).value).toBe(name);
    }
  });
});

describe('group search filter', () => {
  const search = { filter: parseConfiguredFilter('(objectClass=group)', 'p') };
  const userDN = 'CN=Jane (Ops) Doe\\, Jr.,OU=Staff*,DC=example,DC=com';

  it('passes the AD matching-rule-in-chain through as an extensible match', () => {
    const filter = groupFilter(search, spec('member:1.2.840.113556.1.4.1941:'), userDN);
    expect(filter.toString()).toBe(
      '(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=CN=Jane \\28Ops\\29 Doe\\5c, Jr.,OU=Staff\\2a,DC=example,DC=com))',
    );
    const wire = onTheWire(filter) as unknown as { filters: Filter[] };
    const chain = wire.filters[1] as ExtensibleFilter;
    expect(chain).toBeInstanceOf(ExtensibleFilter);
    expect({ type: chain.matchType, rule: chain.rule, value: chain.value, dn: chain.dnAttributes }).toEqual({
      type: 'member',
      rule: '1.2.840.113556.1.4.1941',
      value: userDN,
      dn: false,
    });
  });

  it('builds plain equality for a plain attribute', () => {
    expect(groupFilter(search, spec('memberUid'), 'jane').toString()).toBe(
      '(&(objectClass=group)(memberUid=jane))',
    );
    expect(groupFilter({}, spec('member'), 'cn=x(y),dc=example').toString()).toBe(
      '(member=cn=x\\28y\\29,dc=example)',
    );
  });
});

describe('attribute settings', () => {
  it.each([
    ['member', { kind: 'equality', attribute: 'member' }],
    ['DN', { kind: 'equality', attribute: 'DN' }],
    ['userCertificate;binary', { kind: 'equality', attribute: 'userCertificate;binary' }],
    ['2.5.4.31', { kind: 'equality', attribute: '2.5.4.31' }],
    [
      'member:1.2.840.113556.1.4.1941:',
      { kind: 'extensible', attribute: 'member', rule: '1.2.840.113556.1.4.1941', dnAttributes: false },
    ],
    [
      'member:dn:caseIgnoreMatch:',
      { kind: 'extensible', attribute: 'member', rule: 'caseIgnoreMatch', dnAttributes: true },
    ],
    [':2.5.13.5:', { kind: 'extensible', attribute: '', rule: '2.5.13.5', dnAttributes: false }],
  ])('%j is understood', (text, expected) => {
    expect(parseAttributeSpec(text, 'p')).toMatchObject(expected);
  });

  it.each(['(member)', 'mem ber', 'member=x', 'member:a:b:c:', ':', '::', 'member:1.2.3'])(
    '%j is refused, naming the key path',
    (text) => {
      expect(() =>
        parseAttributeSpec(text, 'connectors[ldap].config.groupSearch.userMatchers[0].groupAttr'),
      ).toThrow(ConnectorConfigError);
      try {
        parseAttributeSpec(text, 'connectors[ldap].config.groupSearch.userMatchers[0].groupAttr');
      } catch (e) {
        expect((e as Error).message).toMatch(
          /^connectors\[ldap\]\.config\.groupSearch\.userMatchers\[0\]\.groupAttr: /,
        );
      }
    },
  );
});

describe('configured filters', () => {
  it('parses AD filters, including extensible matches and negation', () => {
    const text =
      '(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))';
    expect(parseConfiguredFilter(text, 'p').toString()).toBe(text);
  });

  it('decodes escaped UTF-8 (RFC 4515 §3) into the characters, keeping ASCII escapes', () => {
    const filter = parseConfiguredFilter('(&(ou=R\\c3\\a9seau)(cn=a\\2ab))', 'p') as unknown as {
      filters: EqualityFilter[];
    };
    expect(filter.filters.map((f) => f.value)).toEqual(['Réseau', 'a*b']);
  });

  it.each([
    ['(&(objectClass=person)', 'unbalanced parentheses: 1 ")" missing'],
    ['cn=a)', 'unbalanced parentheses: a ")" too many at character 5'],
    ['(cn=a)(cn=b)', "unexpected text after the filter's closing parenthesis at character 6"],
    ['(cn=a\\zz)', 'Invalid escaped hex character'],
  ])('refuses %j', (text, why) => {
    expect(() => parseConfiguredFilter(text, 'p')).toThrow(`p: not a valid LDAP filter (RFC 4515): ${why}`);
  });

  it('refuses a malformed filter with the key path', () => {
    expect(() =>
      parseConfiguredFilter('(&(objectClass=person)', 'connectors[ldap].config.userSearch.filter'),
    ).toThrow(/^connectors\[ldap\]\.config\.userSearch\.filter: not a valid LDAP filter \(RFC 4515\)/);
  });
});
