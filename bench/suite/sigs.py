"""Generates the signature sets (fixed seed, so every run and every machine with the same /usr
gets the same sets).

  hash100k/bench.hdb   100,000 MD5:SIZE:NAME lines, sizes log-normal around 200 KB (malware-like),
                       plus the MD5 of each planted file
  body5k/bench.ndb     5,000 body signatures cut from real binaries, with 1-2 bytes altered so they
                       rarely match; ??, nibbles, (a|b), {n-m}, *; offsets * (70%), n, n,m,
                       EOF-n[,m]; targets 0 any (35%), 1 PE (40%), 6 ELF (25%): like ClamAV's own
                       databases, most signatures are for PE files; plus a few that match the
                       planted files
  logical/bench.ldb    3,000 logical signatures, 2-5 subsignatures joined by & and |, hex
                       fragments (60%) and strings with ::i (20%), ::w (12%) and ::wa (8%);
                       targets 0 (30%), 1 (50%), 6 (20%)
  mixed/               the three files above together
  yara/bench.yar       one YARA rule per body5k line, same bytes, same offsets and file types
                       (hex strings with ?? and [n-m] / [-] jumps; `at`/`in` offsets;
                       uint16/uint32 header checks for PE/ELF targets)

Every body pattern is kept as a token list and rendered twice (ClamAV and YARA), so the two sets
cannot drift apart.
"""
import hashlib
import math
import os
import random
import re

import corpus

N_HASH = 100_000
N_BODY = 5_000
N_LDB = 3_000
TDB = "Engine:51-255"


# Tokens: ("b", byte) static byte, ("any",) ??, ("hi", n) n? (high nibble fixed), ("lo", n) ?n,
# ("alt", [b...]) (aa|bb), ("jmp", lo, hi) {lo-hi}, ("star",) *
def clam_hex(tokens):
    out = []
    for t in tokens:
        k = t[0]
        if k == "b":
            out.append("%02x" % t[1])
        elif k == "any":
            out.append("??")
        elif k == "hi":
            out.append("%x?" % t[1])
        elif k == "lo":
            out.append("?%x" % t[1])
        elif k == "alt":
            out.append("(" + "|".join("%02x" % b for b in t[1]) + ")")
        elif k == "jmp":
            out.append("{%d}" % t[1] if t[1] == t[2] else "{%d-%d}" % (t[1], t[2]))
        elif k == "star":
            out.append("*")
    return "".join(out)


def yara_hex(tokens):
    out = []
    for t in tokens:
        k = t[0]
        if k == "b":
            out.append("%02X" % t[1])
        elif k == "any":
            out.append("??")
        elif k == "hi":
            out.append("%X?" % t[1])
        elif k == "lo":
            out.append("?%X" % t[1])
        elif k == "alt":
            out.append("( " + " | ".join("%02X" % b for b in t[1]) + " )")
        elif k == "jmp":
            out.append("[%d]" % t[1] if t[1] == t[2] else "[%d-%d]" % (t[1], t[2]))
        elif k == "star":
            out.append("[-]")
    return "{ " + " ".join(out) + " }"


