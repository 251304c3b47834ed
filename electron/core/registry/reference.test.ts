import { describe, expect, it } from 'vitest';

import { familiarName, formatReference, isLoopbackRegistry, parseReference, registryHost, ReferenceError } from './reference';

describe('parseReference', () => {
  it('applies docker defaults: docker.io, library/, latest', () => {
    expect(parseReference('busybox')).toEqual({ registry: 'docker.io', repository: 'library/busybox', tag: 'latest' });
    expect(parseReference('alpine:3.20')).toEqual({ registry: 'docker.io', repository: 'library/alpine', tag: '3.20' });
    expect(parseReference('user/app')).toEqual({ registry: 'docker.io', repository: 'user/app', tag: 'latest' });
    expect(parseReference('docker.io/busybox').repository).toBe('library/busybox');
    expect(parseReference('index.docker.io/library/busybox:1').registry).toBe('docker.io');
  });

  it('takes a registry host with a dot, a port, or localhost', () => {
    expect(parseReference('ghcr.io/owner/repo:v1')).toEqual({ registry: 'ghcr.io', repository: 'owner/repo', tag: 'v1' });
    expect(parseReference('127.0.0.1:5000/x/y')).toEqual({ registry: '127.0.0.1:5000', repository: 'x/y', tag: 'latest' });
    expect(parseReference('localhost/x').registry).toBe('localhost');
    expect(parseReference('[::1]:5000/x:t')).toEqual({ registry: '[::1]:5000', repository: 'x', tag: 't' });
    // a first component without . : or localhost is a namespace
    expect(parseReference('myhost/x')).toEqual({ registry: 'docker.io', repository: 'myhost/x', tag: 'latest' });
  });

  it('takes digests, with or without a tag', () => {
    const d = 'sha256:' + 'ab'.repeat(32);
    expect(parseReference(`busybox@${d}`)).toEqual({ registry: 'docker.io', repository: 'library/busybox', digest: d });
    expect(parseReference(`localhost:5000/a:1@${d}`)).toEqual({ registry: 'localhost:5000', repository: 'a', tag: '1', digest: d });
  });

  it('refuses bad references with a reason', () => {
    const bad: [string, RegExp][] = [
      ['', /empty/],
      ['Busybox', /lower-case/],
      ['busybox:', /bad tag/],
      ['busybox:-x', /bad tag/],
      ['busybox@sha256:abc', /64 lower-case hex/],
      ['busybox@md5:' + 'a'.repeat(32), /sha256 only/],
      ['a//b', /empty path component/],
      ['a/-b', /bad name component/],
      ['https://ghcr.io/x', /not a URL/],
      ['a b', /white space/],
      ['x'.repeat(300), /longer than/],
    ];
    for (const [ref, why] of bad) {
      expect(() => parseReference(ref), ref).toThrow(ReferenceError);
      expect(() => parseReference(ref), ref).toThrow(why);
    }
  });

  it('formats the familiar name', () => {
    expect(familiarName(parseReference('docker.io/library/busybox'))).toBe('busybox');
    expect(familiarName(parseReference('user/app'))).toBe('user/app');
    expect(formatReference(parseReference('127.0.0.1:5000/x/y:2'))).toBe('127.0.0.1:5000/x/y:2');
    expect(formatReference(parseReference('alpine'))).toBe('alpine:latest');
  });

  it('knows docker hub API host and loopback registries', () => {
    expect(registryHost('docker.io')).toBe('registry-1.docker.io');
    expect(registryHost('ghcr.io')).toBe('ghcr.io');
    for (const r of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.1.2.3', '[::1]:5000']) expect(isLoopbackRegistry(r), r).toBe(true);
    for (const r of ['ghcr.io', '10.0.0.1:5000', 'localhost.example.com', '[::2]:1']) expect(isLoopbackRegistry(r), r).toBe(false);
  });
});
