import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { authFileCandidates, basicAuthorization, credentialsFromAuthJson, findCredentials, parseWwwAuthenticate, tokenFromResponse, tokenUrl } from './auth';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('parseWwwAuthenticate', () => {
  it('parses a Bearer challenge with quoted params', () => {
    const h = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"';
    expect(parseWwwAuthenticate(h)).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
    ]);
  });

  it('parses several challenges, token values, escapes and commas inside quotes', () => {
    const h = 'Basic realm="Registry \\"Realm\\", here", Bearer realm=https://t.example/token , service=reg,scope="repository:a/b:pull,push"';
    expect(parseWwwAuthenticate(h)).toEqual([
      { scheme: 'basic', params: { realm: 'Registry "Realm", here' } },
      { scheme: 'bearer', params: { realm: 'https://t.example/token', service: 'reg', scope: 'repository:a/b:pull,push' } },
    ]);
  });

  it('keeps a token68 and tolerates junk', () => {
    expect(parseWwwAuthenticate('Negotiate abc123==')).toEqual([{ scheme: 'negotiate', params: { token68: 'abc123==' } }]);
    expect(parseWwwAuthenticate('')).toEqual([]);
    expect(parseWwwAuthenticate('Basic')).toEqual([{ scheme: 'basic', params: {} }]);
  });
});

describe('token flow helpers', () => {
  it('builds the token URL with service and scopes', () => {
    const u = tokenUrl({ scheme: 'bearer', params: { realm: 'https://auth.example/token?x=1', service: 'reg' } }, ['repository:a:pull', 'repository:b:pull']);
    expect(u.searchParams.get('x')).toBe('1');
    expect(u.searchParams.get('service')).toBe('reg');
    expect(u.searchParams.getAll('scope')).toEqual(['repository:a:pull', 'repository:b:pull']);
    expect(() => tokenUrl({ scheme: 'bearer', params: {} }, [])).toThrow(/without a realm/);
  });

  it('reads token or access_token', () => {
    expect(tokenFromResponse({ token: 't1' })).toBe('t1');
    expect(tokenFromResponse({ access_token: 't2' })).toBe('t2');
    expect(() => tokenFromResponse({})).toThrow(/without a token/);
  });

  it('encodes Basic credentials', () => {
    expect(basicAuthorization({ username: 'u', password: 'p:w' })).toBe(`Basic ${b64('u:p:w')}`);
  });
});

describe('auth files', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  const tmp = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-auth-'));
    dirs.push(d);
    return d;
  };

  it('searches the usual files in order', () => {
    expect(authFileCandidates({ env: { REGISTRY_AUTH_FILE: '/a.json', XDG_RUNTIME_DIR: '/run/user/1' }, home: '/home/u' })).toEqual([
      '/a.json',
      '/run/user/1/containers/auth.json',
      '/home/u/.config/containers/auth.json',
      '/home/u/.docker/config.json',
    ]);
    expect(authFileCandidates({ env: {}, home: '/h' })).toEqual(['/h/.config/containers/auth.json', '/h/.docker/config.json']);
    expect(authFileCandidates({ authFile: '/x.json', env: { REGISTRY_AUTH_FILE: '/a.json' } })).toEqual(['/x.json']);
  });

  it('matches registry keys, URLs, and repository-scoped entries', () => {
    const json = {
      auths: {
        'ghcr.io': { auth: b64('g:1') },
        'ghcr.io/team/app': { auth: b64('scoped:2') },
        'https://index.docker.io/v1/': { auth: b64('hub:3') },
        'http://127.0.0.1:5000': { auth: b64('local:4') },
      },
    };
    expect(credentialsFromAuthJson(json, 'ghcr.io', 'other/x')).toEqual({ username: 'g', password: '1' });
    expect(credentialsFromAuthJson(json, 'ghcr.io', 'team/app')).toEqual({ username: 'scoped', password: '2' });
    expect(credentialsFromAuthJson(json, 'docker.io', 'library/busybox')).toEqual({ username: 'hub', password: '3' });
    expect(credentialsFromAuthJson(json, '127.0.0.1:5000', 'x')).toEqual({ username: 'local', password: '4' });
    expect(credentialsFromAuthJson(json, 'quay.io', 'x')).toBeNull();
    expect(credentialsFromAuthJson({}, 'quay.io', 'x')).toBeNull();
  });

  it('takes the first file that names the registry', () => {
    const d = tmp();
    const xdg = path.join(d, 'run');
    fs.mkdirSync(path.join(xdg, 'containers'), { recursive: true });
    fs.writeFileSync(path.join(xdg, 'containers/auth.json'), JSON.stringify({ auths: { 'a.io': { auth: b64('x:1') } } }));
    fs.mkdirSync(path.join(d, '.docker'));
    fs.writeFileSync(path.join(d, '.docker/config.json'), JSON.stringify({ auths: { 'a.io': { auth: b64('y:2') }, 'b.io': { auth: b64('z:3') } } }));
    const opts = { env: { XDG_RUNTIME_DIR: xdg }, home: d };
    expect(findCredentials('a.io', 'r', opts)).toEqual({ username: 'x', password: '1' });
    expect(findCredentials('b.io', 'r', opts)).toEqual({ username: 'z', password: '3' });
    expect(findCredentials('c.io', 'r', opts)).toBeNull();
  });

  it('reports a broken or missing explicit file', () => {
    const d = tmp();
    fs.writeFileSync(path.join(d, 'bad.json'), '{');
    expect(() => findCredentials('a.io', 'r', { authFile: path.join(d, 'bad.json') })).toThrow(/not valid JSON/);
    expect(() => findCredentials('a.io', 'r', { authFile: path.join(d, 'none.json') })).toThrow(/does not exist/);
    fs.writeFileSync(path.join(d, 'noc.json'), JSON.stringify({ auths: { 'a.io': { auth: b64('nocolon') } } }));
    expect(() => findCredentials('a.io', 'r', { authFile: path.join(d, 'noc.json') })).toThrow(/user:password/);
  });
});
