#!/usr/bin/env python3
"""Integration tests of avkey run from a prepared key (docs/key-format.md).

Usage: key_test.py --avkey PATH CASE     (exit 0 pass, 1 fail, 77 skipped)
       key_test.py --list

Each case prepares a key with `avkey key init` in a temp dir, installs the binary on it,
and runs KEY/bin/linux-x86_64/avkey as an operator would. Helpers come from scan_test.py.
"""
import argparse
import datetime
import glob
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scan_test as st  # noqa: E402
from scan_test import EICAR, Skip, expect, expect_verdict, write  # noqa: E402

CASES = {}
MARKER = b"avkey-integration-" + b"marker-7f3a"  # matched by the published test signature


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def run_tool(args, timeout=120, **kw):
    return st.run(args, timeout=timeout, **kw)


def make_key(d, policy=None, created=None, sigs=True):
    """A key in d/key with its signer in d/signer; returns the on-key binary's path."""
    key, signer = f"{d}/key", f"{d}/signer"
    args = ["key", "init", key, "--signer", signer, "--console-name", "test-desk"]
    if policy is not None:
        write(f"{d}/policy.toml", policy.encode())
        args += ["--policy", f"{d}/policy.toml"]
    if sigs:
        write(f"{d}/test.ndb", b"Avkey.Test.Marker:0:*:" + MARKER.hex().encode() + b"\n")
        args += ["--signatures", f"{d}/test.ndb"]
        if created:
            args += ["--created", created]
    rc, out, err = run_tool(args)
    expect(rc == 0, f"key init failed ({rc})", out + err)
    exe = f"{key}/bin/linux-x86_64/avkey"
    expect(os.access(exe, os.X_OK), "the scanner was not installed on the key")
    return exe


def on_key(exe, args, timeout=120, **kw):
    p = subprocess.run([exe] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, **kw)
    return p.returncode, p.stdout.decode("utf-8", "backslashreplace"), p.stderr.decode("utf-8", "backslashreplace")


def journal(d):
    with open(f"{d}/key/journal/journal.jsonl", "rb") as f:
        return [json.loads(line) for line in f.read().splitlines() if line.strip()]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


QUARANTINE_POLICY = '[action]\non_detection = "quarantine"\n[operator]\nasset_tag = "never"\n'


