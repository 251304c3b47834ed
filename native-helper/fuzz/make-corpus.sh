#!/bin/sh
# Writes the seed corpus of the fuzz targets into fuzz/corpus/<target>/:
# valid and malformed request lines, frame streams, container specs and image
# configs, and tiny valid and hostile layers (path traversal, absolute paths,
# symlink and hardlink escapes, bad whiteouts, overlay xattrs, device nodes,
# setuid files, sparse maps, huge PAX headers, a decompression bomb, truncated
# and corrupted gzip, bad checksums, a 2000-level tree); and compressed blobs
# for the layer feed, cut into pieces. Deterministic: run it
# again and the files come out the same. Needs python3 (and zstd for .zst).
# Regression seeds (inputs that once crashed a target) live in the same dirs
# under names starting with "crash-" and are not touched here.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec python3 - "$here/corpus" <<'EOF'
import bz2, gzip, io, json, lzma, os, shutil, struct, subprocess, sys, tarfile

out = sys.argv[1]

def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)

# ---- protocol: one request line each (no newline: the server strips it) ----
reqs = {
    'list': {"v": 1, "id": 7, "method": "container.list", "params": {"all": True}},
    'info': {"v": 1, "id": "abc", "method": "helper.info"},
    'create': {"v": 1, "id": 2, "method": "container.create", "params": {
        "image": "busybox", "name": "web", "cmd": ["sh", "-c", "echo hi"], "env": ["K=V"],
        "workdir": "/", "user": "1000:1000", "tty": False, "stdin": False, "autoRemove": False,
        "namespaces": {"pid": True, "mount": True, "uts": True, "ipc": True, "net": True, "cgroup": True, "user": False},
        "limits": {"memory": 67108864, "cpus": 0.5, "cpuWeight": 100, "pids": 64},
        "network": "bridge", "ports": [{"hostIp": "127.0.0.1", "hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
        "mounts": [{"type": "tmpfs", "target": "/tmp", "size": 67108864, "mode": 1023}],
        "restart": {"policy": "on-failure", "maxRetries": 3}}},
    'pull': {"v": 1, "id": 3, "method": "image.pull", "params": {"ref": "docker.io/library/busybox:1.36"}},
    'import': {"v": 1, "id": 4, "method": "image.import", "params": {"path": "/tmp/x.tar", "format": "oci-archive",
        "ref": "localhost:5000/a/b@sha256:" + "a" * 64, "config": {"Cmd": ["sh"], "Env": ["A=1"]}}},
    'kill': {"v": 1, "id": 1.5, "method": "container.kill", "params": {"id": "web", "signal": "SIGKILL"}},
    'logs': {"v": 1, "id": 9, "method": "container.logs", "params": {"id": "web", "follow": True, "tail": -1}},
    'unknown': {"v": 1, "id": 10, "method": "no.such", "params": {}},
}
for k, v in reqs.items():
    put('protocol', k, json.dumps(v))
for k, v in {
    'version2': '{"v":2,"id":1,"method":"helper.info"}',
    'noid': '{"v":1,"method":"helper.info"}',
    'trailing': '{"v":1,"id":1,"method":"helper.info"} x',
    'nul': '{"v":1,"id":"a\\u0000b","method":"helper.info"}',
    'deep': '{"v":1,"id":1,"method":"m","params":{"a":' + '[' * 40 + ']' * 40 + '}}',
    'bigint': '{"v":1,"id":1e400,"method":"m","params":{"n":99999999999999999999}}',
    'badutf8': b'{"v":1,"id":1,"method":"\xff\xfe"}',
    'overlong': b'{"v":1,"id":"\xc0\xaf","method":"hel\xed\xa0\x80lo","params":{"a":"\xf4\x90\x80\x80"}}',
    'nulkey': '{"v":1,"id":2,"method":"container.list","params":{"all\\u0000x":true,"b":"\\\\u0000"}}',
    'bigid': '{"v":1,"id":18446744073709551615,"method":"hello"}',
    'truncated': '{"v":1,"id":1,"method":"helper.in',
    'array': '[1,2,3]',
    'params-array': '{"v":1,"id":1,"method":"m","params":[]}',
}.items():
    put('protocol', k, v)

# ---- frame: 1 byte chunk size, then frames (type, u32 BE length, payload) ----
def frame(t, payload):
    return bytes([t]) + struct.pack('>I', len(payload)) + payload
put('frame', 'stdin', b'\x00' + frame(0, b'echo hi\n') + frame(5, b''))
put('frame', 'resize-chunked', b'\x01' + frame(4, b'\x00\x18\x00\x50') + frame(0, b'x' * 40))
put('frame', 'partial', b'\x03' + frame(0, b'abc')[:6])
put('frame', 'too-large', b'\x00' + b'\x00\x00\x10\x00\x01')
put('frame', 'max', b'\x00' + b'\x00\x00\x10\x00\x00')
put('frame', 'many', b'\x07' + b''.join(frame(i % 10, bytes([i]) * i) for i in range(30)))

# ---- config: image config fields, and container specs as resolved ----
put('config', 'config', json.dumps({"Cmd": ["sh"], "Entrypoint": ["/bin/sh", "-c"], "Env": ["PATH=/bin", "A=b"],
    "WorkingDir": "/srv", "User": "1000:1000", "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
    "Labels": {"a": "b"}, "StopSignal": "SIGTERM"}))
put('config', 'config-bad', json.dumps({"Env": ["=x"], "ExposedPorts": ["99999/tcp", None], "WorkingDir": "rel"}))
put('config', 'config-volumes', json.dumps({"Cmd": ["sh"], "Volumes": {"/data": {}, "/var/lib/db/": {}, "//cache/./x": {}}}))
spec = {"id": "0123456789abcdef" * 4, "name": "web", "image": "busybox:latest", "imageId": "sha256:" + "b" * 64,
        "argv": ["sh", "-c", "echo hi"], "env": ["PATH=/bin"], "workdir": "/", "hostname": "web", "user": "0:0",
        "tty": True, "stdin": True, "autoRemove": False,
        "namespaces": {"pid": True, "mount": True, "uts": True, "ipc": True, "net": True, "cgroup": True, "user": False},
        "limits": {"memory": 67108864, "cpus": 0.5, "cpuQuotaUs": 50000, "cpuPeriodUs": 100000, "cpuWeight": 100, "pids": 64},
        "lowerdirs": ["/var/lib/berth/layers/sha256/" + "c" * 64],
        "network": "bridge", "ports": [{"hostIp": "127.0.0.1", "hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
        "mounts": [{"type": "tmpfs", "target": "/tmp", "size": 67108864, "mode": 1023},
                   {"type": "bind", "source": "/srv/data", "target": "/data", "readOnly": True}],
        "restart": {"policy": "on-failure", "maxRetries": 3}}
put('config', 'spec', json.dumps(spec))
put('config', 'spec-host', json.dumps(dict(spec, network="host", ports=[], namespaces=dict(spec["namespaces"], net=False))))
put('config', 'spec-minimal', json.dumps({k: spec[k] for k in ("id", "name", "image", "imageId", "argv", "lowerdirs")}))
put('config', 'spec-anon', json.dumps(dict(spec, mounts=[{"type": "volume", "target": "/data"},
    {"type": "volume", "source": "a" * 64, "target": "/cache", "anonymous": True}])))

# ---- layer: tarballs as a registry would send them ----
def ti(name, kind=tarfile.REGTYPE, size=0, mode=0o644, link='', uid=0, gid=0, pax=None, major=0, minor=0):
    i = tarfile.TarInfo(name)
    i.type, i.size, i.mode, i.linkname, i.uid, i.gid = kind, size, mode, link, uid, gid
    i.mtime = 1234567890
    i.devmajor, i.devminor = major, minor
    if pax:
        i.pax_headers = pax
    return i

def tar(members, fmt=tarfile.PAX_FORMAT):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode='w', format=fmt) as t:
        for m in members:
            info, data = m if isinstance(m, tuple) else (m, None)
            if data is not None:
                info.size = len(data)
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    v = b.getvalue().rstrip(b'\0')
    # small seeds: drop the record padding, keep the two zero blocks of the end
    return v + bytes(-len(v) % 512 + 1024)

def raw_header(name, typeflag, size_field):
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b'0000644\0'
    h[108:116] = b'0000000\0'
    h[116:124] = b'0000000\0'
    h[124:136] = size_field
    h[136:148] = b'11145401322\0'
    h[156:157] = typeflag
    h[257:263] = b'ustar\0'
    h[263:265] = b'00'
    h[148:156] = b'        '
    h[148:156] = b'%06o\0 ' % sum(h)
    return bytes(h)

def f(name, data=b'', **kw): return (ti(name, **kw), data)
def d(name, mode=0o755, **kw): return ti(name, tarfile.DIRTYPE, mode=mode, **kw)
def sym(name, target): return ti(name, tarfile.SYMTYPE, link=target)
def hard(name, target, **kw): return ti(name, tarfile.LNKTYPE, link=target, **kw)

def gz(b): return gzip.compress(b, mtime=0)
def zst(b):
    try:
        return subprocess.run(['zstd', '-q', '-c', '-19'], input=b, stdout=subprocess.PIPE, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None

good = tar([d('./'), d('etc/'), f('etc/hello', b'hi\n', mode=0o640, uid=1000, gid=1001,
            pax={'SCHILY.xattr.user.berth': 'yes'}), hard('etc/hello2', 'etc/hello'),
            d('usr/bin', 0o555), f('usr/bin/tool', b'#!/bin/sh\n', mode=0o4755), sym('bin', 'usr/bin'),
            sym('abs', '/etc/passwd'), ti('dev/null', tarfile.CHRTYPE, mode=0o666, major=1, minor=3),
            ti('run/fifo', tarfile.FIFOTYPE, mode=0o600), f('old/.wh.gone'), f('opq/.wh..wh..opq')])
put('layer', 'good.tar', good)
put('layer', 'good.tar.gz', gz(good))
z = zst(good)
if z:
    put('layer', 'good.tar.zst', z)
put('layer', 'good.tar.xz', lzma.compress(good, preset=0))
put('layer', 'good.tar.bz2', bz2.compress(good))
put('layer', 'gnu.tar', tar([d('a'), f('a/' + 'x' * 150, b'long name')], fmt=tarfile.GNU_FORMAT))
put('layer', 'ustar.tar', tar([d('a'), f('a/b', b'x')], fmt=tarfile.USTAR_FORMAT))
put('layer', 'empty.tar', tar([]))
hostile = {
    'dotdot': [f('ok', b'1'), f('../evil-dotdot', b'x')],
    'dotdot-inner': [f('a/../../evil', b'x')],
    'absolute': [f('/tmp/berth-fuzz-evil-abs', b'x')],
    'sym-escape': [sym('link', '../../..'), f('link/evil-sym', b'x')],
    'sym-abs-then-write': [sym('etc', '/etc'), f('etc/berth-fuzz-evil', b'x')],
    'sym-replace-canary': [sym('c', '../canary'), f('c', b'overwritten')],
    'sym-chmod': [sym('up', '..'), d('up', mode=0o777)],
    'sym-then-dir-entry': [sym('d', '../..'), d('d/sub')],
    'hardlink-outside': [hard('h', '../canary')],
    'hardlink-abs': [hard('h', '/etc/passwd')],
    'hardlink-via-sym': [sym('s', '../..'), hard('h', 's/canary')],
    'hardlink-self': [hard('h', 'h')],
    'hardlink-dir': [d('dir'), hard('h', 'dir')],
    'hardlink-data-dev': [ti('tty', tarfile.CHRTYPE, mode=0o666, major=5, minor=0), (hard('h', 'tty'), b'data')],
    'wh-dotdot': [f('.wh..')],
    'wh-dotdotdot': [f('.wh...')],
    'wh-empty': [f('a/.wh.')],
    'wh-under-sym': [sym('s', '../..'), f('s/.wh.canary')],
    'opq-under-sym': [sym('s', '..'), f('s/.wh..wh..opq')],
    'opq-on-file': [f('file', b'x'), f('file/.wh..wh..opq')],
    'xattr-overlay': [d('x', pax={'SCHILY.xattr.trusted.overlay.redirect': '/etc',
                                   'SCHILY.xattr.trusted.overlay.opaque': 'y'})],
    'devices': [ti('sda', tarfile.BLKTYPE, mode=0o600, major=8, minor=0),
                ti('mem', tarfile.CHRTYPE, mode=0o600, major=1, minor=1)],
    'setuid': [f('su', b'\x7fELF', mode=0o6755, uid=0)],
    'pax-path-override': [f('innocent', b'x', pax={'path': '../pax-evil', 'linkpath': '/etc'})],
    'sparse': [f('sparse', b'abcd', pax={'GNU.sparse.major': '1', 'GNU.sparse.minor': '0',
                                        'GNU.sparse.name': 'sparse', 'GNU.sparse.realsize': str(1 << 40)})],
    'neg-size': [f('n', b'', pax={'size': '-1'})],
    'overcap': [f('big', b'', pax={'size': str(2 << 20)})],
    'dup-dir-file': [d('x'), f('x', b'file now'), d('x')],
    'long-path': [f('a/' * 2100 + 'f', b'x')],
}
for name, members in hostile.items():
    put('layer', name + '.tar', tar(members))
# a PAX header that claims a huge record
put('layer', 'big-pax.tar', tar([f('x', b'x', pax={'comment': 'A' * 8000})]))
# PAX and GNU long-name headers that claim 8 GiB and then end
put('layer', 'huge-pax-claim.tar', raw_header(b'PaxHeader/x', b'x', b'77777777777\0') + b'30 path=' + b'a' * 100)
put('layer', 'huge-longname-claim.tar', raw_header(b'././@LongLink', b'L', b'77777777777\0') + b'b' * 600)
# a 2000-level tree: removing it once overflowed the stack (util.c rm_rf)
put('layer', 'deep-2000.tar.gz', gz(tar([f('a/' * 2000 + 'f', b'x')])))
# 4 MiB of zeros in one file: over the 1 MiB cap, tiny compressed
put('layer', 'bomb.tar.gz', gz(tar([f('zeros', bytes(4 << 20))])))
put('layer', 'truncated.tar.gz', gz(good)[:200])
c = bytearray(gz(good)); c[len(c) // 2] ^= 0xff; c[-6] ^= 0x55
put('layer', 'corrupt.tar.gz', bytes(c))
bad = bytearray(tar([f('a', b'x')])); bad[148:156] = b'0000000\0'
put('layer', 'bad-checksum.tar', bytes(bad))
put('layer', 'not-a-tar', b'PK\x03\x04 this is a zip')

# ---- layer_feed: 1 byte piece size, then a blob as a registry sends it ----
layer_dir = os.path.join(out, 'layer')
for name in ['good.tar', 'good.tar.gz', 'good.tar.zst', 'good.tar.xz', 'truncated.tar.gz', 'corrupt.tar.gz']:
    p = os.path.join(layer_dir, name)
    if os.path.exists(p):
        with open(p, 'rb') as f:
            blob = f.read()
        for piece in (0, 1, 7):
            put('layer_feed', '%s.%d' % (name, piece), bytes([piece]) + blob)
good_gz = gz(good)
put('layer_feed', 'two-members.gz.3', bytes([3]) + good_gz + good_gz + b'\0' * 16)
EOF
