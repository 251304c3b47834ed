// Networks: published ports reached from the helper's network namespace, names
// on a user network, none without a way out, outgoing NAT to an "outside"
// namespace the test makes, a port in use refused before the start, and nothing
// left (veths, bridges, the nft table) once containers and networks are gone.
// The helper runs in the run's own network namespace (support/netns.ts).
// (busybox wget's -T crashes in Debian's static build: timeouts come from outside.)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { berth, berthJson, berthOk, inspect, removeTracked, runDetached, testEnv, track, uniqueName, waitUntil } from './support/berth';
import { requestOnce } from './support/helper-process';
import { createNetns, inNetns, netnsLeftovers, removeNetns } from './support/netns';

interface PortMapping {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: string;
}
interface NetworkInfo {
  id: string;
  name: string;
  subnet: string;
  gateway: string;
  bridge: string;
  builtin: boolean;
  active: boolean;
  containers: { id: string; name: string; ip: string | null }[];
}
interface ContainerNet {
  network: { mode: string; name: string | null; ip: string | null; prefixLen: number | null; gateway: string | null; mac: string | null };
  ports: PortMapping[];
}

const ns = (): string => testEnv().netns;
/** A host port unlikely to be taken in the test's namespace. */
const freePort = (): number => 20000 + Math.floor(Math.random() * 20000);
const HTTPD = (text: string): string[] => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`];

/** GET url from inside the helper's network namespace (where published ports are bound). */
async function getInNs(url: string, timeoutMs = 10000): Promise<string> {
  let last = '';
  const ok = await waitUntil(() => {
    const r = inNetns(ns(), ['busybox', 'wget', '-q', '-O-', url], 3000);
    last = r.status === 0 ? r.stdout : `status ${r.status}: ${r.stderr}`;
    return r.status === 0;
  }, timeoutMs, 200);
  if (!ok) throw new Error(`GET ${url} in ${ns()} failed: ${last}`);
  return last;
}

const networks = new Set<string>();
async function removeNetworks(): Promise<void> {
  for (const n of networks) await berth(['network', 'rm', n]);
  networks.clear();
}

describe('networks', () => {
  afterEach(async () => {
    await removeTracked();
    await removeNetworks();
  });

  it('publishes a port: an HTTP server in a container answers on 127.0.0.1 of the host', async () => {
    const port = freePort();
    const id = await runDetached(['-p', `${port}:80`, 'busybox', ...HTTPD('hello-published')]);
    expect(await getInNs(`http://127.0.0.1:${port}/`)).toBe('hello-published\n');
    const info = (await inspect(id)) as unknown as ContainerNet;
    expect(info.network.mode).toBe('bridge');
    expect(info.network.name).toBe('bridge');
    expect(info.network.ip).toMatch(/^10\.89\.\d+\.\d+$/);
    expect(info.network.gateway).toBe('10.89.0.1');
    expect(info.ports).toEqual([{ hostIp: '127.0.0.1', hostPort: port, containerPort: 80, protocol: 'tcp' }]);
    expect((await berthOk(['port', id])).stdout).toBe(`80/tcp -> 127.0.0.1:${port}\n`);
    expect((await berthOk(['ps'])).stdout).toContain(`127.0.0.1:${port}->80/tcp`);
    // the container's own view: eth0 with its address, a default route via the gateway
    const r = await berthOk(['exec', id, 'sh', '-c', 'ip -o -4 addr show eth0; ip route; cat /etc/hostname']);
    expect(r.stdout).toContain(`inet ${info.network.ip}/16`);
    expect(r.stdout).toMatch(/default via 10\.89\.0\.1 dev eth0/);
    expect(r.stdout).toContain(id.slice(0, 12));
  });

  it('relays UDP to a published udp port', async () => {
    const port = freePort();
    const id = await runDetached(['-p', `${port}:5353/udp`, 'busybox', 'sleep', '60']);
    const { pid } = await inspect(id);
    // busybox has no UDP server: a node echo server runs inside the container's network namespace
    const echo = spawn('nsenter', [`--net=/proc/${pid}/ns/net`, process.execPath, '-e',
      "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(Buffer.concat([Buffer.from('echo:'),m]),r.port,r.address));s.bind(5353,()=>console.log('up'))"], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise<void>((resolve) => echo.stdout?.once('data', () => resolve()));
      const client = "const s=require('dgram').createSocket('udp4');s.on('message',m=>{console.log(String(m));process.exit(0)});" +
        `s.send('ping',${port},'127.0.0.1');setTimeout(()=>process.exit(3),3000)`;
      const r = inNetns(ns(), [process.execPath, '-e', client]);
      expect(r.stdout.trim()).toBe('echo:ping');
    } finally {
      echo.kill('SIGKILL');
    }
  });

  it('container.interfaces shows eth0 inside and its veth on the bridge outside', async () => {
    const id = await runDetached(['busybox', 'sleep', '60']);
    // the CLI has no verb for it: ask the helper directly
    const reply = (await requestOnce(testEnv().socket, 'container.interfaces', { ref: id })) as {
      ok: boolean;
      result: { isolated: boolean; container: { interfaces: { name: string; kind: string; peer?: string | null; master?: string | null }[]; routes: { destination: string; gateway: string | null }[] }; host: { interfaces: { name: string; kind: string; master?: string | null; peer?: string | null }[] } };
    };
    expect(reply.ok).toBe(true);
    const { container, host, isolated } = reply.result;
    expect(isolated).toBe(true);
    const veth = `veth${id.slice(0, 8)}`;
    expect(container.interfaces.map((i) => i.name).sort()).toEqual(['eth0', 'lo']);
    expect(container.interfaces.find((i) => i.name === 'eth0')).toMatchObject({ kind: 'veth', peer: `${veth}@host` });
    expect(container.routes).toContainEqual(expect.objectContaining({ destination: 'default', gateway: '10.89.0.1' }));
    expect(host.interfaces.find((i) => i.name === veth)).toMatchObject({ kind: 'veth', master: 'berth0', peer: 'eth0@container' });
    expect(host.interfaces.find((i) => i.name === 'berth0')).toMatchObject({ kind: 'bridge' });
  });

  it('containers on one user network reach each other by name', async () => {
    const net = uniqueName('net');
    networks.add(net);
    await berthOk(['network', 'create', net]);
    const info = (await berthJson<NetworkInfo[]>(['network', 'inspect', net]))[0];
    expect(info.subnet).toMatch(/^10\.90\.\d+\.0\/24$/);
    expect(info.active).toBe(false);
    const server = uniqueName('srv');
    await runDetached(['--name', server, '--network', net, 'busybox', ...HTTPD('hello-by-name')]);
    const active = (await berthJson<NetworkInfo[]>(['network', 'inspect', net]))[0];
    expect(active.active).toBe(true);
    expect(active.containers.map((c) => c.name)).toEqual([server]);
    const r = await berthOk(['run', '--rm', '--network', net, 'busybox', 'sh', '-c', `cat /etc/hosts; timeout 5 wget -q -O- http://${server}/`]);
    expect(r.stdout).toContain('hello-by-name');
    expect(r.stdout).toMatch(new RegExp(`\\s${server}\\b`));
    // a network in use cannot go; an unknown one is not_found
    const rm = await berth(['network', 'rm', net]);
    expect(rm.status).not.toBe(0);
    expect(rm.stderr).toMatch(/in use/);
    expect((await berth(['run', '--rm', '--network', 'no-such-net', 'busybox', 'true'])).stderr).toMatch(/no network/);
  });

  it('--network none has no route and no address', async () => {
    const r = await berthOk(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ip route; echo ---; timeout 3 wget -q -O- http://10.89.0.1/ 2>&1; echo status=$?']);
    const [routes, rest] = r.stdout.split('---\n');
    expect(routes.trim()).toBe('');
    expect(rest).toMatch(/status=[1-9]/);
    expect(rest).toMatch(/unreachable/i);
    const id = await runDetached(['--network', 'none', 'busybox', 'sleep', '60']);
    expect(((await inspect(id)) as unknown as ContainerNet).network).toEqual({ mode: 'none', name: null, ip: null, prefixLen: null, gateway: null, mac: null });
  });

  describe('outgoing NAT', () => {
    let outside = '';
    let server: ChildProcess | null = null;
    const www = fs.mkdtempSync('/tmp/bt-outside-');
    afterAll(async () => {
      if (server?.pid) {
        server.kill('SIGKILL');
        await waitUntil(() => server?.exitCode !== null || server?.signalCode !== null, 5000);
      }
      // deleting the namespace deletes the veth pair with it, in the helper's namespace too
      if (outside) removeNetns(outside);
      fs.rmSync(www, { recursive: true, force: true });
    });

    it('bridge containers reach a server in another namespace, seen from the helper namespace address', async () => {
      outside = createNetns('berth-out');
      const link = `bto${Math.floor(Math.random() * 1e6)}`;
      // a veth from the helper's namespace to the outside one: 192.168.77.1 <-> .2
      for (const cmd of [
        ['ip', '-n', ns(), 'link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside],
        ['ip', '-n', ns(), 'addr', 'add', '192.168.77.1/24', 'dev', link],
        ['ip', '-n', ns(), 'link', 'set', link, 'up'],
        ['ip', '-n', outside, 'addr', 'add', '192.168.77.2/24', 'dev', 'eth0'],
        ['ip', '-n', outside, 'link', 'set', 'eth0', 'up'],
      ])
        execFileSync(cmd[0], cmd.slice(1));
      // the outside knows no route to the containers' subnets: only NAT gets an answer back
      fs.mkdirSync(path.join(www, 'cgi-bin'));
      fs.writeFileSync(path.join(www, 'cgi-bin/ip'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n', { mode: 0o755 });
      server = spawn('ip', ['netns', 'exec', outside, 'busybox', 'httpd', '-f', '-p', '192.168.77.2:8080', '-h', www], { stdio: 'ignore' });
      await waitUntil(() => inNetns(ns(), ['busybox', 'wget', '-q', '-O-', 'http://192.168.77.2:8080/cgi-bin/ip'], 2000).status === 0, 5000, 100);
      const r = await berthOk(['run', '--rm', 'busybox', 'timeout', '5', 'wget', '-q', '-O-', 'http://192.168.77.2:8080/cgi-bin/ip']);
      expect(r.stdout.trim()).toBe('192.168.77.1');
      // gone again a moment after the last container on the bridge
      expect(await waitUntil(() => inNetns(ns(), ['nft', 'list', 'table', 'ip', 'berth']).status !== 0, 5000)).toBe(true);
    });
  });

  it('refuses a port in use before starting anything', async () => {
    const port = freePort();
    const first = await runDetached(['-p', `${port}:80`, 'busybox', ...HTTPD('first')]);
    await getInNs(`http://127.0.0.1:${port}/`);
    const name = uniqueName('second');
    const r = await berth(['run', '-d', '--name', name, '-p', `${port}:80`, 'busybox', 'true']);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(new RegExp(`port 127\\.0\\.0\\.1:${port}/tcp is already in use`));
    expect((await berth(['inspect', name])).status).not.toBe(0); // nothing was left behind
    // the first still serves, and its port is free again once it is gone
    expect(await getInNs(`http://127.0.0.1:${port}/`)).toBe('first\n');
    await berthOk(['rm', '-f', first]);
    const again = await runDetached(['-p', `${port}:80`, 'busybox', ...HTTPD('again')]);
    expect(await getInNs(`http://127.0.0.1:${port}/`)).toBe('again\n');
    track(again);
    // a port some other program of the host holds
    const other = freePort();
    const docroot = fs.mkdtempSync('/tmp/bt-holder-');
    fs.writeFileSync(path.join(docroot, 'index.html'), 'held\n');
    const holder = spawn('ip', ['netns', 'exec', ns(), 'busybox', 'httpd', '-f', '-p', `127.0.0.1:${other}`, '-h', docroot], { stdio: 'ignore' });
    try {
      expect(await getInNs(`http://127.0.0.1:${other}/`)).toBe('held\n');
      const refused = await berth(['run', '--rm', '-p', `${other}:80`, 'busybox', 'true']);
      expect(refused.status).toBe(125);
      expect(refused.stderr).toMatch(/already in use/);
    } finally {
      holder.kill('SIGKILL');
      fs.rmSync(docroot, { recursive: true, force: true });
    }
  });

  it('refuses contradictions and bad ports with clear errors', async () => {
    expect((await berth(['run', '--rm', '--network', 'none', '-p', '8080:80', 'busybox', 'true'])).stderr).toMatch(/bridge networks only/);
    expect((await berth(['run', '--rm', '--network', 'host', '-p', '8080:80', 'busybox', 'true'])).stderr).toMatch(/bridge networks only/);
    expect((await berth(['network', 'create', '--subnet', '10.89.3.0/24', uniqueName('ovl')])).stderr).toMatch(/overlaps network bridge/);
    expect((await berth(['network', 'create', '--subnet', '10.91.0.1/24', uniqueName('bad')])).stderr).toMatch(/host bits/);
    expect((await berth(['network', 'rm', 'bridge'])).stderr).toMatch(/cannot be removed/);
  });

  it('leaves no veth, bridge or nft table behind once containers and networks are gone', async () => {
    const net = uniqueName('gone');
    networks.add(net);
    await berthOk(['network', 'create', net]);
    const a = await runDetached(['--network', net, 'busybox', 'sleep', '60']);
    const b = await runDetached(['busybox', 'sleep', '60']);
    expect(netnsLeftovers(ns()).length).toBeGreaterThan(0);
    await berthOk(['rm', '-f', a, b]);
    await removeNetworks();
    // links are deleted by a short-lived child of the helper (a deletion waits for RCU)
    await waitUntil(() => netnsLeftovers(ns()).length === 0, 5000);
    expect(netnsLeftovers(ns())).toEqual([]);
    const listed = await berthJson<NetworkInfo[]>(['network', 'ls', '--json']);
    expect(listed.map((n) => n.name)).toEqual(['bridge']);
  });
});
