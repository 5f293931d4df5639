"""Builds the benchmark corpus: real files from /usr, planted detections, a few archives.

The selection is deterministic for a given /usr: candidates are ordered by SHA-256 of their path
(a fixed shuffle that does not depend on directory order or mtimes) and taken until the byte budget
is reached, so the --quick corpus is a prefix of the full one and two machines with the same
packages build the same corpus. The corpus identity (a digest of every relative path and size, and
of the planted files) is written to the results, so numbers are only compared on equal corpora.

Layout under <work>/corpus-<MiB>M/:
  bin/...      copies of files under /usr/{bin,sbin,libexec,lib} (ELF programs, shared and static
               libraries, Python, Perl, data files: what a real disk holds), 85% of the budget
  doc/...      copies of /usr/share/doc (mostly changelog.gz: gzip streams both tools unpack), 10%
  archives/    usr-slice.tar.gz and usr-slice.zip of further /usr files, 5%
  planted/     the files that must be detected (below)
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import zipfile

GENERATOR_VERSION = 3
MAX_FILE = 64 << 20       # below both tools' 100M --max-filesize, so no file is "too large"
MIN_FILE = 1
BIN_ROOTS = ["/usr/bin", "/usr/sbin", "/usr/libexec", "/usr/lib"]
BIN_EXCLUDE = ["/usr/lib/debug/"]
DOC_ROOT = "/usr/share/doc"
CLAM_EXE = "/usr/share/clamav-testfiles/clam.exe"
FIXED_MTIME = 1700000000  # archive members get this mtime, so archives are byte-identical each run

# EICAR is assembled at run time from pieces so this file is not itself a detection.
_EICAR_PARTS = ["X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR-STANDARD-", "ANTIVIRUS-TEST-", "FILE!$H+H*"]
WIDE_TEXT = "avkey bench wide marker: a benign UTF-16 test string"
MARKER = b"AVKEY-BENCH-ELF-MARKER:" + bytes(range(0xA0, 0xB9))  # 48 bytes appended to a real ELF


def eicar_bytes():
    return "".join(_EICAR_PARTS).encode("ascii")


def _order_key(path):
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).digest()


def _walk_regular(root, exclude=()):
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        if any((dirpath + "/").startswith(e) for e in exclude):
            dirnames[:] = []
            continue
        for name in filenames:
            p = os.path.join(dirpath, name)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or not (MIN_FILE <= st.st_size <= MAX_FILE):
                continue
            if not os.access(p, os.R_OK):
                continue
            out.append((p, st.st_size))
    out.sort(key=lambda t: _order_key(t[0]))
    return out


_CANDIDATES = None


def candidates():
    """(binaries, docs): lists of (path, size) in the fixed selection order (walked once)."""
    global _CANDIDATES
    if _CANDIDATES is not None:
        return _CANDIDATES
    bins = []
    for r in BIN_ROOTS:
        bins.extend(_walk_regular(r, BIN_EXCLUDE))
    bins.sort(key=lambda t: _order_key(t[0]))
    docs = _walk_regular(DOC_ROOT)
    _CANDIDATES = (bins, docs)
    return _CANDIDATES


def _take(cands, budget, start=0):
    """Takes files from cands[start:] until budget bytes; returns (taken, next_index)."""
    taken, total, i = [], 0, start
    while i < len(cands) and total < budget:
        p, sz = cands[i]
        i += 1
        if total + sz > budget * 1.02 and total > 0:
            continue  # skip a file that would overshoot; a smaller one may still fit
        taken.append((p, sz))
        total += sz
    return taken, i


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def planted_files(bins):
    """name -> bytes of the planted files (deterministic)."""
    with open(CLAM_EXE, "rb") as f:
        clam = f.read()
    # A small real ELF with a marker appended: body signatures find it at EOF-48.
    host = None
    for p, sz in bins:
        if p.startswith("/usr/bin/") and 20_000 <= sz <= 200_000 and is_elf(p):
            host = p
            break
    with open(host, "rb") as f:
        elf = f.read() + MARKER
    wide = b"\xff\xfe" + (WIDE_TEXT + "\n").encode("utf-16-le")
    return {
        "clam.exe": clam,
        "eicar.com": eicar_bytes(),
        "elf-with-marker": elf,
        "notes-utf16.txt": wide,
    }, host


def _tar_gz(path, members):
    """members: list of (arcname, bytes). Deterministic: fixed mtime, uid, order, gzip header."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = FIXED_MTIME
            ti.mode = 0o644
            ti.uname = ti.gname = "root"
            tf.addfile(ti, io.BytesIO(data))
    with open(path, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=6) as gz:
            gz.write(raw.getvalue())


def _zip(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=(2023, 11, 14, 22, 13, 20))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zf.writestr(zi, data)


def _read(p):
    with open(p, "rb") as f:
        return f.read()


