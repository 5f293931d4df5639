#!/usr/bin/env python3
"""Random Script Encoder pages and files: clamscan 1.4.6's buffers against avkey's.

    check_screnc_random.py ENGINE_SCAN SEED COUNT

Generates COUNT inputs (pages with JScript/VBScript.Encode scripts and ASP blocks, blocks
spoilt at random: escapes, 8-bit bytes, LF/CR, wrong lengths, checksums and terminators,
truncation, padding across chunks; and files starting with "#@~^"), records the nocomment,
notags and javascript buffers clamscan writes for each (--leave-temps), makes an .hdb of
their MD5s and checks that engine_scan (tests/differential) matches exactly those of each
input. Prints one DIFF line per input that differs and a summary.
"""
import glob, hashlib, importlib.util, os, random, subprocess, sys, tempfile, shutil
spec = importlib.util.spec_from_file_location('m', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'make_screnc_cases.py'))
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
ENGINE_SCAN = sys.argv[1]
rng = random.Random(int(sys.argv[2]))
N = int(sys.argv[3])
work = tempfile.mkdtemp(prefix='screnc-random-')
os.makedirs(work + '/in'); os.makedirs(work + '/db')
with open(work + '/none.ndb', 'w') as f:
    f.write('Avkey.Se.Nothing:0:*:00112233445566778899aabbccddeeff\n')
def rplain(n):
    alpha = b'abcXYZ 019"\'<>@\r\n\t;=(){}./-&#~^'
    return bytes(rng.choice(alpha) for _ in range(n))
def block():
    p = rplain(rng.choice([0, 5, 30, 200, 3000, 9000]))
    body, tot = m.encode_body(p)
    body = bytearray(body)
    for _ in range(rng.choice([0, 0, 1, 3])):
        k = rng.randrange(len(body) + 1)
        body[k:k] = rng.choice([b'\n', b'\r', b'@', b'@x', b'\xe9', b'\xe9\xe8', b' ', b'\r\n', b'\x7f'])
    length = len(body) + rng.choice([0, 0, 0, -1, 1, 5, -3, 100000])
    lf = m.b64len(max(length, 0))
    if rng.random() < 0.1:
        lf = bytes(rng.choice(b'A/+~=\n ') for _ in range(8))
    chk = m.b64len(tot) if rng.random() < 0.8 else b'ZZZZZZ=='
    term = b'^#~@' if rng.random() < 0.8 else b'XXXX'
    out = b'#@~^' + lf + bytes(body) + chk + term
    if rng.random() < 0.15:
        out = out[:rng.randrange(len(out) + 1)]
    return out
def page():
    parts = []
    if rng.random() < 0.3:
        parts.append(b'<%@ LANGUAGE = "' + rng.choice([b'JScript.Encode', b'VBScript.Encode']) + b'" %>\n')
    parts.append(b'<html><body>\n')
    for _ in range(rng.choice([1, 1, 2, 3])):
        r = rng.random()
        if r < 0.1:
            parts.append(b' ' * rng.randrange(8300))
        if rng.random() < 0.6:
            parts.append(rng.choice([b'<script language="JScript.Encode">', b"<SCRIPT LANGUAGE='VBScript.Encode'>", b'<script>']))
            if rng.random() < 0.3: parts.append(rplain(rng.randrange(20)))
            parts.append(block())
            if rng.random() < 0.8: parts.append(b'</script>')
        else:
            parts.append(b'<%' + block() + b'%>')
        parts.append(rplain(rng.randrange(40)))
    return b''.join(parts)
hdb = []
expect = {}
for i in range(N):
    data = page() if rng.random() < 0.85 else block() + rplain(rng.randrange(50))
    fn = work + '/in/r%04d.html' % i
    open(fn, 'wb').write(data)
    tmp = tempfile.mkdtemp(dir=work)
    subprocess.run(['clamscan', '--leave-temps', '--tempdir', tmp, '--normalize=yes', '-d', work + '/none.ndb', fn],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    names = set()
    for b in ('nocomment.html', 'notags.html', 'javascript'):
        for f in glob.glob(os.path.join(tmp, '**', 'html-tmp*', b), recursive=True):
            d = open(f, 'rb').read()
            if len(d) == 0: continue
            name = 'R%04d_%s_%s' % (i, b.split('.')[0], hashlib.md5(d).hexdigest()[:6])
            hdb.append('%s:%d:%s' % (hashlib.md5(d).hexdigest(), len(d), name))
            names.add(name)
    expect['r%04d.html' % i] = names
    shutil.rmtree(tmp)
open(work + '/db/r.hdb', 'w').write('\n'.join(hdb) + '\n')
res = subprocess.run([ENGINE_SCAN, '-d', work + '/db'] + sorted(glob.glob(work + '/in/*')),
                     capture_output=True, text=True)
got = {}
for line in res.stdout.splitlines():
    if line.endswith(' FOUND'):
        f, _, n = line[:-6].partition(': ')
        got.setdefault(os.path.basename(f), set()).add(n.replace('.UNOFFICIAL', ''))
bad = 0
for f, names in sorted(expect.items()):
    g = {n for n in got.get(f, set()) if n.startswith('R' + f[1:5])}
    if g != names:
        bad += 1
        print('DIFF', f, 'missing', sorted(names - g), 'extra', sorted(g - names))
print('inputs', N, 'buffers', len(hdb), 'differ', bad)
shutil.rmtree(work)
sys.exit(1 if bad else 0)
