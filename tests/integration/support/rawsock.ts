// A bare JSON-lines client for the helper socket, for protocol-level tests.
import net from 'node:net';

export interface Reply {
  v?: number;
  id?: number | string | null;
  ok?: boolean;
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
}

export class LineClient {
  private buf = Buffer.alloc(0);
  private lines: string[] = [];
  private waiters: ((line: string | null) => void)[] = [];
  private ended = false;

  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (let nl = this.buf.indexOf(10); nl >= 0; nl = this.buf.indexOf(10)) {
        this.push(this.buf.subarray(0, nl).toString('utf8'));
        this.buf = this.buf.subarray(nl + 1);
      }
    });
    const end = (): void => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(null);
    };
    sock.on('close', end);
    sock.on('error', end);
  }

  private push(line: string): void {
    const w = this.waiters.shift();
    if (w) w(line);
    else this.lines.push(line);
  }

  static connect(path: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(path);
      s.once('connect', () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.sock.write(data, (e) => (e ? reject(e) : resolve())));
  }

  send(obj: unknown): Promise<void> {
    return this.write(JSON.stringify(obj) + '\n');
  }

  /** The next reply line, null when the server closed, throws on timeout. */
  nextLine(timeoutMs = 5000): Promise<string | null> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no reply line within ${timeoutMs} ms`));
      }, timeoutMs);
      const w = (line: string | null): void => {
        clearTimeout(timer);
        resolve(line);
      };
      this.waiters.push(w);
    });
  }

  async next(timeoutMs = 5000): Promise<Reply> {
    const line = await this.nextLine(timeoutMs);
    if (line === null) throw new Error('connection closed instead of a reply');
    return JSON.parse(line) as Reply;
  }

  async request(id: number | string, method: string, params?: unknown): Promise<Reply> {
    await this.send({ v: 1, id, method, ...(params === undefined ? {} : { params }) });
    return this.next();
  }

  /** Stops reading from the socket (the server's replies back up in the kernel). */
  pause(): void {
    this.sock.pause();
  }

  resume(): void {
    this.sock.resume();
  }

  close(): void {
    this.sock.destroy();
  }
}
