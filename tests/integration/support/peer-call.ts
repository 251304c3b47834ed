// One request to a helper socket from a process of another uid and gid (a real
// peer that SO_PEERCRED names): the reply line and, for a stream, its last frame
// (RESULT or ERROR of a worker, docs/protocol.md).
import { spawn } from 'node:child_process';

export interface PeerOutcome {
  connectError?: string;
  reply?: { ok: boolean; result?: Record<string, unknown>; error?: { code: string; message: string } };
  /** the frame that ended a stream: 9 RESULT, 7 ERROR */
  last?: { type: number; payload: Record<string, unknown> };
  timeout?: boolean;
}

const SCRIPT = `
  const net = require('net');
  const [sock, method, params] = process.argv.slice(1);
  const out = (o) => { process.stdout.write(JSON.stringify(o)); process.exit(0); };
  const s = net.createConnection(sock);
  let buf = Buffer.alloc(0), reply = null;
  const timer = setTimeout(() => out({ reply, timeout: true }), 60000);
  s.on('error', (e) => { clearTimeout(timer); out(reply === null ? { connectError: e.code } : { reply }); });
  s.on('connect', () => s.write(JSON.stringify({ v: 1, id: 1, method, params: JSON.parse(params) }) + '\\n'));
  s.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (reply === null) {
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      reply = JSON.parse(buf.subarray(0, nl).toString());
      buf = buf.subarray(nl + 1);
      if (!reply.ok || !reply.result || reply.result.stream !== true) { clearTimeout(timer); out({ reply }); }
    }
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(1);
      if (buf.length < 5 + len) return;
      const type = buf[0];
      const payload = buf.subarray(5, 5 + len).toString();
      buf = buf.subarray(5 + len);
      if (type === 9 || type === 7) { clearTimeout(timer); out({ reply, last: { type, payload: JSON.parse(payload) } }); }
    }
  });
  s.on('close', () => { clearTimeout(timer); out({ reply }); });
`;

/** Runs a Node script (node -e) as uid:gid and parses the JSON it prints. */
export function runNodeAs<T>(uid: number, gid: number, script: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, ...args], { uid, gid, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(JSON.parse(out) as T);
      } catch {
        reject(new Error(`peer script printed ${out} / ${err}`));
      }
    });
  });
}

export function callAs(uid: number, gid: number, socket: string, method: string, params: object): Promise<PeerOutcome> {
  return runNodeAs<PeerOutcome>(uid, gid, SCRIPT, [socket, method, JSON.stringify(params)]);
}

/** The error of an outcome, whether it came as the reply line or as the stream's ERROR frame. */
export function outcomeError(o: PeerOutcome): { code: string; message: string } | undefined {
  if (o.reply && !o.reply.ok) return o.reply.error;
  if (o.last?.type === 7) return o.last.payload as { code: string; message: string };
  return undefined;
}
