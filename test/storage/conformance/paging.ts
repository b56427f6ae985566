import type { ListOptions, Page, Storage } from '../../../src/storage/storage.js';
import { allKits, type Kit } from '../kits.js';
import type { SuiteContext } from './context.js';

// Lists are paged everywhere; a caller following `continue` must see every entity exactly once.

const TOTAL = 25;
const LIMIT = 10;

export function describePaging(ctx: SuiteContext): void {
  for (const kit of allKits) {
    const list = kit.list;
    if (list) describe(`${kit.name} list`, () => describeKitPaging(ctx, kit, list));
  }
}

async function readAllPages<T>(
  list: (s: Storage, o?: ListOptions) => Promise<Page<T>>,
  s: Storage,
  limit: number,
): Promise<Page<T>[]> {
  const pages: Page<T>[] = [];
  let token: string | undefined;
  do {
    const page = await list(s, token === undefined ? { limit } : { limit, continue: token });
    pages.push(page);
    token = page.continue;
    if (pages.length > TOTAL + 1) throw new Error('paging does not terminate');
  } while (token !== undefined);
  return pages;
}

function describeKitPaging<T>(
  ctx: SuiteContext,
  kit: Kit<T>,
  list: (s: Storage, o?: ListOptions) => Promise<Page<T>>,
): void {
  const createAll = async (s: Storage): Promise<T[]> => {
    const all = Array.from({ length: TOTAL }, (_, i) => kit.make(i));
    await Promise.all(all.map((v) => kit.create(s, v)));
    return all;
  };

  it('is empty on an empty storage', async () => {
    const page = await list(ctx.storage, {});
    expect(page.items).toEqual([]);
    expect(page.continue).toBeUndefined();
  });

  it(`serves ${TOTAL} entities in pages of ${LIMIT}, each once, all of them`, async () => {
    const s = ctx.storage;
    const all = await createAll(s);
    const pages = await readAllPages(list, s, LIMIT);
    expect(pages.map((p) => p.items.length)).toEqual([10, 10, 5]);
    const keys = pages.flatMap((p) => p.items.map(kit.key));
    expect(new Set(keys).size).toBe(TOTAL);
    expect([...keys].sort()).toEqual(all.map(kit.key).sort());
    const byKey = new Map(pages.flatMap((p) => p.items).map((v) => [kit.key(v), v]));
    for (const v of all) expect(kit.comparable(byKey.get(kit.key(v))!)).toEqual(kit.comparable(v));
  });

  it('serves everything in one page without a limit', async () => {
    const s = ctx.storage;
    await createAll(s);
    const page = await list(s);
    expect(page.items).toHaveLength(TOTAL);
    expect(page.continue).toBeUndefined();
  });

  it('keeps its place when an entity already served is deleted', async () => {
    const s = ctx.storage;
    const all = await createAll(s);
    const first = await list(s, { limit: LIMIT });
    expect(first.continue).toBeDefined();
    if (!kit.delete) throw new Error(`${kit.name}: a listed kind needs delete`);
    await kit.delete(s, first.items[LIMIT - 1]!);
    const keys = [...first.items.map(kit.key)];
    let token = first.continue;
    while (token !== undefined) {
      const page = await list(s, { limit: LIMIT, continue: token });
      keys.push(...page.items.map(kit.key));
      token = page.continue;
    }
    expect(new Set(keys).size).toBe(keys.length);
    expect([...keys].sort()).toEqual(all.map(kit.key).sort());
  });
}