@case
def key_quarantine_green_and_restore(d):
    exe = make_key(d, QUARANTINE_POLICY)
    tree = f"{d}/device"
    write(f"{tree}/bin/tool", b"\x7fELF" + MARKER + b"\x00" * 100)
    os.chmod(f"{tree}/bin/tool", 0o751)
    os.utime(f"{tree}/bin/tool", ns=(1_600_000_000_123_456_789, 1_500_000_000_987_654_321))
    write(f"{tree}/docs/eicar.com", EICAR)
    write(f"{tree}/docs/readme.txt", b"clean")
    original = {p: open(p, "rb").read() for p in (f"{tree}/bin/tool", f"{tree}/docs/eicar.com")}
    rc, out, err = on_key(exe, ["scan", "--jobs", "2", "--json", f"{d}/report.json", tree])
    expect_verdict(rc, out, "GREEN", 3)
    for p in original:
        expect(not os.path.exists(p), f"{p} still on the device", out)
    expect(os.path.exists(f"{tree}/docs/readme.txt"), "clean file touched")
    report = json.load(open(f"{d}/report.json"))
    expect(report["verdict"] == "GREEN" and report["reason"].startswith("2 threats found"), "report", str(report))
    expect(all(x["action_result"] == "quarantined" for x in report["detections"]), "action results", str(report))

    recs = journal(d)
    types = [r["type"] for r in recs]
    expect(types[0] == "scan_started" and types[-1] == "scan_finished", f"journal types {types}")
    expect(types.count("detection") == 2 and types.count("action") == 2, f"journal types {types}")
    expect(recs[-1]["payload"]["verdict"] == "GREEN", "scan_finished verdict", str(recs[-1]))
    expect(recs[-1]["payload"]["inventory"], "no inventory recorded", str(recs[-1]))
    expect(os.path.exists(f"{d}/key/inventory/{recs[-1]['payload']['inventory']}"), "inventory file missing")

    rc, out, err = on_key(exe, ["journal", "verify"])
    expect(rc == 0 and "INTACT" in out, f"journal verify {rc}", out + err)
    rc, out, err = on_key(exe, ["journal", "show"])
    expect(rc == 0 and "GREEN" in out and "FOUND" in out, "journal show", out + err)

    rc, out, err = on_key(exe, ["quarantine", "list"])
    ids = [line.split()[0] for line in out.splitlines() if line.startswith("Q-")]
    expect(rc == 0 and len(ids) == 2, "quarantine list", out + err)
    for qid in ids:
        rc, out, err = on_key(exe, ["quarantine", "restore", qid])
        expect(rc == 0, f"restore {qid}", out + err)
    for p, data in original.items():
        expect(open(p, "rb").read() == data, f"{p} not byte-identical after restore")
    st_ = os.stat(f"{tree}/bin/tool")
    expect(st_.st_mode & 0o7777 == 0o751, f"mode {oct(st_.st_mode)}")
    expect(st_.st_mtime_ns == 1_500_000_000_987_654_321, f"mtime {st_.st_mtime_ns}")
    rc, out, err = on_key(exe, ["quarantine", "restore", ids[0]])
    expect(rc != 0 and "not overwritten" in err, "second restore overwrote", out + err)
    rc, out, err = on_key(exe, ["quarantine", "purge", ids[0]])
    expect(rc == 0, "purge", out + err)
    rc, out, err = on_key(exe, ["journal", "verify"])
    expect(rc == 0, "journal after restore and purge", out + err)
    actions = [r["payload"]["action"] for r in journal(d) if r["type"] == "action"]
    expect(actions == ["quarantine", "quarantine", "restore", "restore", "purge"], f"actions {actions}")


@case
def key_default_policy_reports_only(d):
    exe = make_key(d)
    write(f"{d}/device/eicar.com", EICAR)
    rc, out, err = on_key(exe, ["scan", f"{d}/device"])
    expect_verdict(rc, out, "RED", 1)
    expect(os.path.exists(f"{d}/device/eicar.com"), "report-only policy removed a file")
    start = journal(d)[0]["payload"]
    expect(start["policy"] == "default" and start["action"] == "report", str(start))


@case
def key_remove_without_copy(d):
    exe = make_key(d, '[action]\non_detection = "remove"\nkeep_copy = false\n[operator]\nasset_tag = "never"\n')
    write(f"{d}/device/eicar.com", EICAR)
    rc, out, err = on_key(exe, ["scan", f"{d}/device"])
    expect_verdict(rc, out, "GREEN", 3)
    expect(not os.path.exists(f"{d}/device/eicar.com"), "not removed")
    expect(not glob.glob(f"{d}/key/quarantine/*.bin"), "a copy was kept")
    acts = [r["payload"] for r in journal(d) if r["type"] == "action"]
    expect(len(acts) == 1 and acts[0]["action"] == "remove" and acts[0]["result"] == "done", str(acts))


@case
def key_stale_signatures_amber(d):
    old = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=45)).strftime("%Y-%m-%dT%H:%M:%SZ")
    exe = make_key(d, created=old)
    write(f"{d}/device/clean.txt", b"clean")
    rc, out, err = on_key(exe, ["scan", "--json", f"{d}/r.json", f"{d}/device"])
    expect_verdict(rc, out, "AMBER", 2)
    reason = json.load(open(f"{d}/r.json"))["reason"]
    expect("signatures too old" in reason, f"reason: {reason}")
    expect(journal(d)[-1]["payload"]["reason"] == reason, "journal reason differs from the report")
    # A threat still makes it RED: an old signature set does not hide what it finds.
    write(f"{d}/device/eicar.com", EICAR)
    rc, out, err = on_key(exe, ["scan", f"{d}/device"])
    expect_verdict(rc, out, "RED", 1)


