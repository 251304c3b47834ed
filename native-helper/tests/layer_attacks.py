# Hostile layer tarballs for test_layer_attacks.c (the ideas of containerd's
# archive breakout tests): written into the directory given as argv[1], next
# to an `outside` directory that stands for the host (argv[2], if given, names
# another one). LAYER_ATTACKS_LIGHT=1 skips the slow memory attacks.
import io, os, sys, tarfile, gzip, struct
base = sys.argv[1]
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(base, 'outside')
LIGHT = os.environ.get('LAYER_ATTACKS_LIGHT') == '1'
def tar(name, members, fmt=tarfile.PAX_FORMAT, gz=False):
    path = os.path.join(base, name)
    with tarfile.open(path, 'w:gz' if gz else 'w', format=fmt) as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
def f(name, data=b'', mode=0o644, uid=0, gid=0, mtime=1234567890, pax=None):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = mode; i.uid = uid; i.gid = gid; i.mtime = mtime
    if pax: i.pax_headers = pax
    return (i, data)
def d(name, mode=0o755, mtime=1234567890, uid=0):
    i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mode = mode; i.mtime = mtime; i.uid = uid; return (i, None)
def sym(name, target, mode=0o777, uid=0, mtime=1234567890, pax=None):
    i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target; i.mode = mode; i.uid = uid; i.mtime = mtime
    if pax: i.pax_headers = pax
    return (i, None)
def hard(name, target, data=None, pax=None):
    i = tarfile.TarInfo(name); i.type = tarfile.LNKTYPE; i.linkname = target
    if data is not None: i.size = len(data)
    if pax: i.pax_headers = pax
    return (i, data)
def dev(name, kind, ma, mi, mode=0o666):
    i = tarfile.TarInfo(name); i.type = kind; i.devmajor = ma; i.devminor = mi; i.mode = mode; return (i, None)
