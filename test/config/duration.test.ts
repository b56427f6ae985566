import {
  DurationError,
  isGoDuration,
  parseGoDuration,
  parseGoDurationNs,
} from '../../src/config/duration.js';

describe('parseGoDuration', () => {
  const valid: [string, number][] = [
    ['0', 0],
    ['+0', 0],
    ['-0', 0],
    ['300ms', 300],
    ['1.5h', 5_400_000],
    ['10m', 600_000],
    ['1h30m', 5_400_000],
    ['2h45m30s', 9_930_000],
    ['24h', 86_400_000],
    ['3s', 3_000],
    ['.5s', 500],
    ['1.s', 1_000],
    ['1.000000001s', 1_000.000001],
    ['1500us', 1.5],
    ['1500µs', 1.5], // U+00B5
    ['1500μs', 1.5], // U+03BC
    ['2000000ns', 2],
    ['1h1h', 7_200_000], // Go allows a unit twice
    ['30s1h', 3_630_000], // and any order
    ['+5m', 300_000],
    ['2160h', 7_776_000_000],
  ];
  it.each(valid)('parses %j as %d ms', (input, ms) => {
    expect(parseGoDuration(input)).toBe(ms);
  });

  const invalid = [
    '',
    'tomorrow',
    '10', // a plain number needs a unit (only "0" does not)
    '1.5',
    '10 m',
    '1h 30m',
    'h',
    '.h',
    '.',
    '-',
    '+',
    '1d', // Go has no days
    '10M',
    '1hh',
    '1.2.3h',
    'm10',
    '10m ',
    ' 10m',
    '9223372036854775808ns', // one past Go's int64 range
    '2562048h', // out of range too
  ];
  it.each(invalid)('rejects %j', (input) => {
    expect(() => parseGoDuration(input)).toThrow(DurationError);
    expect(isGoDuration(input)).toBe(false);
  });

  it('rejects negative durations unless asked to accept them', () => {
    expect(() => parseGoDuration('-5m')).toThrow(/negative/);
    expect(parseGoDuration('-5m', { allowNegative: true })).toBe(-300_000);
    expect(parseGoDuration('-1h30m', { allowNegative: true })).toBe(-5_400_000);
    expect(isGoDuration('-5m')).toBe(false);
    expect(isGoDuration('-5m', { allowNegative: true })).toBe(true);
  });

  it('keeps nanosecond precision and the int64 limit', () => {
    expect(parseGoDurationNs('9223372036854775807ns')).toBe(9223372036854775807n);
    expect(parseGoDurationNs('2562047h47m16.854775807s')).toBe(9223372036854775807n);
    expect(parseGoDurationNs('1.0000000019s')).toBe(1_000_000_001n); // truncated below 1 ns, as in Go
    expect(parseGoDurationNs('1h')).toBe(3_600_000_000_000n);
  });

  it('names the input and the reason in its error', () => {
    expect(() => parseGoDuration('10')).toThrow('invalid duration "10": missing unit');
    expect(() => parseGoDuration('5x')).toThrow('invalid duration "5x": unknown unit "x"');
    expect(() => parseGoDuration('')).toThrow('invalid duration "": empty');
  });
});
