// Round chart scales: a top and evenly spaced ticks that read well (0, 20, 40, 60, 80 MiB).

const STEPS = [1, 2, 2.5, 5, 10];

/** The smallest "nice" step (1, 2, 2.5 or 5 times a power of ten) at least `raw`. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const s of STEPS) if (s * pow >= raw * (1 - 1e-9)) return s * pow;
  return 10 * pow;
}

/**
 * Ticks from 0 to a round top at or above `max`, about `count` intervals. `unit` is the
 * size of one display unit (1024 ** 2 for MiB), so steps are round in that unit.
 */
export function niceTicks(max: number, count = 4, unit = 1): { top: number; ticks: number[] } {
  const m = max > 0 && Number.isFinite(max) ? max / unit : 1;
  const step = niceStep(m / count);
  const top = Math.ceil(m / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(Math.round(v * 1e9) / 1e9 * unit);
  return { top: top * unit, ticks };
}

/** The binary unit (1, KiB, MiB, GiB) a byte count is best shown in. */
export function byteUnit(bytes: number): number {
  let u = 1;
  while (bytes / u >= 1024 && u < 1024 ** 4) u *= 1024;
  return u;
}
