// A deep copy of entity values (plain objects, arrays, Dates, byte arrays, primitives). Not structuredClone:
// that builds its result in the main realm, so under a VM-sandboxed test runner (jest) copies would fail
// `instanceof Date` / `instanceof Uint8Array` checks in the code using the storage. For the same reason the
// input is recognised by its tag, not by instanceof: it may come from another realm.
export function deepCopy<T>(value: T): T {
  return copy(value) as T;
}

function copy(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  const tag = Object.prototype.toString.call(v);
  if (tag === '[object Date]') return new Date((v as Date).getTime());
  if (ArrayBuffer.isView(v)) return Uint8Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  if (Array.isArray(v)) return v.map(copy);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = copy(x);
  return out;
}