def _good(frag):
    """Fragments like real signatures: varied bytes, no long runs, not mostly zeros."""
    if len(set(frag)) < max(6, len(frag) // 3):
        return False
    if frag.count(0) > len(frag) // 4:
        return False
    run = 1
    for a, b in zip(frag, frag[1:]):
        run = run + 1 if a == b else 1
        if run > 3:
            return False
    return True


class Pool:
    """Reads fragments from real files (the first binaries of the corpus selection order)."""

    def __init__(self, rng):
        self.rng = rng
        pool = corpus.fragment_pool()
        self.all = [(p, s) for p, s in pool if s >= 4096]
        self.elf = [(p, s) for p, s in self.all if corpus.is_elf(p)]

    def _read(self, path, off, n):
        with open(path, "rb") as f:
            f.seek(off)
            return f.read(n)

    def fragment(self, n, elf=False, region=None):
        """Returns (bytes, path, offset, size). region: None, "head" (first 4 KiB), "tail" (last 64 KiB)."""
        src = self.elf if elf and self.elf else self.all
        for _ in range(200):
            p, sz = self.rng.choice(src)
            if region == "head":
                lo, hi = 0, min(4096, sz) - n
            elif region == "tail":
                lo, hi = max(0, sz - 65536), sz - n
            else:
                lo, hi = 0, sz - n
            if hi <= lo:
                continue
            off = self.rng.randrange(lo, hi)
            frag = self._read(p, off, n)
            if len(frag) == n and _good(frag):
                return frag, p, off, sz
        raise RuntimeError("no usable fragment found")

    def string(self, lo=8, hi=24):
        """A printable ASCII string found in a real binary (what ::i / ::w signatures look for)."""
        for _ in range(400):
            p, sz = self.rng.choice(self.all)
            off = self.rng.randrange(0, max(1, sz - 65536))
            chunk = self._read(p, off, 65536)
            found = [m.group() for m in re.finditer(rb"[A-Za-z][ -~]{%d,%d}" % (lo - 1, hi - 1), chunk)
                     if len(set(m.group())) >= 5]
            if found:
                return self.rng.choice(found)
        raise RuntimeError("no usable string found")


def _alter(rng, tokens, count):
    """Alters `count` static bytes (not in the first/last 2) so the cut fragment no longer matches
    where it came from, like a signature for a variant that is not on this disk."""
    idx = [i for i, t in enumerate(tokens) if t[0] == "b" and 2 <= i < len(tokens) - 2]
    for i in rng.sample(idx, min(count, len(idx))):
        tokens[i] = ("b", tokens[i][1] ^ rng.randrange(1, 256))
    return tokens


def _shape(rng, frag, allow_star=True, extra=None):
    """Turns fragment bytes into a token list with the wildcards real signatures use. Every part
    between specials keeps >= 3 static bytes, and the pattern starts and ends with static bytes
    (ClamAV needs a 2-byte static subpattern per part; YARA rejects leading jumps)."""
    toks = [("b", b) for b in frag]
    r = rng.random()
    n = len(toks)

    def pos():
        return rng.randrange(4, n - 4)

    if r < 0.35:
        pass                                             # plain static
    elif r < 0.55:                                       # ?? (one or two)
        for i in rng.sample(range(4, n - 4, 4), min(2, len(range(4, n - 4, 4)))):
            toks[i] = ("any",)
    elif r < 0.62:                                       # nibble wildcard
        i = pos()
        b = toks[i][1]
        toks[i] = ("hi", b >> 4) if rng.random() < 0.5 else ("lo", b & 15)
    elif r < 0.69:                                       # alternative (orig|other)
        i = pos()
        b = toks[i][1]
        other = (b + rng.randrange(1, 256)) & 255
        toks[i] = ("alt", sorted([b, other]))
    elif r < 0.90 or not allow_star:                     # {n-m}: k bytes dropped, lo <= k <= hi
        i = pos()
        k = rng.randrange(0, 9)
        k = min(k, n - i - 4)
        lo = rng.randrange(0, k + 1)
        hi = max(1, k + rng.randrange(0, 9))   # {0} is rejected by YARA
        toks = toks[:i] + [("jmp", lo, hi)] + toks[i + k:]
    else:                                                # * joining a second, later fragment
        toks = toks + [("star",)] + [("b", b) for b in extra]
    return toks


def _eof(back):
    return "filesize - %d" % back if back >= 0 else "filesize + %d" % -back


def gen_hdb(rng, planted):
    lines = []
    for i in range(N_HASH):
        size = int(min(30_000_000, max(100, rng.lognormvariate(math.log(200_000), 1.6))))
        md5 = "%032x" % rng.getrandbits(128)
        fam = rng.choice(["Win.Trojan.Agent", "Win.Malware.Generic", "Unix.Trojan.Mirai",
                          "Doc.Dropper.Agent", "Win.Ransomware.Locky", "Andr.Spyware.Generic"])
        lines.append("%s:%d:Bench.Hash.%s-%d" % (md5, size, fam, 9000000 + i))
    for name in sorted(planted):
        data = planted[name]
        lines.append("%s:%d:Bench.Planted.Hash.%s" % (hashlib.md5(data).hexdigest(), len(data),
                                                       re.sub(r"[^A-Za-z0-9]", "_", name)))
    return lines


def gen_body(rng, pool, planted):
    """Returns a list of dicts: name, target, offset (ClamAV text), yara_cond, tokens."""
    sigs = []
    for i in range(N_BODY):
        tr = rng.random()
        target = 0 if tr < 0.35 else (1 if tr < 0.75 else 6)
        orr = rng.random()
        n = rng.randrange(16, 49)
        if orr < 0.70:
            frag, p, off, sz = pool.fragment(n, elf=(target == 6))
            extra = pool.fragment(rng.randrange(8, 17), elf=(target == 6))[0]
            toks = _shape(rng, frag, allow_star=True, extra=extra)
            offset, cond = "*", "$a"
        elif orr < 0.85:
            frag, p, off, sz = pool.fragment(n, elf=(target == 6), region="head")
            toks = _shape(rng, frag, allow_star=False)
            if rng.random() < 0.5:
                offset, cond = str(off), "$a at %d" % off
            else:
                shift = rng.randrange(1, 257)
                lo = max(0, off - shift // 2)
                offset, cond = "%d,%d" % (lo, shift), "$a in (%d..%d)" % (lo, lo + shift)
        else:
            frag, p, off, sz = pool.fragment(n, elf=(target == 6), region="tail")
            toks = _shape(rng, frag, allow_star=False)
            back = sz - off
            if rng.random() < 0.5:
                offset, cond = "EOF-%d" % back, "$a at filesize - %d" % back
            else:
                shift = rng.randrange(1, 257)
                b2 = back + shift // 2
                offset, cond = "EOF-%d,%d" % (b2, shift), "$a in (%s..%s)" % (_eof(b2), _eof(b2 - shift))
        toks = _alter(rng, toks, rng.choice([1, 1, 2]))
        sigs.append({"name": "Bench.Body.%s-%d" % (["Any", "PE", "ELF"][[0, 1, 6].index(target)], 7000000 + i),
                     "target": target, "offset": offset, "cond": cond, "tokens": toks})
    # Planted: these must match.
    e = planted["eicar.com"]
    t = [("b", b) for b in e[:36]]
    t[12] = ("any",)
    sigs.append({"name": "Bench.Planted.Body.Eicar", "target": 0, "offset": "0", "cond": "$a at 0", "tokens": t})
    c = planted["clam.exe"]
    t = [("b", b) for b in c[0x40:0x40 + 24]]
    t[9] = ("any",)
    t = t[:14] + [("jmp", 0, 3)] + t[14:]
    sigs.append({"name": "Bench.Planted.Body.ClamExe", "target": 1, "offset": "*", "cond": "$a", "tokens": t})
    m = corpus.MARKER
    t = [("b", b) for b in m[:30]] + [("hi", m[30] >> 4)] + [("b", b) for b in m[31:40]]
    sigs.append({"name": "Bench.Planted.Body.ElfMarker", "target": 6, "offset": "EOF-56,16",
                 "cond": "$a in (filesize - 56..filesize - 40)", "tokens": t})
    return sigs


def ndb_line(s):
    return "%s:%d:%s:%s" % (s["name"], s["target"], s["offset"], clam_hex(s["tokens"]))


def yara_rule(s):
    head = {0: "", 1: "uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and ",
            6: "uint32(0) == 0x464C457F and "}[s["target"]]
    name = s["name"].replace(".", "_").replace("-", "_")
    return "rule %s {\n  strings:\n    $a = %s\n  condition:\n    %s%s\n}\n" % (
        name, yara_hex(s["tokens"]), head, s["cond"])


def _expr(rng, idx):
    if len(idx) == 1:
        return str(idx[0])
    cut = rng.randrange(1, len(idx))
    op = "&" if rng.random() < 0.65 else "|"
    parts = []
    for side in (idx[:cut], idx[cut:]):
        e = _expr(rng, side)
        parts.append("(%s)" % e if len(side) > 1 else e)
    return op.join(parts)


def gen_ldb(rng, pool, planted):
    lines = []
    for i in range(N_LDB):
        tr = rng.random()
        target = 0 if tr < 0.3 else (1 if tr < 0.8 else 6)
        k = rng.randrange(2, 6)
        subs = []
        for _ in range(k):
            r = rng.random()
            if r < 0.6:
                frag = pool.fragment(rng.randrange(12, 33), elf=(target == 6))[0]
                toks = _alter(rng, _shape(rng, frag, allow_star=False), 1)
                subs.append(clam_hex(toks))
            else:
                s = bytearray(pool.string())
                j = rng.randrange(1, len(s) - 1)
                s[j] = (s[j] + rng.randrange(1, 26) - 32) % 95 + 32   # altered, still printable
                if r < 0.8:
                    s = bytes(c ^ 0x20 if chr(c).isalpha() and rng.random() < 0.5 else c for c in s)
                    subs.append(bytes(s).hex() + "::i")
                elif r < 0.92:
                    subs.append(bytes(s).hex() + "::w")
                else:
                    subs.append(bytes(s).hex() + "::wa")
        order = list(range(k))
        lines.append("Bench.Logical.%s-%d;%s,Target:%d;%s;%s" % (
            ["Any", "PE", "ELF"][[0, 1, 6].index(target)], 8000000 + i, TDB, target,
            _expr(rng, order), ";".join(subs)))
    # Planted: these must match.
    lines.append("Bench.Planted.Logical.Eicar;%s,Target:0;0&1;%s;%s::i" % (
        TDB, b"EICAR-STANDARD".hex(), b"antivirus-test".hex()))
    lines.append("Bench.Planted.Logical.Wide;%s,Target:0;0|1;%s::w;%s" % (
        TDB, corpus.WIDE_TEXT[:23].encode().hex(), "a1b2c3d4e5f60718293a4b5c"))
    c = planted["clam.exe"]
    lines.append("Bench.Planted.Logical.ClamExe;%s,Target:1;(0&1)|2;%s;%s;%s" % (
        TDB, c[0xC0:0xCC].hex(), b"CLAMessageBox".hex() + "::i", "0123456789abcdeffedcba98"))
    return lines


def generate(out_dir, seed, planted, log=print):
    """Writes the sets under out_dir; returns {set: path} and per-set digests."""
    rng = random.Random(seed)
    pool = Pool(random.Random(seed + 1))
    hdb = gen_hdb(rng, planted)
    body = gen_body(random.Random(seed + 2), pool, planted)
    ldb = gen_ldb(random.Random(seed + 3), pool, planted)
    files = {
        "hash100k/bench.hdb": "\n".join(hdb) + "\n",
        "body5k/bench.ndb": "\n".join(ndb_line(s) for s in body) + "\n",
        "logical/bench.ldb": "\n".join(ldb) + "\n",
        "yara/bench.yar": "\n".join(yara_rule(s) for s in body),
    }
    files["mixed/bench.hdb"] = files["hash100k/bench.hdb"]
    files["mixed/bench.ndb"] = files["body5k/bench.ndb"]
    files["mixed/bench.ldb"] = files["logical/bench.ldb"]
    digests = {}
    for rel, text in files.items():
        p = os.path.join(out_dir, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        data = text.encode()
        if not (os.path.exists(p) and open(p, "rb").read() == data):
            with open(p, "wb") as f:
                f.write(data)
        digests[rel] = hashlib.sha256(data).hexdigest()
    sets = {s: os.path.join(out_dir, s) for s in ("hash100k", "body5k", "logical", "mixed")}
    sets["yara"] = os.path.join(out_dir, "yara", "bench.yar")
    counts = {"hash100k": len(hdb), "body5k": len(body), "logical": len(ldb),
              "mixed": len(hdb) + len(body) + len(ldb), "yara": len(body)}
    hash_sizes = set(int(l.split(":")[1]) for l in hdb)
    log("signatures: %d hashes, %d body, %d logical, %d YARA rules (seed %d)" % (
        len(hdb), len(body), len(ldb), len(body), seed))
    return sets, counts, digests, hash_sizes
