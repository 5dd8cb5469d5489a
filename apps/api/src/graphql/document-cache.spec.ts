import { parse } from 'graphql';
import { DocumentCache } from './document-cache.js';

const doc = (i: number) => parse(`query Q${i}($f: ListingFilter) { listings(filter: $f, first: 20) { totalCount edges { node { id } } } }`);
const jsonBytes = (i: number) => Buffer.byteLength(JSON.stringify(doc(i)));

describe('DocumentCache', () => {
  it('hands back what it holds', async () => {
    const cache = new DocumentCache();
    const d = doc(1);
    await cache.set('a', d);
    expect(await cache.get('a')).toBe(d);
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.delete('a')).toBe(true);
    expect(await cache.get('a')).toBeUndefined();
    expect(cache.bytes).toBe(0);
  });

  it('holds at most maxBytes, dropping the least recently used', async () => {
    const one = jsonBytes(0);
    const cache = new DocumentCache(10 * one + one / 2); // room for 10 of them
    for (let i = 0; i < 10; i++) await cache.set(`k${i}`, doc(i));
    await cache.get('k0'); // k0 is now the most recently used; k1 the least
    for (let i = 10; i < 1_000; i++) await cache.set(`k${i}`, doc(i));
    expect(cache.size).toBe(10);
    expect(cache.bytes).toBeLessThanOrEqual(cache.maxBytes);
    expect(await cache.get('k999')).toBeDefined();
    expect(await cache.get('k1')).toBeUndefined();
  });

  it('keeps the most recently used one when the next would overflow', async () => {
    const one = jsonBytes(0);
    const cache = new DocumentCache(2 * one + one / 2);
    await cache.set('a', doc(1));
    await cache.set('b', doc(2));
    await cache.get('a');
    await cache.set('c', doc(3));
    expect(await cache.get('a')).toBeDefined();
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.get('c')).toBeDefined();
  });

  it('does not keep a document larger than the whole cache', async () => {
    const cache = new DocumentCache(10);
    await cache.set('big', doc(1));
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });
});
