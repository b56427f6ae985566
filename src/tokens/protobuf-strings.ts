// Dex encodes `sub` and refresh tokens as protobuf messages whose fields are all strings. Only that wire
// subset is needed (tag = field << 3 | 2, varint length, UTF-8 bytes), and byte-exact compatibility with
// Dex matters more than generality, so it is spelled out here instead of pulling in a protobuf runtime.

function writeVarint(n: number, out: number[]): void {
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
}

/** Encodes string fields 1..n; empty strings are omitted, as proto3 does. */
export function encodeStringFields(fields: string[]): Buffer {
  const out: number[] = [];
  fields.forEach((value, i) => {
    if (value === '') return;
    const bytes = Buffer.from(value, 'utf8');
    writeVarint(((i + 1) << 3) | 2, out);
    writeVarint(bytes.length, out);
    for (const b of bytes) out.push(b);
  });
  return Buffer.from(out);
}

/** Decodes string fields 1..count; returns undefined for anything that is not such a message. */
export function decodeStringFields(buf: Buffer, count: number): string[] | undefined {
  const fields = new Array<string>(count).fill('');
  let pos = 0;
  const readVarint = (): number | undefined => {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= buf.length) return undefined;
      const b = buf[pos++]!;
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
    }
    return undefined;
  };
  while (pos < buf.length) {
    const tag = readVarint();
    if (tag === undefined || (tag & 7) !== 2) return undefined;
    const field = tag >>> 3;
    const len = readVarint();
    if (len === undefined || field < 1 || field > count || pos + len > buf.length) return undefined;
    const value = buf.subarray(pos, pos + len);
    pos += len;
    const text = value.toString('utf8');
    // Reject invalid UTF-8 rather than silently replacing it: these are identifiers.
    if (!Buffer.from(text, 'utf8').equals(value)) return undefined;
    fields[field - 1] = text;
  }
  return fields;
}
