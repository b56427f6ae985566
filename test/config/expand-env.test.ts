import { expandEnv, expandEnvDeep, envLookup } from '../../src/config/expand-env.js';

// Expected values follow Go's os.Expand (src/os/env.go) for the same inputs.
describe('expandEnv (Go os.ExpandEnv semantics)', () => {
  const env = envLookup({ HOME: '/home/u', A: 'a', A_B: 'ab', EMPTY: '', '1': 'one', '*': 'star' });
  const cases: [string, string][] = [
    ['plain', 'plain'],
    ['$HOME', '/home/u'],
    ['${HOME}', '/home/u'],
    ['$HOME/x', '/home/u/x'],
    ['${HOME}x', '/home/ux'],
    ['$HOMEx', ''], // the name runs on: HOMEx is unset
    ['$A_B', 'ab'],
    ['$A-B', 'a-B'],
    ['$UNSET', ''],
    ['x${UNSET}y', 'xy'],
    ['$EMPTY|', '|'],
    ['$', '$'], // a trailing "$" stays
    ['a$', 'a$'],
    ['$.', '$.'], // "$" before a character that cannot start a name stays
    ['$ x', '$ x'],
    ['$/', '$/'],
    ['$$', ''], // no escape: "$$" is the special variable "$" (unset)
    ['pa$$word', 'paword'],
    ['$1', 'one'], // special one-character names
    ['$12', 'one2'],
    ['${*}', 'star'],
    ['$*x', 'starx'],
    ['${}', ''], // bad syntax is eaten
    ['a${}b', 'ab'],
    ['${HOME', 'HOME'], // unterminated: "${" is eaten
    ['${A_B}${A}', 'aba'],
    ['é$A', 'éa'],
  ];
  it.each(cases)('expands %j to %j', (input, output) => {
    expect(expandEnv(input, env)).toBe(output);
  });

  it('expands every string of a nested value, leaving keys and other values alone', () => {
    const value = { $A: '$A', n: 5, b: true, list: ['$HOME', 3, { deep: '${A_B}' }], none: null };
    expect(expandEnvDeep(value, env)).toEqual({
      $A: 'a',
      n: 5,
      b: true,
      list: ['/home/u', 3, { deep: 'ab' }],
      none: null,
    });
  });

  it('reads only own properties of the environment object', () => {
    expect(expandEnv('$toString', envLookup({}))).toBe('');
  });
});
