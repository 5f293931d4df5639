#!/usr/bin/env python3
"""avkey scan --db DIR TREE against clamscan -r -d DIR TREE (issue: the real binary, not the engine).

The signature directory and the tree are the differential 'combined' family (every plain scan
family's signatures and inputs together, gen.py), laid out in nested folders. Both tools run
with unpacking off (avkey --max-depth 0; clamscan --scan-archive=no and friends, as run_diff.py)
and with text normalisation ON (both defaults). Passes when the sets of detected files and the
(file, signature) pairs are identical.

    tree_diff.py --avkey PATH --work DIR
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402
import run_diff  # noqa: E402

FOUND_RE = re.compile(r"^(.*): (\S+) FOUND$")


def parse(out):
    pairs = set()
    for line in out.splitlines():
        m = FOUND_RE.match(line)
        if m:
            pairs.add((os.path.realpath(m.group(1)), m.group(2)))
    return pairs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avkey", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--clamscan", default=shutil.which("clamscan") or "clamscan")
    a = ap.parse_args()
    if not shutil.which(a.clamscan):
        print("tree_diff: clamscan not found: skipped")
        return 77
    fam = gen.build(["combined"], 1)["combined"]
    root = os.path.join(a.work, "tree")
    fam.write(root)
    fdir = os.path.join(root, "combined")
    # Spread the inputs over nested folders so the walk is exercised too.
    flat = os.path.join(fdir, "in")
    tree = os.path.join(fdir, "tree")
    os.makedirs(tree, exist_ok=True)
    for i, name in enumerate(sorted(os.listdir(flat))):
        d = os.path.join(tree, "d%d" % (i % 7), "e%d" % (i % 3))
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.join(flat, name), os.path.join(d, name))
    db = os.path.join(fdir, "db")
    opts = [o for o in run_diff.BASE_OPTS if not o.startswith("--normalize") and not o.startswith("--scan-html")]
    cl = subprocess.run([a.clamscan, "-r"] + opts + ["-d", db, tree], capture_output=True, text=True,
                        errors="surrogateescape")
    if cl.returncode not in (0, 1):
        print("clamscan failed (%d): %s" % (cl.returncode, cl.stderr[:500]))
        return 1
    av = subprocess.run([a.avkey, "scan", "--db", db, "--max-depth", "0", "--jobs", "2", tree],
                        capture_output=True, text=True, errors="surrogateescape")
    if av.returncode not in (0, 1):
        print("avkey failed (%d): %s" % (av.returncode, av.stderr[:500] + av.stdout[-500:]))
        return 1
    cp, ap_ = parse(cl.stdout), parse(av.stdout)
    cf, af = {f for f, _ in cp}, {f for f, _ in ap_}
    nfiles = sum(len(fs) for _, _, fs in os.walk(tree))
    print("tree: %d files, %d signature lines; clamscan %d files / %d pairs, avkey %d files / %d pairs"
          % (nfiles, sum(len(v) if not isinstance(v, (bytes, bytearray)) else 1 for v in fam.dbs.values()),
             len(cf), len(cp), len(af), len(ap_)))
    ok = True
    for label, diff in (("only clamscan", cp - ap_), ("only avkey", ap_ - cp)):
        if diff:
            ok = False
            print("%s (%d):" % (label, len(diff)))
            for f, s in sorted(diff)[:20]:
                print("  %s: %s" % (os.path.relpath(f, tree), s))
    print("agree" if ok else "DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