@case
def key_tampered_policy_refused(d):
    exe = make_key(d, QUARANTINE_POLICY)
    with open(f"{d}/key/avkey.toml", "a") as f:
        f.write("# edited on the device\n")
    write(f"{d}/device/eicar.com", EICAR)
    rc, out, err = on_key(exe, ["scan", f"{d}/device"])
    expect_verdict(rc, out, "AMBER", 2)
    expect("policy refused" in err and "does not verify" in err, "no clear refusal", out + err)
    expect(os.path.exists(f"{d}/device/eicar.com"), "a refused policy acted")
    recs = journal(d)
    expect([r["type"] for r in recs] == ["scan_started", "scan_finished"], "journal", str(recs))
    expect("refused" in recs[0]["payload"] and recs[1]["payload"]["verdict"] == "AMBER", str(recs))


@case
def key_tampered_signatures_refused(d):
    exe = make_key(d)
    gen = glob.glob(f"{d}/key/signatures/gen-*")[0]
    with open(f"{gen}/test.ndb", "ab") as f:
        f.write(b"Evil.Allow:0:*:00\n")
    write(f"{d}/device/clean.txt", b"clean")
    rc, out, err = on_key(exe, ["scan", f"{d}/device"])
    expect_verdict(rc, out, "AMBER", 2)
    expect("no trusted signatures" in err and "does not match its manifest" in err, "refusal", out + err)


@case
def key_journal_tamper_named(d):
    exe = make_key(d)
    write(f"{d}/device/eicar.com", EICAR)
    for _ in range(2):
        on_key(exe, ["scan", f"{d}/device"])
    path = f"{d}/key/journal/journal.jsonl"
    lines = open(path, "rb").read().splitlines(keepends=True)
    edited = lines[:]
    edited[1] = edited[1].replace(b"eicar.com", b"eicar.txt")
    open(path, "wb").write(b"".join(edited))
    rc, out, err = on_key(exe, ["journal", "verify"])
    expect(rc == 1 and "line 2 (seq 2): bad-mac" in out, f"edit not named ({rc})", out + err)
    open(path, "wb").write(b"".join(lines[:3] + lines[4:]))
    rc, out, err = on_key(exe, ["journal", "verify"])
    expect(rc == 1 and "seq-gap" in out and "seq 4 is missing" in out, f"deletion not named ({rc})", out + err)
    open(path, "wb").write(b"".join(lines)[:-30])
    rc, out, err = on_key(exe, ["journal", "verify"])
    expect(rc == 2 and "torn-tail" in out, f"torn tail not named ({rc})", out + err)
    rc, out, err = on_key(exe, ["journal", "export", "--format", "csv"])
    expect(out.startswith("seq,time,key,device,scan,type,path") and "eicar.com" in out, "csv export", out + err)
    # The next scan acknowledges the tear; the journal is intact again.
    on_key(exe, ["scan", f"{d}/device"])
    rc, out, err = on_key(exe, ["journal", "verify"])
    expect(rc == 0 and "note: line" in out, f"after repair ({rc})", out + err)


@case
def key_policy_decides(d):
    exe = make_key(d, '[operator]\nasset_tag = "required"\n')
    write(f"{d}/device/a.txt", b"a")
    rc, out, err = on_key(exe, ["scan", "--action", "report", f"{d}/device"])
    expect(rc == 64 and "policy" in err, f"--action on a key ({rc})", out + err)
    rc, out, err = on_key(exe, ["scan", f"{d}/device"], stdin=subprocess.DEVNULL)
    expect(rc == 64 and "asset tag" in err, f"required asset tag ({rc})", out + err)
    rc, out, err = on_key(exe, ["scan", "--asset-tag", "PUMP-0042", f"{d}/device"])
    expect_verdict(rc, out, "BLUE", 0)
    expect(journal(d)[0]["payload"]["operator"]["asset_tag"] == "PUMP-0042", "asset tag not journaled")
    # --no-key scans without the key's policy or journal.
    rc, out, err = on_key(exe, ["scan", "--no-key", f"{d}/device"])
    expect_verdict(rc, out, "BLUE", 0)
    expect(len(journal(d)) == 2, "--no-key wrote to the journal")


