// Sparkline geometry for the containers list: SVG path data from a window of samples.

/** SVG path data for a line through values (NaN breaks it) scaled to w x h. */
export function sparkPath(values: readonly number[], capacity: number, max: number, w: number, h: number): { line: string; area: string } {
  if (values.length === 0 || !(max > 0)) return { line: '', area: '' };
  const step = capacity > 1 ? w / (capacity - 1) : w;
  const x0 = w - (values.length - 1) * step;
  let line = '';
  let area = '';
  let open = false;
  let segStart = 0;
  let lastX = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const x = x0 + i * step;
    if (!Number.isFinite(v)) {
      if (open) area += `L${lastX.toFixed(1)},${h}L${segStart.toFixed(1)},${h}Z`;
      open = false;
      continue;
    }
    const y = h - Math.min(1, Math.max(0, v / max)) * (h - 1) - 0.5;
    const pt = `${x.toFixed(1)},${y.toFixed(1)}`;
    if (!open) {
      line += `M${pt}`;
      area += `M${pt}`;
      segStart = x;
      open = true;
    } else {
      line += `L${pt}`;
      area += `L${pt}`;
    }
    lastX = x;
  }
  if (open) area += `L${lastX.toFixed(1)},${h}L${segStart.toFixed(1)},${h}Z`;
  return { line, area };
}
