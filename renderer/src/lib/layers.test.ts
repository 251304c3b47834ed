import { describe, expect, it } from 'vitest';

import { layerWeight, layoutStack } from './layers';

describe('layoutStack', () => {
  it('puts the base at the bottom and the newest on top', () => {
    const g = layoutStack([{ size: 5_000_000 }, { size: 1000 }, { size: 200_000 }], 400);
    expect(g.blocks.map((b) => b.index)).toEqual([2, 1, 0]);
    const base = g.blocks.find((b) => b.index === 0)!;
    expect(base.y + base.height).toBe(g.height);
    expect(g.blocks[0].y).toBe(0);
  });

  it('fills the budget exactly, gaps included', () => {
    const g = layoutStack([{ size: 5_000_000 }, { size: 1000 }, { size: 200_000 }], 400, 28, 4);
    expect(g.height).toBe(400);
    const sum = g.blocks.reduce((a, b) => a + b.height, 0);
    expect(sum + 2 * 4).toBe(400);
  });

  it('grows with size but keeps tiny layers at the floor', () => {
    const g = layoutStack([{ size: 100 * 1024 * 1024 }, { size: 0 }, { size: 10 * 1024 }], 500, 28);
    const h = (i: number) => g.blocks.find((b) => b.index === i)!.height;
    expect(h(1)).toBe(28);
    expect(h(2)).toBeGreaterThanOrEqual(28);
    expect(h(0)).toBeGreaterThan(h(2));
  });

  it('uses a log scale: 100x the bytes is far less than 100x the height', () => {
    const g = layoutStack([{ size: 100 * 1024 * 1024 }, { size: 1024 * 1024 }], 1000, 0, 0);
    const h = (i: number) => g.blocks.find((b) => b.index === i)!.height;
    expect(h(0) / h(1)).toBeLessThan(2);
    expect(h(0)).toBeGreaterThan(h(1));
  });

  it('overflows the budget rather than shrinking blocks below the floor', () => {
    const g = layoutStack(Array.from({ length: 30 }, () => ({ size: 1 })), 200, 28, 4);
    expect(g.blocks.every((b) => b.height >= 28)).toBe(true);
    expect(g.height).toBe(30 * 28 + 29 * 4);
  });

  it('handles an empty stack and zero-size layers', () => {
    expect(layoutStack([], 300)).toEqual({ blocks: [], height: 0 });
    const g = layoutStack([{ size: 0 }, { size: 0 }], 100, 20, 0);
    expect(g.blocks.map((b) => b.height)).toEqual([50, 50]);
    expect(layerWeight(0)).toBe(0);
    expect(layerWeight(-5)).toBe(0);
  });
});
