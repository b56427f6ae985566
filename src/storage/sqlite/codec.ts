// Entity bodies are stored as JSON. JSON has no dates or bytes, so those become one-key tag objects:
// {"$date": <integer ms>} and {"$bytes": "<base64>"}. An object that itself has a key starting with "$"
// (possible inside a connector's free-form config) is wrapped as {"$obj": {...}} so it is never mistaken
// for a tag. Values are recognised by tag, not instanceof, because they may come from another realm.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function encodeBody(value: unknown): string {
  return JSON.stringify(encode(value));
}

export function decodeBody<T>(text: string): T {
  return decode(JSON.parse(text) as Json) as T;
}

function encode(v: unknown): Json | undefined {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v !== 'object') return undefined;
  if (Object.prototype.toString.call(v) === '[object Date]') return { $date: (v as Date).getTime() };
  if (ArrayBuffer.isView(v))
    return { $bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  if (Array.isArray(v)) return v.map((x) => encode(x) ?? null);
  const out: { [key: string]: Json } = {};
  let needsWrap = false;
  for (const [k, x] of Object.entries(v)) {
    const e = encode(x);
    if (e === undefined) continue;
    out[k] = e;
    if (k.startsWith('$')) needsWrap = true;
  }
  return needsWrap ? { $obj: out } : out;
}

function decode(v: Json): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(decode);
  const keys = Object.keys(v);
  if (keys.length === 1) {
    const tagged = v[keys[0]!]!;
    if (keys[0] === '$date' && typeof tagged === 'number') return new Date(tagged);
    if (keys[0] === '$bytes' && typeof tagged === 'string')
      return new Uint8Array(Buffer.from(tagged, 'base64'));
    if (keys[0] === '$obj' && typeof tagged === 'object' && tagged !== null && !Array.isArray(tagged)) {
      return decodeEntries(tagged);
    }
  }
  return decodeEntries(v);
}

function decodeEntries(v: { [key: string]: Json }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = decode(x);
  return out;
}
