// The client side of docs/protocol.md: JSON-lines calls on one connection (replies
// matched by id, so out-of-order replies are fine) and streams on a connection each.
import { EventEmitter } from 'node:events';
import net from 'node:net';

import { encodeFrame, encodeResize, encodeStdin, FrameDecoder, FrameError } from './frames';
import {
  FrameType,
  PROTOCOL_VERSION,
  type BerthdEvent,
  type ErrorCode,
  type ExitInfo,
  type MethodName,
  type ParamsArg,
  type ParamsOf,
  type ProtocolError,
  type ResultOf,
  type StreamMethod,
  type WorkerMethod,
  type WorkerMethods,
} from './protocol';

/** Replies can be larger than requests (a long container list); still bounded. */
const MAX_REPLY_LINE = 64 * 1024 * 1024;

export type ClientErrorCode = ErrorCode | 'connection' | 'protocol';

export class HelperError extends Error {
  readonly code: ClientErrorCode;
  /** errno code of a failed connect (ENOENT, ECONNREFUSED, EACCES), when that is the cause. */
  readonly errno?: string;

  constructor(code: ClientErrorCode, message: string, errno?: string) {
    super(message);
    this.name = 'HelperError';
    this.code = code;
    this.errno = errno;
  }
}

function connectSocket(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    const onError = (e: NodeJS.ErrnoException): void => {
      sock.destroy();
      reject(new HelperError('connection', `cannot connect to berthd at ${socketPath}: ${e.code ?? e.message}`, e.code));
    };
    sock.once('error', onError);
    sock.once('connect', () => {
      sock.off('error', onError);
      resolve(sock);
    });
  });
}

/** Splits a byte stream into lines; keeps any bytes after the first `limit` lines for the caller. */
class LineReader {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly maxLine: number) {}

  /** Returns complete lines and, once `stopAfter` lines were read, the rest of the chunk. */
  push(chunk: Buffer, stopAfter = Infinity): { lines: string[]; rest: Buffer | null } {
    const lines: string[] = [];
    let data = chunk;
    for (;;) {
      if (lines.length >= stopAfter) return { lines, rest: data };
      const nl = data.indexOf(10);
      if (nl < 0) break;
      const head = data.subarray(0, nl);
      const line = this.size > 0 ? Buffer.concat([...this.parts, head]) : head;
      this.parts = [];
      this.size = 0;
      lines.push(line.toString('utf8'));
      data = data.subarray(nl + 1);
    }
    if (data.length > 0) {
      this.size += data.length;
      if (this.size > this.maxLine) throw new HelperError('protocol', `berthd sent a line longer than ${this.maxLine} bytes`);
      this.parts.push(Buffer.from(data));
    }
    return { lines, rest: null };
  }
}

interface RawReply {
  v?: unknown;
  id?: unknown;
  ok?: unknown;
  result?: unknown;
  error?: { code?: unknown; message?: unknown };
}

