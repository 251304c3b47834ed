import { describe, expect, it } from 'vitest';

import { byteCounts, fitWidth, LayerBoard, layerLine, progressBar, REDRAW_MS, redrawBlock, shortDigest, spinnerLine, type LayerView } from './progress';

const D1 = `sha256:${'a1'.repeat(32)}`;
const D2 = `sha256:${'b2'.repeat(32)}`;

describe('progressBar', () => {
  it('draws docker bars of 50 columns', () => {
    expect(progressBar(0, 100)).toBe(`[>${' '.repeat(49)}]`);
    expect(progressBar(50, 100)).toBe(`[${'='.repeat(25)}>${' '.repeat(24)}]`);
    expect(progressBar(100, 100)).toBe(`[${'='.repeat(50)}]`);
    expect(progressBar(150, 100)).toBe(`[${'='.repeat(50)}]`);
    expect(progressBar(3, 10, 10)).toBe('[===>      ]');
  });
  it('gives nothing for an unknown total', () => {
    expect(progressBar(5, 0)).toBe('');
  });
});

describe('layer lines', () => {
  const l = (state: LayerView['state'], done = 0, total = 40_100_000): LayerView => ({ digest: D1, state, done, total });
  it('says what docker says', () => {
    expect(shortDigest(D1)).toBe('a1a1a1a1a1a1');
    expect(layerLine(l('waiting'), true)).toBe('a1a1a1a1a1a1: Waiting');
    expect(layerLine(l('exists'), true)).toBe('a1a1a1a1a1a1: Already exists');
    expect(layerLine(l('extracting'), true)).toBe('a1a1a1a1a1a1: Extracting');
    expect(layerLine(l('done'), true)).toBe('a1a1a1a1a1a1: Pull complete');
    expect(layerLine(l('downloading', 12_300_000), true)).toBe(`a1a1a1a1a1a1: Downloading ${progressBar(12_300_000, 40_100_000)} 12.3MB/40.1MB`);
    expect(layerLine(l('downloading', 12_300_000), false)).toBe('a1a1a1a1a1a1: Downloading');
  });
  it('never wraps: cut to the terminal width', () => {
    expect(layerLine(l('downloading', 1), true, 40)).toHaveLength(39);
    expect(fitWidth('short', 80)).toBe('short');
    expect(fitWidth('anything', 0)).toBe('anything');
  });
  it('byte counts', () => {
    expect(byteCounts(1_050, 2_000_000)).toBe('1.05kB/2MB');
    expect(byteCounts(999)).toBe('999B');
  });
});

describe('redrawBlock', () => {
  it('moves up over the last block and rewrites each line', () => {
    expect(redrawBlock(0, ['a', 'b'])).toBe('\r\x1b[2Ka\n\r\x1b[2Kb\n');
    expect(redrawBlock(2, ['a', 'b', 'c'])).toBe('\x1b[2A\r\x1b[2Ka\n\r\x1b[2Kb\n\r\x1b[2Kc\n');
  });
});

describe('LayerBoard', () => {
  it('on a terminal: redraws in place, at most every REDRAW_MS, and flush draws the last state', () => {
    let now = 1000;
    const writes: string[] = [];
    const board = new LayerBoard((s) => writes.push(s), { tty: true, columns: () => 120, now: () => now });
    board.update([{ digest: D1, state: 'waiting', done: 0, total: 10 }, { digest: D2, state: 'exists', done: 10, total: 10 }]);
    expect(writes).toHaveLength(1);
    expect(writes[0]).toBe('\r\x1b[2Ka1a1a1a1a1a1: Waiting\n\r\x1b[2Kb2b2b2b2b2b2: Already exists\n');
    now += REDRAW_MS / 2;
    board.update([{ digest: D1, state: 'downloading', done: 5, total: 10 }]);
    expect(writes).toHaveLength(1); // throttled
    now += REDRAW_MS;
    board.update([{ digest: D1, state: 'downloading', done: 6, total: 10 }]);
    expect(writes).toHaveLength(2);
    expect(writes[1].startsWith('\x1b[2A')).toBe(true);
    expect(writes[1]).toContain('6B/10B');
    board.update([{ digest: D1, state: 'done', done: 10, total: 10 }]);
    board.flush();
    expect(writes[writes.length - 1]).toContain('a1a1a1a1a1a1: Pull complete');
  });

  it('elsewhere: one plain line per state change, none for byte counts', () => {
    const writes: string[] = [];
    const board = new LayerBoard((s) => writes.push(s), { tty: false, columns: () => 0, now: () => 0 });
    board.update([{ digest: D1, state: 'waiting', done: 0, total: 10 }]);
    board.update([{ digest: D1, state: 'downloading', done: 1, total: 10 }]);
    board.update([{ digest: D1, state: 'downloading', done: 9, total: 10 }]);
    board.update([{ digest: D1, state: 'extracting', done: 10, total: 10 }]);
    board.update([{ digest: D1, state: 'done', done: 10, total: 10 }]);
    board.flush();
    expect(writes.join('')).toBe('a1a1a1a1a1a1: Waiting\na1a1a1a1a1a1: Downloading\na1a1a1a1a1a1: Extracting\na1a1a1a1a1a1: Pull complete\n');
  });
});

describe('spinnerLine', () => {
  it('shows the phase, the item and the bytes', () => {
    expect(spinnerLine('Loading', { phase: 'extract', item: D1, done: 12_300_000, total: 40_100_000 }, 0)).toBe('⠋ Loading: Extracting a1a1a1a1a1a1 12.3MB/40.1MB');
    expect(spinnerLine('Saving', { phase: 'write', done: 2048 }, 1)).toBe('⠙ Saving: Writing 2.05kB');
    expect(spinnerLine('Committing', { phase: 'scan', item: '/etc' }, 10)).toBe('⠋ Committing: Scanning /etc');
    expect(spinnerLine('Exporting', null, 2)).toBe('⠹ Exporting: working');
    expect(spinnerLine('Exporting', { phase: 'weird-phase' }, 0)).toBe('⠋ Exporting: Weird-phase');
  });
});
