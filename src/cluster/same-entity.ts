// Deep equality of entity values (plain objects, arrays, Dates, byte arrays, primitives), the value universe
// of storage/copy.ts. It decides a compare-and-swap: "is the stored entity still the one the worker read?".
// Like deepCopy, it recognises values by their tag, not instanceof: one side may come from another realm (a
// structured clone is built in the main realm, the code under a jest VM sandbox lives in another). A field
// holding undefined equals an absent one, as it does for every back end's encoding.
export function sameEntity(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const tag = Object.prototype.toString.call(a);
  if (tag !== Object.prototype.toString.call(b)) return false;
  if (tag === '[object Date]') return (a as Date).getTime() === (b as Date).getTime();
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) return sameBytes(a, b);
  if (Array.isArray(a)) return Array.isArray(b) && sameArrays(a, b);
  return sameRecords(a as Record<string, unknown>, b as Record<string, unknown>);
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

function sameArrays(a: unknown[], b: unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => sameEntity(x, b[i]));
}

function sameRecords(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = definedKeys(a);
  return keys.length === definedKeys(b).length && keys.every((k) => sameEntity(a[k], b[k]));
}

function definedKeys(o: Record<string, unknown>): string[] {
  return Object.keys(o).filter((k) => o[k] !== undefined);
}
