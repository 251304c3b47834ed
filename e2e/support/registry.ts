// Debian's docker-registry on 127.0.0.1:<free port>, filled with skopeo.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { freePort, httpStatus } from '../../tests/support/net';

export class LocalRegistry {
  private proc: ChildProcess | null = null;
  port = 0;
  constructor(readonly dir: string) {}

  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    this.port = await freePort();
    const cfg = `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(this.dir, 'data')}\nhttp:\n  addr: ${this.addr}\n`;
    fs.writeFileSync(path.join(this.dir, 'config.yml'), cfg);
    const log = fs.openSync(path.join(this.dir, 'registry.log'), 'a');
    this.proc = spawn('/usr/bin/docker-registry', ['serve', path.join(this.dir, 'config.yml')], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const end = Date.now() + 15000;
    while ((await httpStatus(`http://${this.addr}/v2/`)) === 0) {
      if (Date.now() > end) throw new Error(`docker-registry did not come up on ${this.addr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  push(layoutDir: string, tag: string, dest: string): void {
    execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${layoutDir}:${tag}`, `docker://${this.addr}/${dest}`], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000 });
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
}