@case
def key_indicator_hook(d):
    # The hook runs with the verdict, only as the signed policy pins it: a device that
    # rewrites the hook on the key (it is writable there) gets it refused, not run.
    hook = f"#!/bin/sh\necho \"$@\" > {d}/led.out\n".encode()
    pin = hashlib.sha256(hook).hexdigest()
    exe = make_key(d, f'[indicator]\nhook = "bin/led"\nhook_sha256 = "{pin}"\n[operator]\nasset_tag = "never"\n')
    write(f"{d}/key/bin/led", hook)
    os.chmod(f"{d}/key/bin/led", 0o755)
    write(f"{d}/device/eicar.com", EICAR)
    rc, out, err = on_key(exe, ["scan", f"{d}/device"])
    expect_verdict(rc, out, "RED", 1)
    led = open(f"{d}/led.out").read()
    expect(led.startswith("RED 1 1 threat remains"), f"hook got: {led!r}")
    os.unlink(f"{d}/led.out")
    write(f"{d}/key/bin/led", hook.replace(b"echo", b"touch {d}/planted; echo".replace(b"{d}", d.encode())))
    rc, out, err = on_key(exe, ["scan", f"{d}/device"])
    expect_verdict(rc, out, "RED", 1)
    expect(not os.path.exists(f"{d}/led.out") and not os.path.exists(f"{d}/planted"), "a rewritten hook ran")
    refused = [r for r in journal(d) if r["type"] == "hook_refused"]
    expect(len(refused) == 1 and "SHA-256" in refused[0]["payload"]["reason"], str(refused))
    # A FIFO planted as the hook must not hang the scan before its verdict.
    os.unlink(f"{d}/key/bin/led")
    os.mkfifo(f"{d}/key/bin/led")
    rc, out, err = on_key(exe, ["scan", f"{d}/device"], timeout=60)
    expect_verdict(rc, out, "RED", 1)
    refused = [r for r in journal(d) if r["type"] == "hook_refused"]
    expect(len(refused) == 2 and "not a regular file" in refused[1]["payload"]["reason"], str(refused))


