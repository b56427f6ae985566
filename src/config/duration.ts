// Go's time.ParseDuration syntax, because Dex config files are written in it: a sequence of decimal numbers,
// each with an optional fraction and a unit, e.g. "300ms", "1.5h", "2h45m30s". Computed exactly in
// nanoseconds (BigInt) with Go's range limit, returned in milliseconds.

const NS_PER_UNIT: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n, // U+00B5 MICRO SIGN
  μs: 1_000n, // U+03BC GREEK SMALL LETTER MU
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/** Go durations are int64 nanoseconds. */
const MAX_NS = (1n << 63n) - 1n;

export class DurationError extends Error {
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(`invalid duration ${JSON.stringify(input)}: ${reason}`);
    this.name = 'DurationError';
  }
}

export interface DurationOptions {
  /** Go accepts a leading "-"; configuration values never mean it, so it is refused unless asked for. */
  allowNegative?: boolean;
}

// Like Go: a number, then everything up to the next digit or dot is the unit.
const COMPONENT = /^(\d*)(?:\.(\d*))?([^\d.]*)/;

/** Parses a Go duration ("10m", "1h30m", "0") and returns milliseconds (fractional below 1 ms). */
export function parseGoDuration(s: string, options: DurationOptions = {}): number {
  return Number(parseGoDurationNs(s, options)) / 1e6;
}

/** Same as parseGoDuration, in integer nanoseconds. */
export function parseGoDurationNs(s: string, options: DurationOptions = {}): bigint {
  if (typeof s !== 'string' || s === '') throw new DurationError(String(s), 'empty');
  let rest = s;
  let negative = false;
  if (rest[0] === '-' || rest[0] === '+') {
    negative = rest[0] === '-';
    rest = rest.slice(1);
  }
  if (rest === '0') return 0n; // the only unit-less value Go accepts
  if (rest === '') throw new DurationError(s, 'no number');
  if (negative && !options.allowNegative) throw new DurationError(s, 'negative');

  let total = 0n;
  while (rest !== '') {
    const [whole = '', intDigits = '', fracDigits, unitName = ''] = COMPONENT.exec(rest) ?? [];
    if (intDigits === '' && (fracDigits === undefined || fracDigits === '')) {
      throw new DurationError(s, 'expected a number');
    }
    if (unitName === '') throw new DurationError(s, 'missing unit');
    const unit = NS_PER_UNIT[unitName];
    if (unit === undefined) throw new DurationError(s, `unknown unit ${JSON.stringify(unitName)}`);
    let value = BigInt(intDigits === '' ? '0' : intDigits) * unit;
    if (fracDigits) {
      // Truncated below one nanosecond, as Go does.
      value += (BigInt(fracDigits) * unit) / 10n ** BigInt(fracDigits.length);
    }
    total += value;
    if (total > MAX_NS) throw new DurationError(s, 'out of range');
    rest = rest.slice(whole.length);
  }
  return negative ? -total : total;
}

export function isGoDuration(s: string, options: DurationOptions = {}): boolean {
  try {
    parseGoDurationNs(s, options);
    return true;
  } catch {
    return false;
  }
}
