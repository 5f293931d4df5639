#!/usr/bin/env python3
"""Differential test: avkey's engine (engine_scan) against clamscan 1.4.6.

    run_diff.py --engine-scan PATH --work DIR [--family NAME]... [--seed N]
    run_diff.py --clamscan-only --work DIR      # check the generator against clamscan only

For every family (gen.py) this generates DIR/<family>/{db,in}, runs

    clamscan  --allmatch --infected --no-summary BASE_OPTS <family opts> -d DIR/<family>/db DIR/<family>/in
    engine_scan -d DIR/<family>/db DIR/<family>/in/*

parses both into sets of (file, signature) and compares them, together with which
signature files each tool refuses to load. Families in "single" mode load each db file on
its own (clamscan stops at the first bad line of a database, so that is how to learn which
line it refuses). Prints a table per family, the disagreements with a minimal reproducer
(signature line, input hex, both outputs) and writes DIR/report.json.

Exit status: 0 all agree (or only families marked expect_differ disagree), 1 a
disagreement, 2 usage/tool failure, 77 clamscan missing (ctest SKIP_RETURN_CODE).
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402

# clamscan options common to all families. The engine sees one layer of raw bytes, so
# everything that makes clamscan open other layers is turned off; everything that only
# types/parses the file for the matcher stays on.
#   --scan-archive/mail/ole2/pdf/swf/html/xmldocs/hwp3/onenote/image=no
#       no container extraction or embedded-file scanning (e.g. a "PK\3\4" inside an input
#       would otherwise be scanned as a zip layer and hashed/matched again).
#   --scan-image-fuzzy-hash=no   no image hashing layer.
#   --scan-pe=no     no PE unpackers, overlays, resources, embedded PEs or section hashes.
#       PE header parsing for target type 1 and EP/Sx/SEx/SL offsets is NOT affected:
#       probed on clam.exe, EP+0/SE0/target-1 sigs fire with --scan-pe=no exactly as with
#       the default (libclamav computes target info in the matcher, cli_targetinfo).
#       A future .mdb family (section hashes) must re-enable --scan-pe.
#   --scan-elf stays ON, on purpose: when EVERY parser is off (and heuristic alerts too)
#       libclamav 1.4.6 scans in "raw mode" without file typing at all, so target-type
#       filters never pass and EP/S offsets never resolve [probed: with all --scan-*=no
#       not even clam.exe's EP+0 sig fires; re-enabling any one parser restores it].
#       The ELF parser is the one with the least side effects (it only reads headers; no
#       extraction), so it is the one kept.
#   --normalize=no   no text/HTML/script normalisation (clamscan would also match target-0
#       patterns against a lower-cased copy of text files). The "text" family turns it
#       back on to probe exactly that.
#   --heuristic-alerts=no, --phishing-sigs=no, --phishing-scan-urls=no: only our
#       signatures can fire (no Heuristics.* names the engine does not produce).
#   --bytecode=no    no bytecode signatures (none are loaded anyway; skips the JIT init).
#   --disable-cache  no clean-file cache across inputs with identical bytes.
#   --allmatch --infected --no-summary: every signature per file, one line each.
# Limits stay at their defaults: inputs are < 1 MiB.
BASE_OPTS = [
    "--allmatch", "--infected", "--no-summary",
    "--scan-archive=no", "--scan-mail=no", "--scan-ole2=no", "--scan-pdf=no", "--scan-swf=no",
    "--scan-html=no", "--scan-xmldocs=no", "--scan-hwp3=no", "--scan-onenote=no",
    "--scan-image=no", "--scan-image-fuzzy-hash=no",
    "--scan-pe=no", "--scan-elf=yes",
    "--normalize=no",
    "--heuristic-alerts=no", "--phishing-sigs=no", "--phishing-scan-urls=no",
    "--bytecode=no", "--disable-cache",
]

FOUND_RE = re.compile(r"^(.*): (\S+) FOUND$")
PROBLEM_RE = re.compile(r"^engine_scan: load problem: (.*):(\d+): (.*)$")
TIMEOUT = 100  # seconds per tool run


def run(cmd):
    t = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
        out, err, rc = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"), p.returncode
    except subprocess.TimeoutExpired:
        out, err, rc = "", "timeout after %d s" % TIMEOUT, -1
    return out, err, rc, time.monotonic() - t


def parse_found(out):
    pairs = set()
    for line in out.splitlines():
        m = FOUND_RE.match(line)
        if m:
            pairs.add((os.path.basename(m.group(1)), m.group(2)))
    return pairs


class ToolResult:
    """One tool run: detections, whether the db loaded, and why not."""

    def __init__(self, out, err, rc, secs):
        self.pairs = parse_found(out)
        self.out, self.err, self.rc, self.secs = out, err, rc, secs
        self.problems = []  # (source, line, reason)

    @property
    def loaded(self):
        return self.rc in (0, 1)


def clamscan(args, opts, dbs, inputs):
    # A family option replaces the base option of the same name (clamscan does not let a
    # later duplicate win).
    keys = {o.split("=")[0] for o in opts}
    cmd = [args.clamscan] + [o for o in BASE_OPTS if o.split("=")[0] not in keys] + opts
    for d in dbs:
        cmd += ["-d", d]
    r = ToolResult(*run(cmd + inputs))
    if r.rc not in (0, 1):
        errs = [l for l in r.err.splitlines() if "Error" in l or "ERROR" in l]
        r.problems = [("", 0, errs[0] if errs else r.err.strip()[:200])]
    return r


def engine(args, dbs, inputs, opts=()):
    if args.clamscan_only:
        r = ToolResult("", "", 0, 0.0)
        return r
    cmd = [args.engine_scan]
    # clamscan runs with --normalize=no unless the family asks for it: tell avkey the same.
    if "--normalize=yes" not in opts:
        cmd.append("--no-normalize")
    for d in dbs:
        cmd += ["-d", d]
    r = ToolResult(*run(cmd + ["--"] + inputs))
    for line in r.err.splitlines():
        m = PROBLEM_RE.match(line)
        if m:
            r.problems.append((m.group(1), int(m.group(2)), m.group(3)))
    if r.rc in (0, 1) and r.problems:
        r.rc = 3  # loaded, but refused some lines: not "loaded" in clamscan's sense
    return r


def sig_lines(dbdir):
    """signature name -> (db file, line text); also the number of lines."""
    names, count = {}, 0
    for path in sorted(glob.glob(os.path.join(dbdir, "*"))):
        with open(path, "rb") as f:
            for raw in f.read().decode("latin-1").splitlines():
                if not raw.strip():
                    continue
                count += 1
                name = re.split(r"[:;]", raw)[0]
                if os.path.splitext(path)[1] in (".hdb", ".hsb", ".fp", ".sfp", ".mdb", ".msb"):
                    parts = raw.split(":")
                    name = parts[2] if len(parts) > 2 else raw
                names.setdefault(name, (os.path.basename(path), raw))
    return names, count


def reproducer(fam_dir, names, fil, sig, cl_pairs, av_pairs):
    base = sig[:-len(".UNOFFICIAL")] if sig.endswith(".UNOFFICIAL") else sig
    db, line = names.get(base, ("?", "?"))
    with open(os.path.join(fam_dir, "in", fil), "rb") as f:
        data = f.read()
    shown = data.hex() if len(data) <= 512 else data[:512].hex() + "...(%d bytes)" % len(data)
    return {
        "file": fil, "signature": sig, "db": db, "line": line, "size": len(data), "hex": shown,
        "clamscan": sorted(s for (f2, s) in cl_pairs if f2 == fil),
        "avkey": sorted(s for (f2, s) in av_pairs if f2 == fil),
    }


def run_scan_family(args, fam_dir, man):
    dbdir, indir = os.path.join(fam_dir, "db"), os.path.join(fam_dir, "in")
    inputs = sorted(glob.glob(os.path.join(indir, "*")))
    names, nsigs = sig_lines(dbdir)
    cl = clamscan(args, man["clamscan_opts"], [dbdir], [indir])
    av = engine(args, [dbdir], inputs, man["clamscan_opts"])
    res = {"sigs": nsigs, "files": len(inputs), "secs": [cl.secs, av.secs]}
    res["clamscan_pairs"] = len(cl.pairs)
    res["avkey_pairs"] = len(av.pairs)
    only_cl, only_av = sorted(cl.pairs - av.pairs), sorted(av.pairs - cl.pairs)
    res["only_clamscan"] = [reproducer(fam_dir, names, f, s, cl.pairs, av.pairs) for f, s in only_cl]
    res["only_avkey"] = [reproducer(fam_dir, names, f, s, cl.pairs, av.pairs) for f, s in only_av]
    # When engine_scan could not build the database at all every detection is missing:
    # that is one load problem, not hundreds of matching bugs, so nothing is isolated.
    if not args.clamscan_only and av.rc in (0, 1, 3):
        isolate(args, fam_dir, man, res["only_clamscan"] + res["only_avkey"], args.isolate)
    res["load"] = []
    if not cl.loaded:
        res["load"].append({"db": "db/", "clamscan": "refused: %s" % cl.problems[0][2], "avkey": "-"})
    for (src, line, reason) in av.problems:
        res["load"].append({"db": "%s:%d" % (os.path.basename(src), line),
                            "clamscan": "loaded" if cl.loaded else "?", "avkey": "refused: " + reason})
    if not args.clamscan_only and av.rc not in (0, 1, 3):
        res["load"].append({"db": "db/", "clamscan": "-", "avkey": "exit %d: %s" % (av.rc, (av.err.strip().splitlines() or [""])[-1])})
    # The generator's intent, checked against clamscan (a test of gen.py, not of avkey).
    res["intent_miss"] = []
    for (fil, sig, want) in man["intent"]:
        got = (fil, sig + ".UNOFFICIAL") in cl.pairs
        if got != want:
            res["intent_miss"].append("%s: %s expected %s" % (fil, sig, "hit" if want else "miss"))
    return res


def isolate(args, fam_dir, man, items, limit):
    """Re-runs each disagreement with only its signature line and only its input, so the
    report carries a minimal reproducer and says whether it still disagrees alone."""
    out_root = os.path.join(args.work, "repro", os.path.basename(fam_dir))
    done = 0
    for r in items:
        ext = os.path.splitext(r["db"])[1]
        if done >= limit or ext not in (".ndb", ".ldb", ".hdb", ".hsb") or r["line"] == "?":
            continue
        d = os.path.join(out_root, "%03d" % done)
        done += 1
        os.makedirs(d, exist_ok=True)
        db = os.path.join(d, "sig" + ext)
        with open(db, "w", encoding="latin-1") as f:
            f.write(r["line"] + "\n")
        src = os.path.join(fam_dir, "in", r["file"])
        inp = os.path.join(d, r["file"])
        shutil.copyfile(src, inp)
        cl = clamscan(args, man["clamscan_opts"], [db], [inp])
        av = engine(args, [db], [inp], man["clamscan_opts"])
        r["isolated"] = {
            "dir": d,
            "clamscan": sorted(s for (_, s) in cl.pairs) if cl.loaded else ["(refused: %s)" % cl.problems[0][2]],
            "avkey": sorted(s for (_, s) in av.pairs) if av.rc in (0, 1) else
            ["(exit %d: %s)" % (av.rc, av.err.strip().splitlines()[-1] if av.err.strip() else "")],
        }
        r["isolated"]["still_differs"] = r["isolated"]["clamscan"] != r["isolated"]["avkey"]


def run_single_family(args, fam_dir, man):
    dbdir, indir = os.path.join(fam_dir, "db"), os.path.join(fam_dir, "in")
    inputs = sorted(glob.glob(os.path.join(indir, "*")))
    dbs = sorted(glob.glob(os.path.join(dbdir, "*")))
    res = {"sigs": 0, "files": len(inputs), "clamscan_pairs": 0, "avkey_pairs": 0,
           "only_clamscan": [], "only_avkey": [], "load": [], "intent_miss": [], "secs": [0.0, 0.0]}
    for db in dbs:
        fn = os.path.basename(db)
        names, n = sig_lines_file(db)
        res["sigs"] += n
        # Some families (ignore/allow lists) need a signature beside the file under test.
        dbset = [db] + ([os.path.join(fam_dir, "extra", "sigs.ndb")] if man.get("extra_db") else [])
        cl = clamscan(args, man["clamscan_opts"], dbset, [indir])
        av = engine(args, dbset, inputs, man["clamscan_opts"])
        res["secs"][0] += cl.secs
        res["secs"][1] += av.secs
        with open(db, "rb") as f:
            text = f.read().decode("latin-1")
        if not args.clamscan_only and cl.loaded != (av.rc in (0, 1)):
            res["load"].append({
                "db": fn, "line": text.rstrip("\n"),
                "clamscan": "loaded" if cl.loaded else "refused: " + cl.problems[0][2],
                "avkey": "loaded" if av.rc in (0, 1) else
                ("refused: " + "; ".join("%d: %s" % (l, r) for (_, l, r) in av.problems)
                 if av.problems else "exit %d: %s" % (av.rc, av.err.strip()[-300:]))})
        want = man["accept"].get(fn)
        if want is not None and want != cl.loaded:
            res["intent_miss"].append("%s: expected clamscan to %s it (%s)" % (
                fn, "load" if want else "refuse", cl.problems[0][2] if cl.problems else "loaded"))
        if cl.loaded:
            res["clamscan_pairs"] += len(cl.pairs)
            res["avkey_pairs"] += len(av.pairs)
            fake = dict(names)
            for f2, s in sorted(cl.pairs - av.pairs):
                res["only_clamscan"].append(dict(reproducer(fam_dir, fake, f2, s, cl.pairs, av.pairs), db=fn))
            for f2, s in sorted(av.pairs - cl.pairs):
                res["only_avkey"].append(dict(reproducer(fam_dir, fake, f2, s, cl.pairs, av.pairs), db=fn))
    return res


def sig_lines_file(path):
    tmp = {}
    n = 0
    with open(path, "rb") as f:
        for raw in f.read().decode("latin-1").splitlines():
            if raw.strip():
                n += 1
                tmp.setdefault(re.split(r"[:;]", raw)[0], (os.path.basename(path), raw))
                parts = raw.split(":")
                if len(parts) > 2:
                    tmp.setdefault(parts[2], (os.path.basename(path), raw))
    return tmp, n


def print_details(name, res, limit):
    def show(title, items):
        if not items:
            return
        print("  %s (%d):" % (title, len(items)))
        for r in items[:limit]:
            print("    %s  %s" % (r["file"], r["signature"]))
            print("      sig   %s: %s" % (r["db"], r["line"]))
            print("      input %d bytes: %s" % (r["size"], r["hex"] if len(r["hex"]) <= 160 else r["hex"][:160] + "..."))
            print("      clamscan: %s" % (", ".join(r["clamscan"]) or "(nothing)"))
            print("      avkey:    %s" % (", ".join(r["avkey"]) or "(nothing)"))
            if "isolated" in r:
                iso = r["isolated"]
                print("      alone (%s): clamscan %s / avkey %s -> %s" % (
                    iso["dir"], ", ".join(iso["clamscan"]) or "(nothing)", ", ".join(iso["avkey"]) or "(nothing)",
                    "still differs" if iso["still_differs"] else "agrees alone"))
        if len(items) > limit:
            print("    ... %d more in report.json" % (len(items) - limit))

    show("only clamscan", res["only_clamscan"])
    show("only avkey", res["only_avkey"])
    if res["load"]:
        print("  load disagreements (%d):" % len(res["load"]))
        for l in res["load"][:limit]:
            print("    %s%s\n      clamscan: %s\n      avkey:    %s" % (
                l["db"], ("  [" + l["line"] + "]") if l.get("line") else "", l["clamscan"], l["avkey"]))
        if len(res["load"]) > limit:
            print("    ... %d more in report.json" % (len(res["load"]) - limit))
    if res["intent_miss"]:
        print("  generator intent not met by clamscan (%d):" % len(res["intent_miss"]))
        for m in res["intent_miss"][:limit]:
            print("    " + m)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine-scan", help="path of the engine_scan binary")
    ap.add_argument("--clamscan-only", action="store_true",
                    help="only run clamscan (checks the generator's intent)")
    ap.add_argument("--clamscan", default="clamscan")
    ap.add_argument("--work", required=True, help="directory for generated files and report.json")
    ap.add_argument("--family", action="append", choices=gen.ALL, help="default: all")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-gen", action="store_true", help="reuse the files already in --work")
    ap.add_argument("--strict-intent", action="store_true",
                    help="also fail when clamscan does not do what gen.py intended")
    ap.add_argument("--show", type=int, default=10, help="disagreements printed per family")
    ap.add_argument("--isolate", type=int, default=10,
                    help="disagreements per family re-run alone as minimal reproducers")
    a = ap.parse_args(argv)
    if not a.clamscan_only and not a.engine_scan:
        ap.error("--engine-scan is required (or --clamscan-only)")
    if shutil.which(a.clamscan) is None:
        print("run_diff: %s not found; skipping" % a.clamscan)
        return 77
    families = a.family or gen.ALL
    os.makedirs(a.work, exist_ok=True)
    if not a.no_gen:
        for fam in gen.build(families, a.seed).values():
            fam.write(a.work)

    results, failed = {}, []
    for name in families:
        fam_dir = os.path.join(a.work, name)
        with open(os.path.join(fam_dir, "manifest.json")) as f:
            man = json.load(f)
        res = (run_single_family if man["mode"] == "single" else run_scan_family)(a, fam_dir, man)
        res["expect_differ"] = man["expect_differ"]
        res["agree"] = not (res["only_clamscan"] or res["only_avkey"] or res["load"])
        results[name] = res
        if not res["agree"] and not man["expect_differ"] and not a.clamscan_only:
            failed.append(name)
        if a.strict_intent and res["intent_miss"]:
            failed.append(name + "(intent)")

    hdr = "%-12s %5s %5s %6s %6s %8s %8s %5s %6s  %s" % (
        "family", "sigs", "files", "pairs", "avkey", "only-cl", "only-av", "load", "intent", "status")
    print(hdr)
    print("-" * len(hdr))
    for name, r in results.items():
        status = "agree" if r["agree"] else ("DIFFER (expected: %s)" % r["expect_differ"]
                                            if r["expect_differ"] else "DIFFER")
        if a.clamscan_only:
            status = "clamscan only"
        print("%-12s %5d %5d %6d %6d %8d %8d %5d %6d  %s" % (
            name, r["sigs"], r["files"], r["clamscan_pairs"], r["avkey_pairs"], len(r["only_clamscan"]),
            len(r["only_avkey"]), len(r["load"]), len(r["intent_miss"]), status))
    for name, r in results.items():
        if r["only_clamscan"] or r["only_avkey"] or r["load"] or r["intent_miss"]:
            if a.clamscan_only and not r["intent_miss"]:
                continue
            print("\n[%s]%s" % (name, " (expected to differ)" if r["expect_differ"] else ""))
            if a.clamscan_only:
                r = dict(r, only_clamscan=[], only_avkey=[], load=[])
            print_details(name, r, a.show)
    report = os.path.join(a.work, "report.json" if not a.family else "report-%s.json" % "-".join(families))
    with open(report, "w") as f:
        json.dump(results, f, indent=1)
    print("\nreport: %s" % report)
    if failed:
        print("FAILED: %s" % " ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