function parseReply(line: string): RawReply {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new HelperError('protocol', `berthd sent a line that is not JSON: ${line.slice(0, 200)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HelperError('protocol', `berthd sent a reply that is not an object: ${line.slice(0, 200)}`);
  }
  const r = parsed as RawReply;
  if (r.v !== PROTOCOL_VERSION) {
    throw new HelperError(
      'version',
      `berthd speaks protocol version ${String(r.v)}, this berth speaks version ${PROTOCOL_VERSION}: install matching versions of berth and berthd`,
    );
  }
  return r;
}

function replyError(r: RawReply): HelperError {
  const code = typeof r.error?.code === 'string' ? (r.error.code as ErrorCode) : 'protocol';
  const message = typeof r.error?.message === 'string' ? r.error.message : 'berthd replied with an error and no message';
  return new HelperError(code, message);
}

interface Pending {
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: HelperError) => void;
}

export class HelperClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly reader = new LineReader(MAX_REPLY_LINE);
  private closedWith: HelperError | null = null;

  private constructor(
    private readonly sock: net.Socket,
    readonly socketPath: string,
  ) {
    sock.on('data', (chunk: Buffer) => {
      try {
        for (const line of this.reader.push(chunk).lines) this.onLine(line);
      } catch (e) {
        this.fail(e instanceof HelperError ? e : new HelperError('protocol', String(e)));
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => this.fail(new HelperError('connection', `connection to berthd lost: ${e.code ?? e.message}`, e.code)));
    sock.on('close', () => this.fail(new HelperError('connection', 'berthd closed the connection')));
  }

  static async connect(socketPath: string): Promise<HelperClient> {
    return new HelperClient(await connectSocket(socketPath), socketPath);
  }

  /** True until the connection ends. */
  get open(): boolean {
    return this.closedWith === null;
  }

  call<M extends MethodName>(method: M, ...args: ParamsArg<M>): Promise<ResultOf<M>> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    const params = args[0];
    const line = JSON.stringify({ v: PROTOCOL_VERSION, id, method, ...(params === undefined ? {} : { params }) }) + '\n';
    return new Promise<ResultOf<M>>((resolve, reject) => {
      this.pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject });
      this.sock.write(line);
    });
  }

  /** Opens a connection of its own for a streaming method; resolves once the reply line is read. */
  stream<M extends StreamMethod>(method: M, params: ParamsOf<M>): Promise<HelperStream<M>> {
    return HelperStream.open(this.socketPath, method, params);
  }

  /**
   * Runs a worker method (docs/protocol.md, "Worker streams") to its RESULT, passing each
   * PROGRESS event on. Aborting the signal closes the connection, which cancels the work.
   */
  async work<M extends WorkerMethod>(
    method: M,
    params: ParamsOf<M>,
    opts: { onProgress?: (ev: WorkerMethods[M]) => void; signal?: AbortSignal } = {},
  ): Promise<ResultOf<M>> {
    const s = await this.stream(method, params);
    return s.finish(opts);
  }

  /** Lets the process exit while this connection is idle. */
  unref(): void {
    this.sock.unref();
  }

  ref(): void {
    this.sock.ref();
  }

  close(): void {
    this.sock.destroy();
    this.fail(new HelperError('connection', 'the connection to berthd was closed'));
  }

  private onLine(line: string): void {
    const r = parseReply(line);
    const p = typeof r.id === 'number' ? this.pending.get(r.id) : undefined;
    if (!p) {
      // A reply with no id we can match (id null: the helper could not read our line).
      if (r.ok === false) throw replyError(r);
      return;
    }
    this.pending.delete(r.id as number);
    if (r.ok === true) p.resolve(r.result);
    else p.reject(replyError(r));
  }

  private fail(e: HelperError): void {
    if (this.closedWith) return;
    this.closedWith = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    this.sock.destroy();
  }
}

export interface StreamEvents {
  stdout: [data: Buffer];
  stderr: [data: Buffer];
  /** One or more whole container log lines (docs/protocol.md, "The container log"). */
  log: [data: Buffer];
  exit: [info: ExitInfo];
  /** worker streams: one progress event */
  progress: [event: unknown];
  /** worker streams: the result, the last frame */
  result: [result: unknown];
  /** events.subscribe: one change berthd reports */
  event: [event: BerthdEvent];
  /** The stream ended normally: after EXIT or RESULT, or when a finite log has been sent. */
  end: [];
  error: [err: HelperError];
  /** The socket can take more stdin after writeStdin returned false. */
  drain: [];
  /** The connection has ended (after exit, error or close). */
  close: [];
}

/** An upgraded connection: typed frames both ways. */
export class HelperStream<M extends StreamMethod = StreamMethod> extends EventEmitter<StreamEvents> {
  private readonly decoder = new FrameDecoder();
  private finished = false;
  /** close() was called here (a cancel), not by berthd */
  private closedHere = false;
  private userPaused = false;

  private constructor(
    private readonly sock: net.Socket,
    readonly result: ResultOf<M>,
    /** container.logs without follow ends by closing the connection, not with EXIT. */
    private readonly endsOnClose: boolean,
  ) {
    super();
    // After its last frame (EXIT, ERROR, RESULT) berthd shuts down its sending side and
    // reads on until we close, so stdin or a resize sent at that moment is not lost in a
    // reset; 'end' arrives once every frame has been read.
    sock.on('end', () => sock.destroy());
    sock.on('drain', () => this.emit('drain'));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (this.finished) return;
      this.fail(new HelperError('connection', `stream connection to berthd lost: ${e.code ?? e.message}`, e.code));
    });
    sock.on('close', () => {
      if (!this.finished) {
        if (this.endsOnClose && this.decoder.pending === 0) {
          this.finished = true;
          this.emit('end');
        } else {
          this.fail(new HelperError('connection', 'berthd closed the stream before its end'));
        }
      }
      this.emit('close');
    });
  }

  static open<M extends StreamMethod>(socketPath: string, method: M, params: ParamsOf<M>): Promise<HelperStream<M>> {
    return connectSocket(socketPath).then(
      (sock) =>
        new Promise<HelperStream<M>>((resolve, reject) => {
          const reader = new LineReader(MAX_REPLY_LINE);
          let stream: HelperStream<M> | null = null;
          const onData = (chunk: Buffer): void => {
            try {
              if (stream) return;
              const { lines, rest } = reader.push(chunk, 1);
              if (lines.length === 0) return;
              const r = parseReply(lines[0]);
              if (r.ok !== true) {
                sock.destroy();
                reject(replyError(r));
                return;
              }
              const result = r.result as ResultOf<M> & { stream?: boolean };
              sock.off('data', onData);
              sock.off('error', onEarlyError);
              sock.off('close', onEarlyClose);
              const s = new HelperStream<M>(sock, result, method === 'container.logs');
              stream = s;
              if (result.stream !== true) {
                // Not upgraded (e.g. container.start without attach): nothing follows.
                s.finished = true;
                sock.end();
                resolve(s);
                return;
              }
              // Frames are held back until the caller, resumed by this resolve, has
              // subscribed in the same tick: the socket stays paused until then.
              sock.pause();
              sock.on('data', (d: Buffer) => s.onData(d));
              resolve(s);
              setImmediate(() => {
                if (rest && rest.length > 0) s.onData(rest);
                if (!s.userPaused) sock.resume();
              });
            } catch (e) {
              sock.destroy();
              reject(e instanceof HelperError ? e : new HelperError('protocol', String(e)));
            }
          };
          const onEarlyError = (e: NodeJS.ErrnoException): void => reject(new HelperError('connection', `connection to berthd lost: ${e.code ?? e.message}`, e.code));
          const onEarlyClose = (): void => reject(new HelperError('connection', `berthd closed the connection before replying to ${method}`));
          sock.on('data', onData);
          sock.once('error', onEarlyError);
          sock.once('close', onEarlyClose);
          sock.write(JSON.stringify({ v: PROTOCOL_VERSION, id: 1, method, params }) + '\n');
        }),
    );
  }

  /** Queues bytes for the process's stdin; false when the caller should wait for 'drain'. */
  writeStdin(data: Uint8Array): boolean {
    if (this.finished) return true;
    let ok = true;
    for (const f of encodeStdin(data)) ok = this.sock.write(f);
    return ok;
  }

  closeStdin(): void {
    if (!this.finished) this.sock.write(encodeFrame(FrameType.StdinEof));
  }

  resize(rows: number, cols: number): void {
    if (!this.finished) this.sock.write(encodeResize(rows, cols));
  }

  /** Stops reading frames (backpressure towards berthd); resume() goes on. */
  pause(): void {
    this.userPaused = true;
    this.sock.pause();
  }

  resume(): void {
    this.userPaused = false;
    this.sock.resume();
  }

  get ended(): boolean {
    return this.finished;
  }

  /** Worker streams: resolves with the RESULT, rejects on ERROR, a lost connection or abort. */
  finish(opts: { onProgress?: (ev: never) => void; signal?: AbortSignal } = {}): Promise<ResultOf<M>> {
    return new Promise<ResultOf<M>>((resolve, reject) => {
      const onAbort = (): void => {
        this.close();
        reject(new HelperError('connection', 'cancelled'));
      };
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => opts.signal?.removeEventListener('abort', onAbort);
      if (opts.onProgress) this.on('progress', opts.onProgress as (ev: unknown) => void);
      this.once('result', (r) => {
        done();
        resolve(r as ResultOf<M>);
      });
      this.once('error', (e) => {
        done();
        reject(e);
      });
      this.once('close', () => {
        done();
        // after a RESULT or ERROR this does nothing (a promise settles once)
        reject(new HelperError('connection', this.closedHere ? 'cancelled' : 'berthd closed the stream before its end'));
      });
    });
  }

  close(): void {
    this.finished = true;
    this.closedHere = true;
    this.sock.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    let frames;
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      this.fail(new HelperError('protocol', e instanceof FrameError ? e.message : String(e)));
      return;
    }
    for (const f of frames) {
      if (this.finished) return;
      switch (f.type) {
        case FrameType.Stdout:
          this.emit('stdout', f.payload);
          break;
        case FrameType.Stderr:
          this.emit('stderr', f.payload);
          break;
        case FrameType.Log:
          this.emit('log', f.payload);
          break;
        case FrameType.Exit: {
          const info = parseJsonPayload<ExitInfo>(f.payload);
          this.finished = true;
          this.emit('exit', info ?? { exitCode: null, signal: null, reason: 'unknown', oomKilled: false });
          this.emit('end');
          this.sock.end();
          return;
        }
        case FrameType.Progress: {
          const ev = parseJsonPayload<unknown>(f.payload);
          if (ev !== null) this.emit('progress', ev);
          break;
        }
        case FrameType.Event: {
          const ev = parseJsonPayload<BerthdEvent>(f.payload);
          if (ev !== null) this.emit('event', ev);
          break;
        }
        case FrameType.Result: {
          const r = parseJsonPayload<unknown>(f.payload);
          this.finished = true;
          this.emit('result', r ?? {});
          this.emit('end');
          this.sock.end();
          return;
        }
        case FrameType.Error: {
          const e = parseJsonPayload<ProtocolError>(f.payload);
          this.fail(new HelperError(e?.code ?? 'protocol', e?.message ?? 'berthd ended the stream with an error'));
          return;
        }
        default:
          this.fail(new HelperError('protocol', `berthd sent a ${FrameType[f.type]} frame, which only clients send`));
          return;
      }
    }
  }

  private fail(e: HelperError): void {
    if (this.finished) return;
    this.finished = true;
    this.sock.destroy();
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }
}

function parseJsonPayload<T>(payload: Buffer): T | null {
  try {
    return JSON.parse(payload.toString('utf8')) as T;
  } catch {
    return null;
  }
}
