// Bounded buffers for live data: a fixed-capacity ring of numbers per channel, so a
// chart or a sparkline never holds more than its window however long the app runs.

/** One time series with several numeric channels sharing a time axis. */
export class SeriesRing<C extends string> {
  readonly capacity: number;
  private readonly times: Float64Array;
  private readonly data: Record<C, Float64Array>;
  private head = 0;
  private count = 0;

  constructor(capacity: number, channels: readonly C[]) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, not ${capacity}`);
    this.capacity = capacity;
    this.times = new Float64Array(capacity);
    this.data = {} as Record<C, Float64Array>;
    for (const c of channels) this.data[c] = new Float64Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  /** Appends a sample; the oldest one goes when the ring is full. Missing channels are NaN. */
  push(time: number, values: Partial<Record<C, number | null>>): void {
    const i = (this.head + this.count) % this.capacity;
    this.times[i] = time;
    for (const c of Object.keys(this.data) as C[]) {
      const v = values[c];
      this.data[c][i] = v === null || v === undefined ? NaN : v;
    }
    if (this.count < this.capacity) this.count++;
    else this.head = (this.head + 1) % this.capacity;
  }

  /** The k-th sample from the oldest (0) to the newest (length - 1). */
  private index(k: number): number {
    return (this.head + k) % this.capacity;
  }

  time(k: number): number {
    return this.times[this.index(k)];
  }

  value(channel: C, k: number): number {
    return this.data[channel][this.index(k)];
  }

  /** The newest value of a channel, NaN when empty. */
  last(channel: C): number {
    return this.count === 0 ? NaN : this.value(channel, this.count - 1);
  }

  lastTime(): number {
    return this.count === 0 ? NaN : this.time(this.count - 1);
  }

  /** The newest `n` values of a channel, oldest first (a copy). */
  tail(channel: C, n = this.count): number[] {
    const m = Math.min(n, this.count);
    const out = new Array<number>(m);
    for (let k = 0; k < m; k++) out[k] = this.value(channel, this.count - m + k);
    return out;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }
}

/** A bounded list (log lines): keeps the newest `capacity` items. */
export class LineRing<T = string> {
  readonly capacity: number;
  private readonly items: T[] = [];
  private start = 0;
  /** Lines dropped off the front since the last clear. */
  dropped = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, not ${capacity}`);
    this.capacity = capacity;
  }

  get length(): number {
    return this.items.length - this.start;
  }

  push(...lines: T[]): void {
    for (const l of lines) this.items.push(l);
    const over = this.length - this.capacity;
    if (over > 0) {
      this.start += over;
      this.dropped += over;
    }
    // Compact now and then so the backing array stays near the capacity.
    if (this.start > this.capacity) {
      this.items.splice(0, this.start);
      this.start = 0;
    }
  }

  toArray(): T[] {
    return this.items.slice(this.start);
  }

  clear(): void {
    this.items.length = 0;
    this.start = 0;
    this.dropped = 0;
  }
}
