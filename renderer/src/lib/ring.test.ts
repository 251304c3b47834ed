import { describe, expect, it } from 'vitest';

import { LineRing, SeriesRing } from './ring';

describe('SeriesRing', () => {
  it('keeps the newest samples up to its capacity, oldest first', () => {
    const r = new SeriesRing(3, ['a', 'b'] as const);
    for (let i = 1; i <= 5; i++) r.push(i * 1000, { a: i, b: i * 10 });
    expect(r.length).toBe(3);
    expect(r.tail('a')).toEqual([3, 4, 5]);
    expect(r.tail('b', 2)).toEqual([40, 50]);
    expect(r.time(0)).toBe(3000);
    expect(r.last('a')).toBe(5);
    expect(r.lastTime()).toBe(5000);
  });

  it('stores missing or null channels as NaN', () => {
    const r = new SeriesRing(4, ['a', 'b'] as const);
    r.push(1, { a: 1, b: null });
    r.push(2, { a: 2 });
    expect(r.tail('b').every(Number.isNaN)).toBe(true);
    expect(r.tail('a')).toEqual([1, 2]);
  });

  it('is empty after clear and answers NaN', () => {
    const r = new SeriesRing(2, ['a'] as const);
    r.push(1, { a: 1 });
    r.clear();
    expect(r.length).toBe(0);
    expect(r.last('a')).toBeNaN();
    expect(r.tail('a', 10)).toEqual([]);
  });

  it('stays bounded however many samples arrive', () => {
    const r = new SeriesRing(300, ['a'] as const);
    for (let i = 0; i < 100_000; i++) r.push(i, { a: i });
    expect(r.length).toBe(300);
    expect(r.tail('a', 1)).toEqual([99_999]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new SeriesRing(0, ['a'] as const)).toThrow(RangeError);
    expect(() => new SeriesRing(1.5, ['a'] as const)).toThrow(RangeError);
  });
});

describe('LineRing', () => {
  it('keeps the newest lines and counts the dropped ones', () => {
    const r = new LineRing<string>(3);
    r.push('a', 'b');
    r.push('c', 'd', 'e');
    expect(r.toArray()).toEqual(['c', 'd', 'e']);
    expect(r.length).toBe(3);
    expect(r.dropped).toBe(2);
  });

  it('compacts its backing array', () => {
    const r = new LineRing<number>(10);
    for (let i = 0; i < 10_000; i++) r.push(i);
    expect(r.toArray()).toEqual([9990, 9991, 9992, 9993, 9994, 9995, 9996, 9997, 9998, 9999]);
    expect((r as unknown as { items: number[] }).items.length).toBeLessThanOrEqual(21);
  });
});
