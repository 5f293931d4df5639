#!/usr/bin/env python3
"""avkey benchmark suite: avkey beside clamscan and yara on the same corpus and signatures.

Run it through bench/suite/run.sh (see bench/README.md). Python 3 standard library only.

Phases: build avkey (scripts/build.sh into a build dir of its own) -> build or reuse the corpus ->
generate the signature sets -> check every tool loads every set -> warm the page cache ->
start-up times -> timed runs, round-robin over the configurations so a burst of load on this
shared machine hits every tool alike -> medians, detection comparison, one table ->
bench/runs/<date>-<host>/<mode>.{json,md}.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import corpus  # noqa: E402
import measure  # noqa: E402
import sigs  # noqa: E402

CLAM_SETS = ["hash100k", "body5k", "logical", "mixed"]
# Planted files each set must detect (top-level paths); see corpus.py and the Bench.Planted.* lines
# in sigs.py. yara and avkey --max-depth 0 do not look inside bundle.zip / nested.tar.gz.
_PL_ALL = ["planted/bundle.zip", "planted/clam.exe", "planted/deep/a/b/setup.exe", "planted/eicar.com",
           "planted/elf-with-marker", "planted/nested.tar.gz", "planted/notes-utf16.txt"]
EXPECTED_PLANTED = {
    "hash100k": _PL_ALL,
    "mixed": _PL_ALL,
    "body5k": [p for p in _PL_ALL if p != "planted/notes-utf16.txt"],
    "logical": [p for p in _PL_ALL if p != "planted/elf-with-marker"],
    "yara": ["planted/clam.exe", "planted/deep/a/b/setup.exe", "planted/eicar.com", "planted/elf-with-marker"],
}
ALL_SETS = CLAM_SETS + ["yara"]
# The same limits for both scanners, spelled out (they are both tools' defaults, except clamscan's
# recursion default of 17).
AVKEY_LIMITS = ["--max-filesize", "100M", "--max-unpacked", "400M", "--max-entries", "10000", "--max-depth", "16"]
CLAM_LIMITS = ["--scan-archive=yes", "--max-filesize=100M", "--max-scansize=400M", "--max-files=10000",
               "--max-recursion=16"]


# `avkey --cache DIR` (compiled-pattern cache), when the binary has it: scans run warm, as from a
# key whose cache was filled at the previous start; cold start-up is measured too.
AVKEY_CACHE = None


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def loadavg():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def sh(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="~150 MiB corpus, 1 run: a smoke check in < 5 min")
    ap.add_argument("--work", default=os.environ.get("AVKEY_BENCH_WORK", "/var/tmp/avkey-bench"),
                    help="corpus, signature sets and raw outputs (never inside the repo); env AVKEY_BENCH_WORK")
    ap.add_argument("--build-dir", default=os.environ.get("AVKEY_BENCH_BUILD_DIR", os.path.join(REPO, "build")),
                    help="where scripts/build.sh builds avkey (BUILD_DIR); env AVKEY_BENCH_BUILD_DIR")
    ap.add_argument("--avkey", help="use this avkey binary as it is (implies --no-build)")
    ap.add_argument("--no-build", action="store_true", help="do not run scripts/build.sh")
    ap.add_argument("--corpus-mib", type=int, help="corpus budget (default 1000, --quick 150)")
    ap.add_argument("--runs", type=int, help="timed runs per configuration, median reported (default 3, --quick 1)")
    ap.add_argument("--sets", default=",".join(ALL_SETS), help="comma-separated subset of " + ",".join(ALL_SETS))
    ap.add_argument("--tools", default="avkey,clamscan,yara")
    ap.add_argument("--threads", default="1,2", help="avkey --jobs and yara -p values")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=int, help="seconds per command (default 900, --quick 300)")
    ap.add_argument("--budget-min", type=float,
                    help="stop starting new rounds of runs past this many minutes (default 27, --quick 4.5)")
    ap.add_argument("--out", help="results directory (default bench/runs/<date>-<host>)")
    a = ap.parse_args()
    a.mode = "quick" if a.quick else "full"
    a.corpus_mib = a.corpus_mib or (150 if a.quick else 1000)
    a.runs = a.runs or (1 if a.quick else 3)
    a.timeout = a.timeout or (300 if a.quick else 900)
    a.budget_min = a.budget_min or (4.5 if a.quick else 27)
    a.sets = [s for s in a.sets.split(",") if s]
    a.tools = [t for t in a.tools.split(",") if t]
    a.threads = [int(t) for t in a.threads.split(",") if t]
    if a.quick and (a.corpus_mib != 150 or a.runs != 1):
        a.mode = "custom"
    elif not a.quick and (a.corpus_mib != 1000 or a.runs != 3):
        a.mode = "custom"
    for s in a.sets:
        if s not in ALL_SETS:
            ap.error("unknown set %s" % s)
    return a


def prepare_work(work):
    work = os.path.abspath(work)
    real_repo = os.path.realpath(REPO)
    if os.path.realpath(work) == real_repo or os.path.realpath(work).startswith(real_repo + os.sep):
        sys.exit("bench: the work dir must be outside the repository (the corpus is never committed): " + work)
    marker = os.path.join(work, ".avkey-bench")
    if os.path.isdir(work) and os.listdir(work) and not os.path.exists(marker):
        sys.exit("bench: %s exists, is not empty and was not made by this suite; choose --work" % work)
    os.makedirs(work, exist_ok=True)
    open(marker, "a").close()
    for d in ("out",):
        os.makedirs(os.path.join(work, d), exist_ok=True)
    return work


def build_avkey(a):
    if a.avkey:
        return os.path.abspath(a.avkey), {"built": False, "binary": os.path.abspath(a.avkey)}
    binary = os.path.join(os.path.abspath(a.build_dir), "avkey")
    info = {"build_dir": os.path.abspath(a.build_dir), "binary": binary}
    if a.no_build:
        if not os.access(binary, os.X_OK):
            sys.exit("bench: --no-build but %s does not exist" % binary)
        info["built"] = False
        return binary, info
    log("build: BUILD_DIR=%s scripts/build.sh" % a.build_dir)
    t0 = time.monotonic()
    env = dict(os.environ, BUILD_DIR=os.path.abspath(a.build_dir))
    r = subprocess.run([os.path.join(REPO, "scripts", "build.sh")], env=env, cwd=REPO,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.stdout.write(r.stdout[-4000:])
        sys.exit("bench: build failed (exit %d); fix it or pass --no-build / --avkey PATH" % r.returncode)
    info["built"] = True
    info["build_seconds"] = round(time.monotonic() - t0, 1)
    log("build: done in %.0f s" % info["build_seconds"])
    return binary, info


def environment(avkey):
    env = {
        "host": socket.gethostname(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                env["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                env["mem_total_kib"] = int(line.split()[1])
                break
    except OSError:
        pass
    env["git_head"] = sh(["git", "-C", REPO, "rev-parse", "HEAD"]).stdout.strip()
    dirty = sh(["git", "-C", REPO, "status", "--porcelain", "--", "src", "include", "apps", "CMakeLists.txt"]).stdout
    env["git_dirty_paths"] = [l[3:] for l in dirty.splitlines()]
    env["avkey_version"] = sh([avkey, "version"]).stdout.strip()
    # The source tree may have moved on since the binary was built (--no-build, shared tree).
    st = os.stat(avkey)
    env["avkey_binary"] = {"path": avkey, "size": st.st_size,
                           "mtime": datetime.datetime.fromtimestamp(st.st_mtime, datetime.timezone.utc).isoformat()}
    env["clamscan_version"] = sh(["clamscan", "--version"]).stdout.strip() if shutil.which("clamscan") else None
    env["yara_version"] = sh(["yara", "--version"]).stdout.strip() if shutil.which("yara") else None
    env["time_method"] = "gnu-time (/usr/bin/time -f)" if measure.have_gnu_time() else "os.wait4 rusage"
    return env


def warm(root, extra_paths):
    """Reads every corpus file once so every tool starts from a warm page cache (the corpus is
    ~1 GB on a 24 GiB machine: it stays cached)."""
    total = 0
    buf = bytearray(1 << 20)
    paths = list(extra_paths)
    for dp, dn, fn in os.walk(root):
        paths.extend(os.path.join(dp, n) for n in fn)
    t0 = time.monotonic()
    for p in paths:
        with open(p, "rb", buffering=0) as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                total += n
    dt = time.monotonic() - t0
    return total, dt


# ---------------------------------------------------------------------------------------------
# Configurations: how each tool is run, and how its detections are read.

class Config:
    def __init__(self, tool, set_name, threads, note=""):
        self.tool, self.set, self.threads, self.note = tool, set_name, threads, note
        self.key = "%s/%s/%d" % (tool, set_name, threads)

    def argv(self, avkey, set_path, target, json_path=None):
        if self.tool == "avkey":
            limits = list(AVKEY_LIMITS)
            if self.set == "yara":
                limits[-1] = "0"   # --max-depth 0, like yara: the files' own bytes, nothing unpacked
            v = [avkey, "scan", "--db", set_path, "--jobs", str(self.threads), "--quiet"] + limits
            if AVKEY_CACHE:
                v += ["--cache", AVKEY_CACHE]
            if json_path:
                v += ["--json", json_path]
            return v + [target]
        if self.tool == "clamscan":
            return ["clamscan", "-r", "-d", set_path, "--no-summary", "--infected"] + CLAM_LIMITS + [target]
        if self.tool == "yara":
            return ["yara", "-w", "-r", "-p", str(self.threads), set_path, target]
        raise ValueError(self.tool)


def detected_files(cfg, stdout_path, json_path, root):
    """Set of corpus-relative paths of top-level files with at least one detection."""
    out = set()
    prefix = root.rstrip("/") + "/"

    def rel(p):
        return p[len(prefix):] if p.startswith(prefix) else p

    if cfg.tool == "avkey":
        try:
            rep = json.load(open(json_path))
        except (OSError, ValueError):
            return None, {}
        for d in rep.get("detections", []):
            out.add(rel(d["path"]))
        extra = {"counts": rep.get("counts"), "verdict": rep.get("verdict"),
                 "incomplete_codes": {}}
        for it in rep.get("incomplete", []):
            c = it.get("code")
            extra["incomplete_codes"][c] = extra["incomplete_codes"].get(c, 0) + 1
        extra["incomplete_sample"] = [(rel(it.get("path", "")), it.get("members"), it.get("reason"))
                                      for it in rep.get("incomplete", [])[:20]]
        extra["signatures"] = sorted(set(d.get("signature") for d in rep.get("detections", [])))
        return out, extra
    text = open(stdout_path, "rb").read().decode("utf-8", "replace")
    names = set()
    if cfg.tool == "clamscan":
        for line in text.splitlines():
            m = re.match(r"^(.*): (\S+) FOUND$", line)
            if m:
                out.add(rel(m.group(1)))
                names.add(m.group(2))
    else:
        for line in text.splitlines():
            parts = line.split(" ", 1)
            if len(parts) == 2 and parts[1].startswith(prefix):
                out.add(rel(parts[1]))
                names.add(parts[0])
    return out, {"signatures": sorted(names)}


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec):
    return "—" if x is None else format(x, spec)


def ratio(a, b):
    return None if (a is None or b in (None, 0)) else a / b


# ---------------------------------------------------------------------------------------------

def main():
    a = parse_args()
    t_start = time.monotonic()
    started = datetime.datetime.now(datetime.timezone.utc)
    work = prepare_work(a.work)
    log("avkey bench suite, mode %s: corpus %d MiB, %d run(s), work dir %s" % (a.mode, a.corpus_mib, a.runs, work))
    log("load at start: %s" % sh(["uptime"]).stdout.strip())

    have = {t: (t == "avkey" or shutil.which(t) is not None) for t in a.tools}
    for t, ok in have.items():
        if not ok:
            log("WARNING: %s not installed: its rows are skipped" % t)
    tools = [t for t in a.tools if have[t]]
    avkey = None
    build_info = {}
    if "avkey" in tools:
        avkey, build_info = build_avkey(a)
    env = environment(avkey) if avkey else {}
    global AVKEY_CACHE
    if avkey and "--cache" in sh([avkey, "scan", "--help"]).stdout:
        AVKEY_CACHE = os.path.join(work, "avkey-cache")
        os.makedirs(AVKEY_CACHE, exist_ok=True)
        env["avkey_cache"] = AVKEY_CACHE
        log("avkey has --cache: scans use --cache %s (warm); cold start-up measured too" % AVKEY_CACHE)

    # Corpus and signatures.
    cinfo = corpus.build(work, a.corpus_mib, log=lambda m: log(m))
    root = cinfo["root"]
    corpus_bytes = cinfo["bytes"]
    planted, _host = corpus.planted_files(corpus.candidates()[0])
    set_dir = os.path.join(work, "sets-seed%d" % a.seed)
    sets, sig_counts, sig_digests, hash_sizes = sigs.generate(set_dir, a.seed, planted, log=lambda m: log(m))
    size_hit_bytes = sum(s for s in cinfo["sizes"] if s in hash_sizes)
    log("corpus: %.1f%% of its bytes are in files whose size occurs in hash100k (clamscan and avkey hash those)"
        % (100.0 * size_hit_bytes / corpus_bytes))
    empty = os.path.join(work, "empty-file")
    open(empty, "w").close()

    # Configurations.
    configs = []
    for s in a.sets:
        if s in CLAM_SETS:
            if "avkey" in tools:
                configs += [Config("avkey", s, j) for j in a.threads]
            if "clamscan" in tools:
                configs.append(Config("clamscan", s, 1, "single-threaded by design"))
        else:
            if "avkey" in tools:
                configs += [Config("avkey", s, j, "--max-depth 0 (like yara)") for j in a.threads]
            if "yara" in tools:
                configs += [Config("yara", s, j) for j in a.threads]

    log("warming the page cache")
    nbytes, dt = warm(root, [os.path.join(set_dir, r) for r in sig_digests])
    log("read %.1f MB in %.2f s (%.0f MB/s)" % (nbytes / 1e6, dt, nbytes / 1e6 / max(dt, 1e-9)))

    use_time = measure.have_gnu_time()
    out_dir = os.path.join(work, "out")

    # Start-up (load + exit), once per (tool, set), median of --runs: clamscan and yara scan one
    # empty file; avkey runs `db info`, which loads exactly what a scan loads, prints the count per
    # kind, every skipped signature and its own in-process load time (recorded too), then exits.
    startup = {}
    load_checks = {}
    seen = set()
    for c in configs:
        k = (c.tool, c.set)
        if k in seen:
            continue
        seen.add(k)
        walls = []
        cold = []
        if c.tool == "avkey" and AVKEY_CACHE:
            for _ in range(a.runs):   # without the cache: what the first start on a new key costs
                cold.append(measure.run([avkey, "db", "info", "--db", sets[c.set]], a.timeout,
                                        use_gnu_time=use_time).wall)
            sh([avkey, "db", "info", "--db", sets[c.set], "--cache", AVKEY_CACHE])   # fill the cache
        for _ in range(a.runs):
            if c.tool == "avkey":
                argv = [avkey, "db", "info", "--db", sets[c.set]] + (["--cache", AVKEY_CACHE] if AVKEY_CACHE else [])
            else:
                argv = c.argv(avkey, sets[c.set], empty)
            r = measure.run(argv, a.timeout, use_gnu_time=use_time)
            if r.rc != 0:
                log("ERROR: %s did not load %s (exit %s): %s" % (c.tool, c.set, r.rc, r.stderr[-800:]))
            elif c.tool == "clamscan" and ("LibClamAV Error" in r.stderr or "Malformed" in r.stderr):
                log("ERROR: clamscan complained loading %s: %s" % (c.set, r.stderr[-800:]))
            elif c.tool == "yara" and r.stderr.strip():
                log("WARNING: yara on %s: %s" % (c.set, r.stderr[-800:]))
            walls.append(r.wall)
            if c.tool == "avkey" and c.set not in load_checks:
                out = r.stdout or ""
                m = re.search(r"load time:\s+([\d.]+) s", out)
                pm = re.search(r"problems:\s+(\d+)", out)
                tm = re.search(r"total signatures:\s+(\d+)", out)
                cm = re.search(r"compiled-pattern cache:\s+(.*)", out)
                load_checks[c.set] = {
                    "rc": r.rc, "cache_state": cm.group(1).strip() if cm else None, "load_seconds_in_process": float(m.group(1)) if m else None,
                    "problems": int(pm.group(1)) if pm else None,
                    "signatures": int(tm.group(1)) if tm else None,
                    "problem_lines": [l for l in out.split("problems:", 1)[-1].splitlines()[1:]
                                      if l.startswith("  ")][:20] if pm else []}
                if load_checks[c.set]["problems"]:
                    log("WARNING: avkey skipped %s signature(s) of %s: %s" % (
                        load_checks[c.set]["problems"], c.set, load_checks[c.set]["problem_lines"][:3]))
        startup[k] = {"wall": median(walls), "runs": walls, "maxrss_kib": r.maxrss_kib,
                      "cold_wall": median(cold) if cold else None, "cold_runs": cold}
        extra = ""
        if c.tool == "avkey":
            lc = load_checks[c.set]
            extra = ", %s signatures, %s skipped, in-process load %s s, cache %s%s" % (
                lc["signatures"], lc["problems"], lc["load_seconds_in_process"], lc.get("cache_state"),
                ", cold start-up %.3f s" % startup[k]["cold_wall"] if startup[k]["cold_wall"] else "")
        log("start-up %-8s %-8s %.3f s  (%d MB RSS%s)" % (c.tool, c.set, startup[k]["wall"],
                                                         r.maxrss_kib // 1024, extra))

    # Timed runs, round-robin.
    results = {c.key: {"config": vars(c).copy(), "runs": []} for c in configs}
    for c in configs:
        del results[c.key]["config"]["key"]
    rounds_done = 0
    round_times = []
    for rnd in range(a.runs):
        elapsed = time.monotonic() - t_start
        if rnd > 0 and elapsed + max(round_times) > a.budget_min * 60:
            log("time budget (%.1f min): stopping after %d round(s)" % (a.budget_min, rnd))
            break
        t_round = time.monotonic()
        for c in configs:
            stdout_path = os.path.join(out_dir, c.key.replace("/", "-") + ".out")
            json_path = os.path.join(out_dir, c.key.replace("/", "-") + ".json")
            argv = c.argv(avkey, sets[c.set], root, json_path=json_path)
            la = loadavg()
            r = measure.run(argv, a.timeout, stdout_path=stdout_path, use_gnu_time=use_time)
            files, extra = detected_files(c, stdout_path, json_path, root)
            rec = r.as_dict()
            rec["loadavg_before"] = la
            rec["detected_files"] = sorted(files) if files is not None else None
            rec["extra"] = extra
            rec["stderr_tail"] = r.stderr[-2000:]
            results[c.key]["runs"].append(rec)
            log("run %d %-8s %-8s j%d  %7.2f s wall  %7.2f s cpu  %5d MB  %3s files  load %.1f%s" % (
                rnd + 1, c.tool, c.set, c.threads, r.wall, r.cpu, (r.maxrss_kib or 0) // 1024,
                len(files) if files is not None else "?", la[0] if la else -1,
                "  TIMEOUT" if r.timed_out else ("  exit %d" % r.rc if r.rc not in (0, 1) else "")))
        round_times.append(time.monotonic() - t_round)
        rounds_done += 1

    # Aggregate.
    rows = []
    agg = {}
    for c in configs:
        runs = results[c.key]["runs"]
        if not runs:
            continue
        wall = median([r["wall"] for r in runs])
        su = startup.get((c.tool, c.set), {}).get("wall")
        det_sets = [tuple(r["detected_files"] or []) for r in runs]
        g = {
            "tool": c.tool, "set": c.set, "threads": c.threads, "note": c.note,
            "wall": wall, "cpu": median([r["cpu"] for r in runs]),
            "maxrss_mib": median([r["maxrss_kib"] / 1024.0 for r in runs if r["maxrss_kib"]]),
            "mbps": corpus_bytes / 1e6 / wall if wall else None,
            "mbps_excl_startup": corpus_bytes / 1e6 / (wall - su) if (wall and su is not None and wall > su) else None,
            "startup": su,
            "startup_cold": startup.get((c.tool, c.set), {}).get("cold_wall"),
            "detections": len(runs[-1]["detected_files"] or []),
            "detections_stable": len(set(det_sets)) == 1,
            "timed_out": any(r["timed_out"] for r in runs),
            "exit_codes": sorted(set(r["rc"] for r in runs)),
            "loadavg": [r["loadavg_before"][0] for r in runs if r["loadavg_before"]],
            "runs": len(runs),
        }
        agg[c.key] = g
        rows.append(g)

    def find(tool, s, j):
        return agg.get("%s/%s/%d" % (tool, s, j))

    # Detection comparison.
    compare = {}
    for s in a.sets:
        peer = ("clamscan", 1) if s in CLAM_SETS else ("yara", max(a.threads))
        av = results.get("avkey/%s/%d" % (s, max(a.threads)))
        pr = results.get("%s/%s/%d" % (peer[0], s, peer[1]))
        if not av or not pr or not av["runs"] or not pr["runs"]:
            continue
        A = set(av["runs"][-1]["detected_files"] or [])
        P = set(pr["runs"][-1]["detected_files"] or [])
        compare[s] = {"peer": peer[0], "both": len(A & P), "only_avkey": sorted(A - P),
                      "only_peer": sorted(P - A), "identical": A == P,
                      "planted_expected": len(EXPECTED_PLANTED[s]),
                      "planted_missed_by_avkey": sorted(p for p in EXPECTED_PLANTED[s] if p not in A),
                      "planted_missed_by_peer": sorted(p for p in EXPECTED_PLANTED[s] if p not in P)}
        # avkey j1 vs j2 must agree too
        a1 = results.get("avkey/%s/%d" % (s, min(a.threads)))
        if a1 and a1["runs"]:
            compare[s]["avkey_threads_agree"] = set(a1["runs"][-1]["detected_files"] or []) == A

    # Ratios and targets.
    for g in rows:
        if g["tool"] != "avkey":
            continue
        if g["set"] in CLAM_SETS:
            p = find("clamscan", g["set"], 1)
        else:
            p = find("yara", g["set"], g["threads"])
        if p:
            g["peer"] = "%s%s" % (p["tool"], " -p %d" % p["threads"] if p["tool"] == "yara" else "")
            g["speed_vs_peer"] = ratio(p["wall"], g["wall"])
            g["rss_vs_peer"] = ratio(g["maxrss_mib"], p["maxrss_mib"])
            g["startup_vs_peer"] = ratio(g["startup"], p["startup"])

    targets = []

    def target(name, value, goal, ok, how):
        targets.append({"target": name, "measured": value, "goal": goal, "met": ok, "how": how})

    for s in ("body5k", "mixed"):
        g1, g2, p = find("avkey", s, 1), find("avkey", s, 2), find("clamscan", s, 1)
        if g1 and p:
            r = ratio(p["wall"], g1["wall"])
            target("throughput %s, 1 thread, vs clamscan" % s, r, 20, r >= 20,
                   "clamscan wall / avkey --jobs 1 wall")
        if g1 and g2:
            r = ratio(g1["wall"], g2["wall"])
            target("scaling %s, 2 threads vs 1" % s, r, 1.8, r >= 1.8, "avkey --jobs 1 wall / --jobs 2 wall")
    g2, y2 = find("avkey", "yara", 2), find("yara", "yara", 2)
    if g2 and y2:
        r = ratio(y2["wall"], g2["wall"])
        target("YARA set, 2 threads, vs yara -p 2", r, 3, r >= 3, "yara -p 2 wall / avkey --jobs 2 wall")
    for s in CLAM_SETS:
        g, p = find("avkey", s, max(a.threads)), find("clamscan", s, 1)
        if g and p:
            r = ratio(g["maxrss_mib"], p["maxrss_mib"])
            target("peak RSS %s vs clamscan" % s, r, 0.5, r <= 0.5,
                   "avkey --jobs %d peak RSS / clamscan peak RSS" % max(a.threads))
    if ("avkey", "hash100k") in startup:
        v = startup[("avkey", "hash100k")]["wall"]
        target("start-up, 100k hash signatures (s)", v, 0.05, v <= 0.05,
               "wall of `avkey db info --db hash100k`" + (" --cache (warm)" if AVKEY_CACHE else "; this avkey has no --cache"))
    for s, cmp_ in compare.items():
        if s in CLAM_SETS:
            target("identical detected files, %s" % s, cmp_["identical"], True, cmp_["identical"],
                   "top-level paths: %d both, %d only avkey, %d only clamscan" % (
                       cmp_["both"], len(cmp_["only_avkey"]), len(cmp_["only_peer"])))

    # Report.
    finished = datetime.datetime.now(datetime.timezone.utc)
    la_end = sh(["uptime"]).stdout.strip()
    md = render(a, rows, targets, compare, cinfo, corpus_bytes, size_hit_bytes, env, sig_counts,
                started, la_end, rounds_done)
    print()
    print(md)
    date = started.astimezone().strftime("%Y-%m-%d")
    out = a.out or os.path.join(REPO, "bench", "runs", "%s-%s" % (date, env.get("host", socket.gethostname())))
    os.makedirs(out, exist_ok=True)
    raw = {
        "mode": a.mode, "started": started.isoformat(), "finished": finished.isoformat(),
        "duration_seconds": round(time.monotonic() - t_start, 1),
        "command": " ".join(["bench/suite/run.sh"] + sys.argv[1:]),
        "uptime_end": la_end, "environment": env, "build": build_info,
        "corpus": {k: v for k, v in cinfo.items() if k != "sizes"},
        "corpus_bytes_in_hash_sizes": size_hit_bytes,
        "signatures": {"counts": sig_counts, "sha256": sig_digests, "seed": a.seed, "dir": set_dir},
        "limits": {"avkey": AVKEY_LIMITS, "clamscan": CLAM_LIMITS},
        "load_checks": load_checks,
        "startup": {"%s/%s" % k: v for k, v in startup.items()},
        "summary": rows, "targets": targets, "detections_compare": compare,
        "runs": results,
    }
    with open(os.path.join(out, a.mode + ".json"), "w") as f:
        json.dump(raw, f, indent=1, sort_keys=True)
    with open(os.path.join(out, a.mode + ".md"), "w") as f:
        f.write(md)
    log("results: %s/%s.{json,md}  (%.1f min)" % (os.path.relpath(out, REPO), a.mode,
                                                   (time.monotonic() - t_start) / 60))


def render(a, rows, targets, compare, cinfo, corpus_bytes, size_hit_bytes, env, sig_counts, started,
           la_end, rounds_done):
    L = []
    L.append("### avkey suite, %s mode — %s, host %s (%s CPUs, %s)" % (
        a.mode, started.astimezone().strftime("%Y-%m-%d %H:%M %Z"), env.get("host"), env.get("cpus"),
        env.get("cpu_model", "?")))
    L.append("")
    L.append("Corpus: %d files, %.1f MB (%d MiB budget: /usr binaries and libraries, /usr/share/doc, "
             "2 archives of /usr, planted detections), identity `%s`; %.1f%% of its bytes have a size found "
             "in hash100k. Page cache warm. Median of %d run(s). avkey `%s`, git %s%s." % (
                 cinfo["files"], corpus_bytes / 1e6, cinfo["budget_mib"], cinfo["identity"][:12],
                 100.0 * size_hit_bytes / corpus_bytes, rounds_done,
                 (env.get("avkey_version") or "").splitlines()[0] if env.get("avkey_version") else "?",
                 (env.get("git_head") or "?")[:10] + " (binary built %s)" % env.get("avkey_binary", {}).get("mtime", "?")[:16],
                 " + uncommitted changes in " + ", ".join(env["git_dirty_paths"][:5]) if env.get("git_dirty_paths") else ""))
    L.append("Signatures (seed %d): hash100k %d, body5k %d, logical %d, mixed %d, yara %d rules." % (
        a.seed, sig_counts["hash100k"], sig_counts["body5k"], sig_counts["logical"], sig_counts["mixed"],
        sig_counts["yara"]))
    L.append("")
    L.append("| tool | set | threads | wall s | CPU s | MB/s | MB/s excl. start-up | peak RSS MiB | start-up s "
             "| detections | avkey speed / peer | avkey RSS / peer | load avg (1 min) |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for g in rows:
        la = g["loadavg"]
        las = ("%.1f" % la[0]) if len(la) == 1 else ("%.1f–%.1f" % (min(la), max(la)) if la else "—")
        det = str(g["detections"]) + ("" if g["detections_stable"] else " (varies)")
        if g["timed_out"]:
            det += " TIMEOUT"
        tool = g["tool"] + (" ¹" if g["tool"] == "avkey" and g["set"] == "yara" else "")
        L.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            tool, g["set"], g["threads"], fmt(g["wall"], ".2f"), fmt(g["cpu"], ".2f"), fmt(g["mbps"], ".1f"),
            fmt(g["mbps_excl_startup"], ".1f"), fmt(g["maxrss_mib"], ".0f"),
            fmt(g["startup"], ".3f") + (" (cold %.3f)" % g["startup_cold"] if g.get("startup_cold") else ""), det,
            ("%s× vs %s" % (fmt(g.get("speed_vs_peer"), ".2f"), g["peer"])) if g.get("peer") else "",
            fmt(g.get("rss_vs_peer"), ".2f") if g.get("peer") else "", las))
    L.append("")
    L.append("Speed ratio = peer wall / avkey wall (> 1: avkey faster). MB/s = corpus bytes (10^6) / wall, "
             "start-up included; \"excl. start-up\" subtracts the median start-up time of the same tool and set. "
             "Start-up = wall of load + exit: `clamscan`/`yara` scanning one empty file, `avkey db info` "
             "(loads exactly what a scan loads).")
    L.append("")
    L.append("**Targets (issue 6)**")
    L.append("")
    L.append("| target | goal | measured | met |")
    L.append("|---|---|---|---|")
    for t in targets:
        m = t["measured"]
        ms = ("%.3g" % m) if isinstance(m, float) else str(m)
        goal = t["goal"]
        gs = ("≥ %s×" % goal) if isinstance(goal, (int, float)) and goal >= 1 and not isinstance(goal, bool) \
            else ("≤ %s" % goal if not isinstance(goal, bool) else "yes")
        if "start-up" in t["target"]:
            gs = "≤ %.0f ms" % (goal * 1000)
            ms = "%.0f ms" % (m * 1000)
        if "RSS" in t["target"]:
            gs = "≤ 0.5× clamscan"
            ms = "%.2f×" % m if m is not None else "—"
        if "throughput" in t["target"] or "scaling" in t["target"] or "YARA" in t["target"]:
            ms = "%.2f×" % m if m is not None else "—"
        L.append("| %s | %s | %s (%s) | %s |" % (t["target"], gs, ms, t["how"], "yes" if t["met"] else "**no**"))
    L.append("")
    L.append("**Detections compared** (top-level files with at least one detection)")
    L.append("")
    for s, c in compare.items():
        line = "- %s vs %s: %d in both; %s" % (s, c["peer"], c["both"], "identical" if c["identical"] else
                                              "DIFFERENT: only avkey %d, only %s %d" % (
                                                  len(c["only_avkey"]), c["peer"], len(c["only_peer"])))
        if not c["identical"]:
            line += " — only avkey: %s; only %s: %s" % (
                ", ".join("`%s`" % p for p in c["only_avkey"][:6]) or "none", c["peer"],
                ", ".join("`%s`" % p for p in c["only_peer"][:6]) or "none")
        for who, key in (("avkey", "planted_missed_by_avkey"), (c["peer"], "planted_missed_by_peer")):
            if c[key]:
                line += " — %s MISSED planted %s" % (who, ", ".join("`%s`" % p for p in c[key]))
        if not c["planted_missed_by_avkey"] and not c["planted_missed_by_peer"]:
            line += " (all %d planted files found by both)" % c["planted_expected"]
        if c.get("avkey_threads_agree") is False:
            line += " — avkey --jobs 1 and --jobs 2 disagree"
        L.append(line)
    L.append("")
    L.append("**Not like for like**")
    L.append("")
    L.append("- clamscan runs with `--scan-archive=yes` and the same limits as avkey (max file 100M, scan size "
             "400M, 10000 files, depth 16), but otherwise its defaults: it also parses and unpacks formats "
             "avkey does not yet (PE packers such as UPX/FSG/Petite, OLE2, PDF streams, HTML/mail "
             "normalisation, SWF...), so it does more work per file on some files. avkey unpacks what "
             "libarchive reads, which includes `ar` archives (the corpus' static `.a` libraries) that "
             "clamscan scans as plain bytes: there avkey does more work.")
    L.append("- clamscan is single-threaded (clamdscan would need a running clamd): its row is the same "
             "for 1 and 2 threads; both avkey rows are compared with it.")
    L.append("- ¹ On the YARA set avkey runs with `--max-depth 0` (no unpacking), because yara scans each "
             "file's own bytes only; yara gets the YARA rules and nothing else (no hashes, no logical "
             "signatures).")
    if AVKEY_CACHE:
        L.append("- avkey scans with `--cache DIR` filled beforehand (warm: what a technician's key has after "
                 "its first start with these signatures); its start-up column shows warm and, in brackets, "
                 "cold (no cache). clamscan and yara have no compiled cache: they compile at every start.")
    else:
        L.append("- Start-up includes process start and exit on all three; none keeps a compiled database "
                 "between runs (this avkey binary has no `--cache`).")
    L.append("- This machine is shared with other engineers' builds: see the load average per row. "
             "Load at the end: `%s`." % la_end)
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