def plan(budget_bytes):
    bins, docs = candidates()
    bin_sel, nxt = _take(bins, int(budget_bytes * 0.85))
    doc_sel, _ = _take(docs, int(budget_bytes * 0.10))
    tar_sel, nxt = _take(bins, int(budget_bytes * 0.03), nxt)
    zip_sel, nxt = _take(bins, int(budget_bytes * 0.02), nxt)
    planted, host = planted_files(bins)
    spec = {
        "generator_version": GENERATOR_VERSION,
        "budget_bytes": budget_bytes,
        "bin": bin_sel, "doc": doc_sel, "tar": tar_sel, "zip": zip_sel,
        "planted": {k: hashlib.sha256(v).hexdigest() for k, v in planted.items()},
        "elf_host": host,
    }
    ident = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    return spec, ident, planted, bins


def _rel(p):
    return p.lstrip("/").replace("usr/share/doc/", "", 1) if p.startswith(DOC_ROOT) else p.lstrip("/")


def build(work, budget_mib, log=print):
    """Builds (or reuses) the corpus; returns a dict describing it."""
    budget = budget_mib << 20
    spec, ident, planted, all_bins = plan(budget)
    root = os.path.join(work, "corpus-%dM" % budget_mib)
    stamp = os.path.join(work, "corpus-%dM.json" % budget_mib)
    if os.path.isdir(root) and os.path.exists(stamp):
        try:
            old = json.load(open(stamp))
            if old.get("identity") == ident:
                log("corpus: reusing %s (identity %s)" % (root, ident[:12]))
                return old
        except (OSError, ValueError):
            pass
    if os.path.isdir(root):
        shutil.rmtree(root)  # our own directory under the work dir (checked by the caller)
    tmp = root + ".tmp"
    if os.path.isdir(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    log("corpus: building %s (%d MiB budget)" % (root, budget_mib))
    for p, _ in spec["bin"]:
        dst = os.path.join(tmp, "bin", _rel(p))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(p, dst)
    for p, _ in spec["doc"]:
        dst = os.path.join(tmp, "doc", _rel(p))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(p, dst)
    arch = os.path.join(tmp, "archives")
    os.makedirs(arch)
    _tar_gz(os.path.join(arch, "usr-slice.tar.gz"), [(_rel(p), _read(p)) for p, _ in spec["tar"]])
    _zip(os.path.join(arch, "usr-slice.zip"), [(_rel(p), _read(p)) for p, _ in spec["zip"]])
    pl = os.path.join(tmp, "planted")
    os.makedirs(os.path.join(pl, "deep", "a", "b"))
    for name, data in planted.items():
        with open(os.path.join(pl, name), "wb") as f:
            f.write(data)
    with open(os.path.join(pl, "deep", "a", "b", "setup.exe"), "wb") as f:
        f.write(planted["clam.exe"])
    # Detections only inside containers: one level (zip), two levels (tar.gz > zip).
    _zip(os.path.join(pl, "bundle.zip"), [("tools/clam.exe", planted["clam.exe"]), ("readme/eicar.com", planted["eicar.com"])])
    _zip(os.path.join(pl, "inner.zip.tmp"), [("payload/setup.exe", planted["clam.exe"])])
    inner = _read(os.path.join(pl, "inner.zip.tmp"))
    os.unlink(os.path.join(pl, "inner.zip.tmp"))
    _tar_gz(os.path.join(pl, "nested.tar.gz"), [("dist/inner.zip", inner),
                                                 ("dist/notes-utf16.txt", planted["notes-utf16.txt"]),
                                                 ("dist/tool", planted["elf-with-marker"])])
    os.rename(tmp, root)
    files, total = [], 0
    for dp, dn, fn in os.walk(root):
        dn.sort()
        for n in sorted(fn):
            p = os.path.join(dp, n)
            sz = os.path.getsize(p)
            files.append((os.path.relpath(p, root), sz))
            total += sz
    files.sort()
    info = {
        "identity": ident,
        "root": root,
        "budget_mib": budget_mib,
        "files": len(files),
        "bytes": total,
        "bin_files": len(spec["bin"]),
        "doc_files": len(spec["doc"]),
        "tar_members": len(spec["tar"]),
        "zip_members": len(spec["zip"]),
        "elf_host": spec["elf_host"],
        "planted": sorted(p for p, _ in files if p.startswith("planted/")),
        "sizes": [sz for _, sz in files],
    }
    with open(stamp, "w") as f:
        json.dump(info, f)
    log("corpus: %d files, %.1f MB" % (len(files), total / 1e6))
    return info


def fragment_pool(n=2000):
    """The first n binaries of the selection order (the same for every budget): source of the
    byte fragments the body and logical signatures are cut from."""
    bins, _ = candidates()
    return bins[:n]
