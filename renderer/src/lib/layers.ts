// The image detail's layer stack: one block per layer, base at the bottom, its height
// growing with the layer's size on a log scale, with a floor so tiny layers stay
// clickable. Pure geometry, so it is tested without a DOM.

export interface StackInput {
  /** unpacked bytes of the layer */
  size: number;
}

export interface StackBlock {
  /** index into the input (base first) */
  index: number;
  /** from the top of the stack, px */
  y: number;
  height: number;
}

export interface StackGeometry {
  blocks: StackBlock[];
  /** total height, px: the budget, or more when every block at its floor does not fit */
  height: number;
}

/** log-scale weight of a layer: 0 for an empty one, growing slowly with its size. */
export function layerWeight(bytes: number): number {
  return Math.log2(1 + Math.max(0, bytes) / 1024);
}

/**
 * Lays out layers (base first) top to bottom, newest on top. Each block gets
 * `minHeight` plus a share of what is left of `budget` in proportion to its log weight;
 * blocks are separated by `gap` px.
 */
export function layoutStack(layers: readonly StackInput[], budget: number, minHeight = 28, gap = 4): StackGeometry {
  const n = layers.length;
  if (n === 0) return { blocks: [], height: 0 };
  const gaps = gap * (n - 1);
  const spare = Math.max(0, budget - gaps - n * minHeight);
  const weights = layers.map((l) => layerWeight(l.size));
  const total = weights.reduce((a, b) => a + b, 0);
  const heights = weights.map((w) => minHeight + (total > 0 ? (spare * w) / total : spare / n));
  // Whole pixels, with rounding error given to the largest block so the stack fills the budget exactly.
  const rounded = heights.map((h) => Math.floor(h));
  const want = Math.max(n * minHeight, Math.min(budget - gaps, Math.round(heights.reduce((a, b) => a + b, 0))));
  const short = want - rounded.reduce((a, b) => a + b, 0);
  if (short > 0) {
    let big = 0;
    for (let i = 1; i < n; i++) if (rounded[i] > rounded[big]) big = i;
    rounded[big] += short;
  }
  const blocks: StackBlock[] = [];
  let y = 0;
  for (let i = n - 1; i >= 0; i--) {
    blocks.push({ index: i, y, height: rounded[i] });
    y += rounded[i] + (i > 0 ? gap : 0);
  }
  return { blocks, height: y };
}
