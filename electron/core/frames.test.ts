import { describe, expect, it } from 'vitest';

import { encodeFrame, encodeResize, encodeStdin, FrameDecoder, FrameError } from './frames';
import { FrameType, MAX_FRAME_PAYLOAD } from './protocol';

describe('frames', () => {
  it('encodes type, big-endian length and payload', () => {
    const f = encodeFrame(FrameType.Stdout, Buffer.from('hi'));
    expect([...f]).toEqual([1, 0, 0, 0, 2, 104, 105]);
    expect([...encodeFrame(FrameType.StdinEof)]).toEqual([5, 0, 0, 0, 0]);
  });

  it('encodes RESIZE as rows then cols, u16 big-endian', () => {
    expect([...encodeResize(40, 300)]).toEqual([4, 0, 0, 0, 4, 0, 40, 1, 44]);
  });

  it('splits stdin into frames of at most 1 MiB', () => {
    const data = Buffer.alloc(MAX_FRAME_PAYLOAD * 2 + 3, 7);
    const frames = new FrameDecoder().push(Buffer.concat(encodeStdin(data)));
    expect(frames.map((f) => f.payload.length)).toEqual([MAX_FRAME_PAYLOAD, MAX_FRAME_PAYLOAD, 3]);
    expect(frames.every((f) => f.type === FrameType.Stdin)).toBe(true);
    expect(Buffer.concat(frames.map((f) => f.payload)).equals(data)).toBe(true);
  });

  it('decodes frames split at every possible byte boundary', () => {
    const stream = Buffer.concat([
      encodeFrame(FrameType.Stdout, Buffer.from('hello')),
      encodeFrame(FrameType.Stderr, Buffer.from('')),
      encodeFrame(FrameType.Log, Buffer.from('2026-01-01T00:00:00Z stdout F x\n')),
      encodeFrame(FrameType.Exit, Buffer.from('{"exitCode":3}')),
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameDecoder();
      const frames = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(frames.map((f) => [f.type, f.payload.toString()])).toEqual([
        [FrameType.Stdout, 'hello'],
        [FrameType.Stderr, ''],
        [FrameType.Log, '2026-01-01T00:00:00Z stdout F x\n'],
        [FrameType.Exit, '{"exitCode":3}'],
      ]);
      expect(d.pending).toBe(0);
    }
  });

  it('decodes a stream fed one byte at a time', () => {
    const stream = Buffer.concat([encodeFrame(FrameType.Stdout, Buffer.from('abc')), encodeFrame(FrameType.Stdout, Buffer.from('de'))]);
    const d = new FrameDecoder();
    const got: string[] = [];
    for (const b of stream) for (const f of d.push(Buffer.from([b]))) got.push(f.payload.toString());
    expect(got).toEqual(['abc', 'de']);
  });

  it('joins a large frame that arrives in many chunks', () => {
    const payload = Buffer.alloc(MAX_FRAME_PAYLOAD, 0x78);
    const stream = encodeFrame(FrameType.Stdout, payload);
    const d = new FrameDecoder();
    const frames = [];
    for (let off = 0; off < stream.length; off += 65536) frames.push(...d.push(stream.subarray(off, off + 65536)));
    expect(frames).toHaveLength(1);
    expect(frames[0].payload.equals(payload)).toBe(true);
  });

  it('keeps a partial frame pending', () => {
    const d = new FrameDecoder();
    expect(d.push(encodeFrame(FrameType.Stdout, Buffer.from('abcdef')).subarray(0, 7))).toEqual([]);
    expect(d.pending).toBe(7);
  });

  it('refuses oversized frames and unknown types before buffering them', () => {
    const big = Buffer.from([1, 0, 0x10, 0, 1]);
    expect(() => new FrameDecoder().push(big)).toThrow(FrameError);
    expect(() => new FrameDecoder().push(Buffer.from([200, 0, 0, 0, 0]))).toThrow(/unknown frame type 200/);
    expect(() => encodeFrame(FrameType.Stdin, Buffer.alloc(MAX_FRAME_PAYLOAD + 1))).toThrow(FrameError);
  });
});