@case
def key_sigkill_loses_nothing(d):
    """Kills avkey with SIGKILL at random moments of scans that quarantine, many times."""
    exe = make_key(d, QUARANTINE_POLICY + '[inventory]\nenabled = false\n')
    rounds = int(os.environ.get("AVKEY_KILL_ROUNDS", "40"))
    rng = random.Random(int(os.environ.get("AVKEY_KILL_SEED", "1")))
    sig_before = {p: sha256(p) for p in glob.glob(f"{d}/key/signatures/**/*", recursive=True) if os.path.isfile(p)}
    expected = {}  # path -> content of every infected file ever planted
    # Time one undisturbed scan to spread the kills over it.
    tree = f"{d}/dev0"
    for i in range(20):
        write(f"{tree}/f{i}.com", EICAR + os.urandom(512 * 1024))
    t0 = time.monotonic()
    on_key(exe, ["scan", "--jobs", "2", tree])
    span = max(time.monotonic() - t0, 0.05)
    kills = 0
    for r in range(rounds):
        tree = f"{d}/dev{r + 1}"
        for i in range(20):
            data = EICAR + os.urandom(rng.choice([64, 4096, 512 * 1024]))
            write(f"{tree}/f{i}.com", data)
            expected[f"{tree}/f{i}.com"] = data
        p = subprocess.Popen([exe, "scan", "--jobs", "2", tree], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0, span * 1.2))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
        rc, out, err = on_key(exe, ["journal", "verify"])
        expect(rc in (0, 2), f"round {r}: journal verify exit {rc}", out + err)
    print(f"{rounds} rounds, {kills} killed mid-scan (scan takes {span:.2f} s)")
    # One complete scan over everything left: it acknowledges any torn record.
    rc, out, err = on_key(exe, ["scan", "--jobs", "2"] + [f"{d}/dev{r + 1}" for r in range(rounds)])
    expect(rc in (0, 3), f"final scan exit {rc}", out + err)
    rc, out, err = on_key(exe, ["journal", "verify"])
    expect(rc == 0, f"journal after the final scan: exit {rc}", out + err)
    # No file lost: each planted file is on the device or restorable byte for byte.
    rc, out, err = on_key(exe, ["quarantine", "list"])
    expect(rc == 0, "quarantine list has problems", out + err)
    items = {}
    for f in glob.glob(f"{d}/key/quarantine/*.json"):
        rec = json.load(open(f))
        items.setdefault(rec["original_path"], []).append(rec["id"])
    for path, data in expected.items():
        if os.path.exists(path):
            expect(open(path, "rb").read() == data, f"{path} changed on the device")
            continue
        expect(path in items, f"{path} lost: neither on the device nor in quarantine")
        qid = items[path][0]
        rc, out, err = on_key(exe, ["quarantine", "restore", qid, "--to", f"{d}/restored"])
        expect(rc == 0, f"restore {qid}", out + err)
        expect(open(f"{d}/restored", "rb").read() == data, f"{path}: quarantined copy differs")
        os.unlink(f"{d}/restored")
    leftovers = [f for f in os.listdir(f"{d}/key/quarantine") if not f.endswith((".bin", ".json"))]
    expect(not leftovers, f"unfinished quarantine files left: {leftovers}")
    sig_after = {p: sha256(p) for p in glob.glob(f"{d}/key/signatures/**/*", recursive=True) if os.path.isfile(p)}
    expect(sig_before == sig_after, "the signature store changed")
    rc, out, err = on_key(exe, ["key", "status"])
    expect(rc == 0, "key status", out + err)


