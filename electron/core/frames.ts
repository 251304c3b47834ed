// Stream frames (docs/protocol.md, "Streams"): 1 byte type, 4 bytes big-endian
// payload length, payload. The decoder takes chunks as the socket delivers them.
import { FrameType, MAX_FRAME_PAYLOAD } from './protocol';

export const FRAME_HEADER_BYTES = 5;

export interface Frame {
  type: FrameType;
  payload: Buffer;
}

export class FrameError extends Error {}

export function encodeFrame(type: FrameType, payload: Uint8Array = new Uint8Array(0)): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) throw new FrameError(`frame payload of ${payload.length} bytes is over the ${MAX_FRAME_PAYLOAD}-byte limit`);
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt8(type, 0);
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/**
 * STDIN frames for data, at most the payload limit each, as the chunks to write in
 * order: a 5-byte header, then a view of the caller's bytes (not a copy: uploads
 * stream hundreds of megabytes through here; the caller must not reuse the buffer).
 */
export function encodeStdin(data: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += MAX_FRAME_PAYLOAD) {
    const payload = data.subarray(off, Math.min(data.length, off + MAX_FRAME_PAYLOAD));
    const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    head.writeUInt8(FrameType.Stdin, 0);
    head.writeUInt32BE(payload.length, 1);
    chunks.push(head, payload);
  }
  return chunks;
}

export function encodeResize(rows: number, cols: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt16BE(Math.max(0, Math.min(0xffff, Math.trunc(rows))), 0);
  p.writeUInt16BE(Math.max(0, Math.min(0xffff, Math.trunc(cols))), 2);
  return encodeFrame(FrameType.Resize, p);
}

const KNOWN_TYPES = new Set<number>(Object.values(FrameType).filter((v): v is number => typeof v === 'number'));

/**
 * Incremental decoder. Holds at most one frame's worth of bytes (header + 1 MiB)
 * plus the chunk being fed, so a peer cannot make it buffer without bound; a big
 * frame arriving in many chunks is joined once, when it is complete.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxPayload = MAX_FRAME_PAYLOAD) {}

  /** Bytes held that do not yet make a whole frame. */
  get pending(): number {
    return this.buffered;
  }

  /** Feeds a chunk; returns every frame it completes. Throws FrameError on a malformed stream. */
  push(chunk: Uint8Array): Frame[] {
    if (chunk.byteLength > 0) {
      this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.buffered += chunk.byteLength;
    }
    const frames: Frame[] = [];
    while (this.buffered >= FRAME_HEADER_BYTES) {
      const head = this.peek(FRAME_HEADER_BYTES);
      const type = head.readUInt8(0);
      const len = head.readUInt32BE(1);
      if (!KNOWN_TYPES.has(type)) throw new FrameError(`unknown frame type ${type}`);
      if (len > this.maxPayload) throw new FrameError(`frame of ${len} bytes is over the ${this.maxPayload}-byte limit`);
      if (this.buffered < FRAME_HEADER_BYTES + len) break;
      const whole = this.take(FRAME_HEADER_BYTES + len);
      frames.push({ type: type as FrameType, payload: whole.subarray(FRAME_HEADER_BYTES) });
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0];
    const joined = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [joined];
    return joined;
  }

  private take(n: number): Buffer {
    const first = this.peek(n);
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }
}
