// Progress display of the CLI: docker's per-layer bars for pull and a spinner line
// for the other long image operations. The formatting is pure (width and clock are
// passed in); the renderers only decide when and where to write.
import { formatDecimalBytes } from '../format';
import type { WorkerProgress } from '../protocol';

/** Width of the bar between the brackets, docker's. */
export const BAR_WIDTH = 50;
/** Redraws at most this often (bytes arrive far more often than a terminal can show). */
export const REDRAW_MS = 100;

/** `[=========>        ]`, docker's bar; an unknown total gives an empty string. */
export function progressBar(done: number, total: number, width = BAR_WIDTH): string {
  if (!(total > 0)) return '';
  const filled = Math.max(0, Math.min(width, Math.floor((Math.min(done, total) / total) * width)));
  if (filled >= width) return `[${'='.repeat(width)}]`;
  return `[${'='.repeat(filled)}>${' '.repeat(width - filled - 1)}]`;
}

/** `12.3MB/40.1MB`, or `12.3MB` when the total is unknown. */
export function byteCounts(done: number, total?: number): string {
  return total !== undefined && total > 0 ? `${formatDecimalBytes(done)}/${formatDecimalBytes(total)}` : formatDecimalBytes(done);
}

/** The 12 hex characters docker shows for a layer. */
export function shortDigest(digest: string): string {
  const hex = digest.includes(':') ? digest.slice(digest.indexOf(':') + 1) : digest;
  return hex.slice(0, 12);
}

export type LayerState = 'waiting' | 'exists' | 'downloading' | 'extracting' | 'done';

export interface LayerView {
  digest: string;
  state: LayerState;
  done: number;
  /** compressed size */
  total: number;
}

/** What a layer's line says after its id (docker's words). */
export function layerStatus(l: LayerView, withBar: boolean): string {
  switch (l.state) {
    case 'waiting':
      return 'Waiting';
    case 'exists':
      return 'Already exists';
    case 'downloading':
      return withBar ? `Downloading ${progressBar(l.done, l.total)} ${byteCounts(l.done, l.total)}` : 'Downloading';
    case 'extracting':
      return 'Extracting';
    case 'done':
      return 'Pull complete';
  }
}

/** Cuts a line to the terminal's width so that it never wraps (the cursor moves count lines). */
export function fitWidth(line: string, columns: number): string {
  if (columns <= 0 || line.length < columns) return line;
  return line.slice(0, Math.max(0, columns - 1));
}

export function layerLine(l: LayerView, withBar: boolean, columns = 0): string {
  return fitWidth(`${shortDigest(l.digest)}: ${layerStatus(l, withBar)}`, columns);
}

/**
 * Redraws a block of lines in place: moves the cursor up over the block drawn last
 * time, then rewrites every line (erasing what was there). New lines extend the block.
 */
export function redrawBlock(previousLines: number, lines: readonly string[]): string {
  const up = previousLines > 0 ? `\x1b[${previousLines}A` : '';
  return up + lines.map((l) => `\r\x1b[2K${l}\n`).join('');
}

/**
 * Per-layer pull progress. On a terminal every layer has a line redrawn in place
 * (at most every REDRAW_MS); otherwise a plain line is printed when a layer's state
 * changes, never for byte counts.
 */
export class LayerBoard {
  private readonly layers = new Map<string, LayerView>();
  private readonly printedState = new Map<string, LayerState>();
  private drawnLines = 0;
  private lastDraw = -Infinity;

  constructor(
    private readonly write: (s: string) => void,
    private readonly opts: { tty: boolean; columns: () => number; now: () => number },
  ) {}

  /** Takes the full list of layers (base first), as a snapshot. */
  update(layers: readonly LayerView[], force = false): void {
    for (const l of layers) this.layers.set(l.digest, { ...l });
    if (this.opts.tty) {
      const now = this.opts.now();
      if (!force && now - this.lastDraw < REDRAW_MS) return;
      this.lastDraw = now;
      const lines = [...this.layers.values()].map((l) => layerLine(l, true, this.opts.columns()));
      this.write(redrawBlock(this.drawnLines, lines));
      this.drawnLines = lines.length;
      return;
    }
    for (const l of this.layers.values()) {
      if (this.printedState.get(l.digest) === l.state) continue;
      this.printedState.set(l.digest, l.state);
      this.write(`${layerLine(l, false)}\n`);
    }
  }

  /** Draws the last state (a terminal may be behind by up to REDRAW_MS). */
  flush(): void {
    this.update([], true);
  }
}

export const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

const PHASE_WORDS: Record<string, string> = {
  read: 'Reading',
  extract: 'Extracting',
  write: 'Writing',
  verify: 'Verifying',
  copy: 'Copying',
  scan: 'Scanning',
  commit: 'Committing',
  export: 'Exporting',
};

/** `⠹ Loading: Extracting 3f4a1b2c5d6e 12.3MB/40.1MB` */
export function spinnerLine(label: string, ev: WorkerProgress | null, tick: number, columns = 0): string {
  const parts = [SPINNER[tick % SPINNER.length], `${label}:`];
  if (ev) {
    parts.push(PHASE_WORDS[ev.phase] ?? ev.phase.charAt(0).toUpperCase() + ev.phase.slice(1));
    if (ev.item) parts.push(/^sha256:[0-9a-f]{12}/.test(ev.item) ? shortDigest(ev.item) : ev.item);
    if (ev.done !== undefined) parts.push(byteCounts(ev.done, ev.total));
    if (ev.message) parts.push(ev.message);
  } else {
    parts.push('working');
  }
  return fitWidth(parts.join(' '), columns);
}

/**
 * One line on a terminal that shows what a worker stream is doing, with a spinner;
 * cleared when done. Writes nothing when the stream is not a terminal.
 */
export class StatusLine {
  private ev: WorkerProgress | null = null;
  private tick = 0;
  private timer: NodeJS.Timeout | null = null;
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly stream: { write(s: string): unknown; isTTY?: boolean; columns?: number },
  ) {}

  start(): this {
    if (!this.stream.isTTY) return this;
    this.draw();
    this.timer = setInterval(() => this.draw(), REDRAW_MS);
    this.timer.unref();
    return this;
  }

  progress = (ev: WorkerProgress): void => {
    this.ev = ev;
  };

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }

  private draw(): void {
    this.stream.write(`\r\x1b[2K${spinnerLine(this.label, this.ev, this.tick++, this.stream.columns ?? 0)}`);
    this.drawn = true;
  }
}
