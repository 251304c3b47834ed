import { describe, expect, it } from 'vitest';

import type { ContainerInfo, ContainerInterfaces, InterfaceInfo } from '../../../electron/core/protocol';
import { hostInterfacesShown, namespaceSentence, networkParams, peerName, portText, portUrl, vethPairs } from './net';
import { containerState, isActive, restartingText, restartPolicyText } from './status';

const iface = (name: string, kind: string, over: Partial<InterfaceInfo> = {}): InterfaceInfo => ({ name, index: 1, kind, mac: null, mtu: 1500, up: true, addresses: [], rxBytes: 0, txBytes: 0, ...over });

const ifs: ContainerInterfaces = {
  isolated: true,
  container: {
    interfaces: [iface('lo', 'loopback', { addresses: [{ family: 'inet', address: '127.0.0.1', prefixLen: 8 }] }), iface('eth0', 'veth', { peer: 'veth0a1b2c3d@host', addresses: [{ family: 'inet', address: '10.89.0.5', prefixLen: 16 }] })],
    routes: [{ destination: 'default', gateway: '10.89.0.1', device: 'eth0' }],
  },
  host: {
    interfaces: [iface('lo', 'loopback'), iface('berth0', 'bridge'), iface('veth0a1b2c3d', 'veth', { peer: 'eth0@container', master: 'berth0' }), iface('veth99999999', 'veth', { peer: 'eth0@container', master: 'berth0' })],
    routes: [],
  },
};

describe('veth pairs', () => {
  it('finds the host end of eth0 and its bridge', () => {
    const [p] = vethPairs(ifs);
    expect(p.inside.name).toBe('eth0');
    expect(p.outside?.name).toBe('veth0a1b2c3d');
    expect(p.bridge?.name).toBe('berth0');
    expect(vethPairs({ ...ifs, host: { interfaces: [], routes: [] } })[0].outside).toBeNull();
    expect(peerName('veth1@host')).toBe('veth1');
    expect(peerName(null)).toBeNull();
  });
  it('shows the host’s own interfaces and this container’s veth, counting the others', () => {
    const { shown, otherVeths } = hostInterfacesShown(ifs);
    expect(shown.map((i) => i.name)).toEqual(['lo', 'berth0', 'veth0a1b2c3d']);
    expect(otherVeths).toBe(1);
  });
});

describe('published ports', () => {
  it('links TCP ports, 0.0.0.0 through loopback, and not UDP', () => {
    expect(portUrl({ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' })).toBe('http://127.0.0.1:8080');
    expect(portUrl({ hostIp: '0.0.0.0', hostPort: 80, containerPort: 80, protocol: 'tcp' })).toBe('http://127.0.0.1:80');
    expect(portUrl({ hostIp: '0.0.0.0', hostPort: 53, containerPort: 53, protocol: 'udp' })).toBeNull();
    expect(portText({ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' })).toBe('127.0.0.1:8080 → 80/tcp');
  });
});

describe('the namespace sentence', () => {
  const c = (mode: 'bridge' | 'none' | 'host', name: string | null = null) => ({ status: 'running' as const, network: { mode, name, ip: null, prefixLen: null, gateway: null, mac: null } });
  it('names the bridge, loopback only, or the shared namespace', () => {
    expect(namespaceSentence(c('bridge', 'bridge'), true)).toContain('berth0');
    expect(namespaceSentence(c('bridge', 'lab'), true)).toContain('“lab”');
    expect(namespaceSentence(c('none'), true)).toContain('only lo');
    expect(namespaceSentence(c('host'), false)).toContain('shares');
  });
});

describe('networkParams', () => {
  it('keeps what was given', () => {
    expect(networkParams({ name: ' lab ', subnet: '', gateway: '' })).toEqual({ name: 'lab' });
    expect(networkParams({ name: 'lab', subnet: '10.90.5.0/24', gateway: '10.90.5.1' })).toEqual({ name: 'lab', subnet: '10.90.5.0/24', gateway: '10.90.5.1' });
  });
  it('says what is wrong', () => {
    expect(() => networkParams({ name: '', subnet: '', gateway: '' })).toThrow(/name/);
    expect(() => networkParams({ name: 'host', subnet: '', gateway: '' })).toThrow(/built-in/);
    expect(() => networkParams({ name: 'x', subnet: '10.90.5.0', gateway: '' })).toThrow(/CIDR/);
    expect(() => networkParams({ name: 'x', subnet: '10.90.5.1/24', gateway: '' })).toThrow(/10\.90\.5\.0/);
    expect(() => networkParams({ name: 'x', subnet: '10.90.5.0/24', gateway: '10.90.6.1' })).toThrow(/not inside/);
    expect(() => networkParams({ name: 'x', subnet: '', gateway: '10.90.6.1' })).toThrow(/subnet too/);
  });
});

describe('restarting', () => {
  const base: Pick<ContainerInfo, 'status' | 'restart' | 'exitCode' | 'exitReason' | 'oomKilled'> = {
    status: 'restarting',
    exitCode: 1,
    exitReason: 'exited',
    oomKilled: false,
    restart: { policy: 'on-failure', maxRetries: 5, count: 2, nextAttempt: '2026-01-01T00:00:03Z' },
  };
  it('reads as its own state, active, with the next attempt', () => {
    expect(containerState(base)).toEqual({ label: 'Restarting', tone: 'warn' });
    expect(isActive(base)).toBe(true);
    expect(isActive({ status: 'exited' })).toBe(false);
    expect(restartingText(base, Date.parse('2026-01-01T00:00:00.5Z'))).toBe('Restart 3 of 5 in 3 s');
    expect(restartingText(base, Date.parse('2026-01-01T00:00:09Z'))).toBe('Restart 3 of 5 any moment now');
    expect(restartingText({ ...base, status: 'running' }, 0)).toBe('');
  });
  it('says the policy in a few words', () => {
    expect(restartPolicyText(base.restart)).toBe('on failure, at most 5× · restarted 2×');
    expect(restartPolicyText({ policy: 'no', count: 0, nextAttempt: null })).toBe('never');
    expect(restartPolicyText({ policy: 'unless-stopped', count: 0, nextAttempt: null })).toBe('unless stopped');
  });
});
