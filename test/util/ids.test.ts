import { randomIds } from '../../src/util/ids.js';

describe('randomIds', () => {
  it('makes 25-character IDs in Dex alphabet starting with a letter', () => {
    for (let i = 0; i < 200; i++) expect(randomIds.newID()).toMatch(/^[a-z][a-z2-7]{24}$/);
  });
  it('makes 51-character secrets', () => {
    expect(randomIds.newSecret()).toMatch(/^[a-z][a-z2-7]{50}$/);
  });
  it('never repeats', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => randomIds.newID()));
    expect(seen.size).toBe(1000);
  });
});
