import { describe, expect, it } from 'vitest';

import { goArch, hostPlatform, MAX_LAYERS, MEDIA_DOCKER_LIST, MEDIA_OCI_MANIFEST, parseManifest, realmMayGetCredentials, RegistryError, selectPlatform, type Descriptor, type ImageIndex } from './client';

const dg = (c: string): string => 'sha256:' + c.repeat(64);
const entry = (c: string, architecture: string, variant?: string, os = 'linux'): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: dg(c),
  size: 100,
  platform: { os, architecture, ...(variant ? { variant } : {}) },
});

describe('platforms', () => {
  it('maps node arch names to GOARCH', () => {
    expect(goArch('x64')).toBe('amd64');
    expect(goArch('arm64')).toBe('arm64');
    expect(goArch('ia32')).toBe('386');
    expect(goArch('ppc64')).toBe('ppc64le');
    expect(goArch('s390x')).toBe('s390x');
    expect(hostPlatform().os).toBe('linux');
    expect(hostPlatform().architecture).toBe(goArch(process.arch));
  });

  it('selects the host platform from an index', () => {
    const index: ImageIndex = {
      schemaVersion: 2,
      manifests: [entry('1', 'arm', 'v6'), entry('2', 'amd64', undefined, 'windows'), entry('3', 'amd64'), entry('4', 'arm64', 'v8'), entry('5', 'arm', 'v7'), entry('6', 'unknown', undefined, 'unknown')],
    };
    expect(selectPlatform(index, { os: 'linux', architecture: 'amd64' })?.digest).toBe(dg('3'));
    expect(selectPlatform(index, { os: 'linux', architecture: 'arm64' })?.digest).toBe(dg('4'));
    expect(selectPlatform(index, { os: 'linux', architecture: 'arm', variant: 'v7' })?.digest).toBe(dg('5'));
    // an armv6 host cannot run v7 code
    expect(selectPlatform(index, { os: 'linux', architecture: 'arm', variant: 'v6' })?.digest).toBe(dg('1'));
    expect(selectPlatform(index, { os: 'linux', architecture: 'arm', variant: 'v5' })).toBeNull();
    expect(selectPlatform(index, { os: 'linux', architecture: 's390x' })).toBeNull();
    // an armv8 host takes a v7 image when nothing closer exists
    expect(selectPlatform({ schemaVersion: 2, manifests: [entry('7', 'arm', 'v5'), entry('8', 'arm', 'v7')] }, { os: 'linux', architecture: 'arm', variant: 'v8' })?.digest).toBe(dg('8'));
  });
});

describe('parseManifest', () => {
  const image = { schemaVersion: 2, mediaType: MEDIA_OCI_MANIFEST, config: { mediaType: 'c', digest: dg('a'), size: 2 }, layers: [{ mediaType: 'l', digest: dg('b'), size: 3 }] };

  it('parses an image manifest and an index', () => {
    const m = parseManifest(Buffer.from(JSON.stringify(image)), undefined, 'm');
    expect(m.kind).toBe('image');
    const list = { schemaVersion: 2, mediaType: MEDIA_DOCKER_LIST, manifests: [entry('c', 'amd64')] };
    const i = parseManifest(Buffer.from(JSON.stringify(list)), 'application/vnd.docker.distribution.manifest.list.v2+json', 'm');
    expect(i.kind).toBe('index');
    // no mediaType field: the Content-Type header decides
    const noType = { ...image, mediaType: undefined };
    expect(parseManifest(Buffer.from(JSON.stringify(noType)), `${MEDIA_OCI_MANIFEST}; charset=utf-8`, 'm').mediaType).toBe(MEDIA_OCI_MANIFEST);
  });

  it('refuses what it cannot pull, saying why', () => {
    const bad: [unknown, RegExp][] = [
      ['not json', /not JSON/],
      [{ schemaVersion: 1, name: 'x' }, /schema 1/],
      [{ ...image, layers: undefined }, /without layers/],
      [{ ...image, layers: [{ digest: 'sha512:' + 'a'.repeat(128), size: 1 }] }, /not sha256/],
      [{ ...image, config: { digest: dg('a') } }, /without a digest and a size/],
      [{ ...image, mediaType: 'application/x-other' }, /unsupported manifest type/],
    ];
    for (const [doc, why] of bad) {
      const bytes = Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc));
      expect(() => parseManifest(bytes, undefined, 'm')).toThrow(RegistryError);
      expect(() => parseManifest(bytes, undefined, 'm')).toThrow(why);
    }
  });
});

describe('hostile registries', () => {
  it('sends credentials only to the registry itself or its own token server', () => {
    const hub = new URL('https://registry-1.docker.io');
    expect(realmMayGetCredentials(hub, new URL('https://auth.docker.io/token'))).toBe(true);
    expect(realmMayGetCredentials(hub, new URL('http://auth.docker.io/token'))).toBe(false);
    expect(realmMayGetCredentials(hub, new URL('https://auth.docker.io:8443/token'))).toBe(false);
    expect(realmMayGetCredentials(hub, new URL('https://evil.example/token'))).toBe(false);
    expect(realmMayGetCredentials(hub, new URL('https://docker.io.evil.example/token'))).toBe(false);
    expect(realmMayGetCredentials(new URL('https://ghcr.io'), new URL('https://ghcr.io/token'))).toBe(true);
    expect(realmMayGetCredentials(new URL('https://ghcr.io'), new URL('https://evil.io/token'))).toBe(false);
    const local = new URL('http://127.0.0.1:5000');
    expect(realmMayGetCredentials(local, new URL('http://127.0.0.1:5000/token'))).toBe(true);
    expect(realmMayGetCredentials(local, new URL('http://127.0.0.1:5001/token'))).toBe(false);
    expect(realmMayGetCredentials(local, new URL('http://localhost:5000/token'))).toBe(false);
  });

  it(`refuses a manifest of more than ${MAX_LAYERS} layers before any download`, () => {
    const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: dg('a'), size: 1 };
    const m = (n: number): Buffer => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_OCI_MANIFEST, config: { ...layer, digest: dg('c') }, layers: Array(n).fill(layer) }));
    expect(parseManifest(m(MAX_LAYERS), undefined, 'm').kind).toBe('image');
    expect(() => parseManifest(m(MAX_LAYERS + 1), undefined, 'm')).toThrow(`m: ${MAX_LAYERS + 1} layers; at most ${MAX_LAYERS} are supported`);
  });
});