@case
def key_auto_targets_without_proc(d):
    """No PATH, policy targets "auto", no /proc (a chroot): the whole tree from /, never the key."""
    if os.geteuid() != 0 or not shutil.which("chroot"):
        raise Skip("needs root and chroot")
    if b"not a dynamic executable" not in subprocess.run(["ldd", st.AVKEY], stdout=subprocess.PIPE,
                                                         stderr=subprocess.STDOUT).stdout:
        raise Skip("the scanner is not static: it cannot run in a bare chroot")
    make_key(d, QUARANTINE_POLICY)
    root = f"{d}/device"
    write(f"{root}/opt/app/eicar.com", EICAR)
    write(f"{root}/etc/machine-id", b"3" * 32 + b"\n")
    os.makedirs(f"{root}/media")
    shutil.move(f"{d}/key", f"{root}/media/key")
    # A threat inside the key itself must be left alone (the key is never scanned).
    write(f"{root}/media/key/notes/eicar.com", EICAR)
    p = subprocess.run(["chroot", root, "/media/key/bin/linux-x86_64/avkey", "scan"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    out = p.stdout.decode(errors="backslashreplace") + p.stderr.decode(errors="backslashreplace")
    expect_verdict(p.returncode, out, "GREEN", 3)
    expect("scanning / instead" in out, "no warning about the missing mount table", out)
    expect(not os.path.exists(f"{root}/opt/app/eicar.com"), "threat on the device not quarantined", out)
    expect(os.path.exists(f"{root}/media/key/notes/eicar.com"), "a file on the key was scanned and acted on", out)
    shutil.move(f"{root}/media/key", f"{d}/key")
    start = journal(d)[0]["payload"]
    expect(start["targets"] == ["/"], f"journaled targets {start['targets']}")


@case
def key_really_full(d):
    # The kernel's own ENOSPC, not the Env seam: the key is a tmpfs with 2.5 MiB free and
    # the device holds four 1 MiB threats. What fits is quarantined; the rest stays in place,
    # named (RED: threats remain, and why); the journal verifies. With room again, the next
    # scan quarantines the rest and the journal verifies clean.
    import ctypes
    if os.geteuid() != 0 or not shutil.which("mount"):
        raise Skip("needs root and mount")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS: mounts vanish with this process
        raise Skip("unshare(CLONE_NEWNS) failed: %s" % os.strerror(ctypes.get_errno()))
    if subprocess.run(["mount", "--make-rprivate", "/"]).returncode != 0:
        raise Skip("cannot make the mount namespace private")
    make_key(d, QUARANTINE_POLICY)
    used = int(subprocess.run(["du", "-sk", f"{d}/key"], capture_output=True, text=True).stdout.split()[0])
    os.makedirs(f"{d}/mnt")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={used + 2560}k", "avkey-full-key", f"{d}/mnt"]).returncode:
        raise Skip("cannot mount a tmpfs")
    subprocess.run(["cp", "-a", f"{d}/key", f"{d}/mnt/key"], check=True)
    planted = {}
    for i in range(4):
        data = EICAR + bytes([i]) * (1 << 20)
        write(f"{d}/device/t{i}.com", data)
        planted[f"{d}/device/t{i}.com"] = hashlib.sha256(data).hexdigest()
    exe = st.AVKEY
    try:
        key_really_full_on(d, exe, used, planted)
    finally:
        subprocess.run(["umount", "-l", f"{d}/mnt"])


def key_really_full_on(d, exe, used, planted):
    rc, out, err = on_key(exe, ["scan", "--key", f"{d}/mnt/key", f"{d}/device"])
    expect_verdict(rc, out, "RED", 1)
    expect(re.search(r"avkey: quarantine not done for .*: .*No space left on device", err),
           "the operator is not told the key is full", out + err)
    kept = len(glob.glob(f"{d}/mnt/key/quarantine/*.json"))
    expect(1 <= kept < 4, f"{kept} of 4 quarantined on a key with room for two", out + err)

    def check(when, all_gone):
        v = on_key(exe, ["journal", "verify", "--key", f"{d}/mnt/key"])
        expect(v[0] in (0, 2), f"{when}: journal verify exit {v[0]}", v[1] + v[2])
        q = {}
        for rec in glob.glob(f"{d}/mnt/key/quarantine/*.json"):
            with open(rec) as f:
                r = json.load(f)
            q[r["sha256"]] = rec
            expect(os.path.getsize(rec[:-5] + ".bin") == r["size"] + 8, f"{when}: copy of {rec} is short")
        for path, sha in planted.items():
            if os.path.exists(path):
                expect(not all_gone, f"{when}: {path} still on the device")
                expect(sha256(path) == sha, f"{when}: {path} changed in place")
            else:
                expect(sha in q, f"{when}: {path} gone and not in the quarantine")
        return v[0]

    check("full key", all_gone=False)
    subprocess.run(["mount", "-o", f"remount,size={used + 16384}k", f"{d}/mnt"], check=True)
    rc, out, err = on_key(exe, ["scan", "--key", f"{d}/mnt/key", f"{d}/device"])
    expect_verdict(rc, out, "GREEN", 3)
    expect(check("after making room", all_gone=True) == 0, "the journal does not verify clean")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avkey")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("case", nargs="?")
    a = ap.parse_args()
    if a.list:
        print("\n".join(CASES))
        return 0
    if not a.avkey or a.case not in CASES:
        ap.error("need --avkey and a known CASE")
    st.AVKEY = os.path.abspath(a.avkey)
    return st.run_case(CASES[a.case], a.case, on_disk=True)


if __name__ == "__main__":
    sys.exit(main())