secret = os.path.join(OUT, 'secret')
good = [d('./'), d('etc'), f('etc/hello', b'hi\n' * 100), d('usr/bin', 0o555), f('usr/bin/tool', b'#!/bin/sh\n', 0o755), sym('bin', 'usr/bin')]
tar('good.tar', good)
tar('good.tar.gz', good, gz=True)
# traversal and absolute paths
tar('a-dotdot.tar', [f('../evil-a', b'x')])
tar('a-dotdot-deep.tar', [d('a'), d('a/b'), f('a/b/../../../evil-b', b'x')])
tar('a-dotdot-gnu.tar', [f('x/' * 60 + '../' * 70 + 'evil-c', b'x')], fmt=tarfile.GNU_FORMAT)
tar('a-abs.tar', [f(os.path.join(base, 'evil-d'), b'x')])
tar('a-abs-pax.tar', [f('ok', b'1', pax={'path': os.path.join(base, 'evil-e')})])
# symlink escapes
tar('a-symdir.tar', [sym('out', OUT), f('out/evil-f', b'x')])
tar('a-symchain.tar', [d('a'), sym('a/up', '..'), sym('b', 'a/up/..'), f('b/evil-g', b'x')])
tar('a-symreplace-dir.tar', [sym('d', '../outside'), d('d', 0o777), f('d/evil-h', b'x')])
# a directory walked clean by an earlier entry, then swapped for a symlink (after a
# whiteout emptied it away), then written through: the walk is done again
tar('a-cached-dir-sym.tar', [d('c'), d('c/sub'), f('c/sub/f1', b'1'), f('c/.wh.sub', b''), sym('c/sub', OUT), f('c/sub/evil-j', b'x')])
tar('a-cached-dir-hard.tar', [d('c'), d('c/sub'), f('c/sub/f1', b'1'), f('c/.wh.sub', b''), sym('s', OUT), hard('c/sub', 's'), f('c/sub/evil-k', b'x')])
# hardlinks to host files
tar('a-hard-host.tar', [hard('hl', '/etc/passwd')])
tar('a-hard-dotdot.tar', [hard('hl', '../outside/secret')])
tar('a-hard-via-sym.tar', [sym('o', OUT), hard('hl', 'o/secret')])
tar('a-hard-to-sym-data.tar', [sym('s', secret), hard('h', 's', b'pwned\n')])
tar('a-hard-to-sym-pax.tar', [sym('s', secret), hard('h', 's', b'pwned\n', pax={'comment': 'hardlink with data'})])
tar('a-hard-to-sym.tar', [sym('s', secret), hard('h', 's'), f('h', b'pwned\n')])
# write through a symlink planted earlier
tar('a-sym-write.tar', [sym('s', secret), f('s', b'pwned\n')])
tar('a-sym-write-hdata.tar', [f('t', b'ok'), sym('s', secret), hard('s', 't', b'pwned\n')])
# metadata through a symlink: the target must keep mode/owner/times
tar('a-meta-sym-entry.tar', [sym('s', secret, mode=0o777, uid=4321, mtime=5, pax={'SCHILY.xattr.user.pwned': 'y'})])
tar('a-meta-dir-then-sym.tar', [d('d', 0o777, mtime=7, uid=4321), sym('d', secret)])
tar('a-meta-dir-then-symdir.tar', [d('d', 0o777, mtime=7, uid=4321), sym('d', OUT)])
tar('a-meta-file-dir-sym.tar', [f('p', b'file'), d('p', 0o777, mtime=7, uid=4321), sym('p', secret)])
tar('a-meta-deep-dir-sym.tar', [d('x'), d('x/d', 0o777, mtime=7), f('x/d/f', b'1'), sym('x', OUT)])
# whiteouts
tar('a-wh-dot.tar', [f('.wh..', b'')])
tar('a-wh-dotdot.tar', [f('.wh...', b'')])
tar('a-wh-empty.tar', [f('.wh.', b'')])
tar('a-wh-dir-dotdot.tar', [d('a'), f('a/.wh...', b'')])
tar('a-wh-symparent.tar', [sym('o', OUT), f('o/.wh.secret', b'')])
tar('a-wh-opq-symparent.tar', [sym('o', OUT), f('o/.wh..wh..opq', b'')])
tar('a-wh-of-symlink.tar', [sym('o', OUT), f('.wh.o', b'')])
tar('a-wh-opq-on-sym.tar', [sym('o', OUT), d('o'), f('o/.wh..wh..opq', b'')])
# devices and setuid: kept as the layer says
tar('a-devices.tar', [dev('dev/sda', tarfile.BLKTYPE, 8, 0, 0o660), dev('dev/mem', tarfile.CHRTYPE, 1, 1, 0o640), f('bin/su', b'#!/bin/sh\n', 0o4755), f('bin/sg', b'#!/bin/sh\n', 0o2755), d('tmp', 0o1777)])
# repeats: file, then dir, then symlink, then a file through it
tar('a-repeat.tar', [f('p', b'one'), d('p', 0o700), sym('p', OUT), f('p/evil-i', b'x')])
tar('a-repeat-ok.tar', [f('p', b'one'), d('p', 0o700), f('p/inner', b'in'), sym('q', 'p'), f('p2', b'two'), sym('p2', 'q'), d('p2', 0o755)])
# bombs and memory
with tarfile.open(os.path.join(base, 'a-sparse-huge.tar'), 'w', format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo('GNUSparseFile.0/huge'); i.size = 512 + 1
    i.pax_headers = {'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 'huge', 'GNU.sparse.realsize': str(1 << 40)}
    t.addfile(i, io.BytesIO((b'1\n%d\n1\n' % ((1 << 40) - 1)).ljust(512, b'\0') + b'x'))
# a tar end marker followed by a flood of zeros: tiny gzip, huge stream
with gzip.open(os.path.join(base, 'a-stream-bomb.tar.gz'), 'wb', compresslevel=9) as g:
    g.write(open(os.path.join(base, 'good.tar'), 'rb').read())
    z = bytes(1 << 20)
    for _ in range(200): g.write(z)
# PAX header of 64 MiB
with open(os.path.join(base, 'a-pax-huge.tar'), 'wb') as o:
    with tarfile.open(fileobj=o, mode='w', format=tarfile.PAX_FORMAT) as t:
        i = tarfile.TarInfo('x'); i.size = 1; i.pax_headers = {'comment': 'A' * (64 << 20)}
        t.addfile(i, io.BytesIO(b'x'))
# a header that declares 9 GiB of data (over the default 8 GiB cap), then 1 MiB
h = tarfile.TarInfo('bomb'); h.size = 9 << 30; h.mode = 0o644
with gzip.open(os.path.join(base, 'a-bomb-9g.tar.gz'), 'wb') as g:
    g.write(h.tobuf(format=tarfile.PAX_FORMAT)); g.write(bytes(1 << 20))
# GNU sparse 1.0 map with 4 million entries (~16 MB of map)
N = 40 if LIGHT else 4_000_000
m = io.BytesIO(); m.write(b'%d\n' % N)
for k in range(N): m.write(b'%d\n1\n' % (2 * k))
mp = m.getvalue(); mp = mp + b'\0' * ((512 - len(mp) % 512) % 512)
with tarfile.open(os.path.join(base, 'a-sparse-map.tar'), 'w', format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo('GNUSparseFile.0/s'); i.size = len(mp) + N
    i.pax_headers = {'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 's', 'GNU.sparse.realsize': str(2 * N)}
    t.addfile(i, io.BytesIO(mp + b'x' * N))
# GNU sparse 0.1: the map in one PAX record
with tarfile.open(os.path.join(base, 'a-sparse-map01.tar'), 'w', format=tarfile.PAX_FORMAT) as t:
    n = 1_000_000
    i = tarfile.TarInfo('s01'); i.size = n
    i.pax_headers = {'GNU.sparse.size': str(2 * n), 'GNU.sparse.numblocks': str(n), 'GNU.sparse.map': ','.join('%d,1' % (2 * k) for k in range(n))}
    t.addfile(i, io.BytesIO(b'y' * n))
# broken compression and checksums
g = open(os.path.join(base, 'good.tar.gz'), 'rb').read()
open(os.path.join(base, 'a-gz-truncated.tar.gz'), 'wb').write(g[: len(g) // 2])
b = bytearray(g); mid = len(b) // 2
for k in range(mid, mid + 16): b[k] ^= 0x5a
open(os.path.join(base, 'a-gz-corrupt.tar.gz'), 'wb').write(bytes(b))
b = bytearray(g); b[-8] ^= 0xff  # the CRC32 of the gzip trailer
open(os.path.join(base, 'a-gz-badcrc.tar.gz'), 'wb').write(bytes(b))
t = bytearray(open(os.path.join(base, 'good.tar'), 'rb').read())
t[0] ^= 0x01  # first header's name, checksum left as it was
open(os.path.join(base, 'a-cksum-first.tar'), 'wb').write(bytes(t))
t = bytearray(open(os.path.join(base, 'good.tar'), 'rb').read())
# the second header: after the first entry (pax header + header of ./)
with tarfile.open(os.path.join(base, 'good.tar')) as tf:
    offs = [m.offset for m in tf.getmembers()]
t[offs[2] + 100] ^= 0x01  # a later header's mode field
open(os.path.join(base, 'a-cksum-later.tar'), 'wb').write(bytes(t))
