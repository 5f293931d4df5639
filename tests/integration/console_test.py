#!/usr/bin/env python3
"""End-to-end test of avkey-console with the real scanner on two simulated devices.

Usage: console_test.py --console PATH --avkey PATH --artefacts DIR CASE   (0 pass, 1 fail, 77 skip)
       console_test.py --list

A simulated device is a directory tree with its own /etc/machine-id (so its own device id);
the key is moved into it (as if plugged in) and the on-key scanner runs chrooted there, so it
sees only that device. Needs root (chroot) and a static avkey.
"""
import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scan_test as st  # noqa: E402
from scan_test import EICAR, Skip, expect, write  # noqa: E402

CASES = {}
ARGS = None
MARKER = b"avkey-console-test-" + b"marker-19c2"


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def console(d, *args, check=True):
    p = subprocess.run([ARGS.console, "--home", f"{d}/home", *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    out, err = p.stdout.decode(errors="backslashreplace"), p.stderr.decode(errors="backslashreplace")
    if check:
        expect(p.returncode == 0, f"avkey-console {' '.join(args)}: exit {p.returncode}", out + err)
    return p.returncode, out, err


def device_id(machine_id):
    return "D-" + hashlib.sha256(b"avkey-device:" + machine_id.encode()).hexdigest()[:24]


def scan_device(d, root, machine_id, files):
    """Plugs the key into the device `root`, scans /data there, unplugs it; returns the exit status."""
    write(f"{root}/etc/machine-id", (machine_id + "\n").encode())
    write(f"{root}/etc/os-release", b'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Simulated device"\n')
    for name, data, mode in files:
        write(f"{root}/data/{name}", data)
        os.chmod(f"{root}/data/{name}", mode)
    os.makedirs(f"{root}/media", exist_ok=True)
    shutil.move(f"{d}/key", f"{root}/media/key")
    try:
        p = subprocess.run(["chroot", root, "/media/key/bin/linux-x86_64/avkey", "scan", "--jobs", "2", "/data"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=120)
    finally:
        shutil.move(f"{root}/media/key", f"{d}/key")
    return p.returncode, p.stdout.decode(errors="backslashreplace") + p.stderr.decode(errors="backslashreplace")


@case
def console_end_to_end(d):
    if os.geteuid() != 0 or not shutil.which("chroot"):
        raise Skip("needs root and chroot")
    if b"not a dynamic executable" not in subprocess.run(["ldd", ARGS.avkey], stdout=subprocess.PIPE,
                                                         stderr=subprocess.STDOUT).stdout:
        raise Skip("the scanner is not static (AVKEY_STATIC=OFF): it cannot run in a bare chroot")
    rc, out, _ = console(d, "init", "--name", "biomed-desk", "--scanner", ARGS.avkey)
    write(f"{d}/sigs/test.ndb", b"Console.Test.Marker:0:*:" + MARKER.hex().encode() + b"\n")
    rc, out, _ = console(d, "signatures", "add", f"{d}/sigs")
    expect("generation 1:" in out, "signatures add", out)
    write(f"{d}/policy.toml", b'[action]\non_detection = "quarantine"\n[operator]\nasset_tag = "never"\n'
                              b'[inventory]\nfile_hashes = true\n')
    console(d, "policy", "set", f"{d}/policy.toml")
    rc, out, _ = console(d, "key", "prepare", f"{d}/key", "--site", "ward-3")
    key_id = out.split()[1]

    # Device 1: two threats (the marker and EICAR), quarantined: GREEN. Device 2: clean but
    # holds an executable that a later indicator will name: BLUE.
    m1, m2 = "1" * 32, "2" * 32
    tool = b"\x7fELF" + b"\x02\x01\x01" + b"\x00" * 9 + os.urandom(256)
    rc1, out1 = scan_device(d, f"{d}/dev1", m1, [("a.com", EICAR, 0o644), ("b.bin", MARKER + b"\x00" * 64, 0o755),
                                                   ("notes.txt", b"clean", 0o644)])
    expect(rc1 == 3, f"device 1: exit {rc1}, expected 3 (GREEN)", out1)
    rc2, out2 = scan_device(d, f"{d}/dev2", m2, [("tool", tool, 0o755), ("notes.txt", b"clean", 0o644)])
    expect(rc2 == 0, f"device 2: exit {rc2}, expected 0 (BLUE)", out2)
    expect(not os.path.exists(f"{d}/dev1/data/a.com"), "device 1: threat left in place")
    # The generation ships the console's compiled patterns: the devices did not compile.
    with open(f"{d}/key/journal/journal.jsonl") as f:
        started = [json.loads(x)["payload"] for x in f if '"type":"scan_started"' in x]
    expect(all(p["signatures"]["compiled"] == "hit" for p in started), f"compiled patterns not used: {started}")

    rc, out, _ = console(d, "key", "sync", f"{d}/key")
    expect("2 scans" in out and "2 devices" in out and "2 inventories" in out, "first sync", out)
    rc, out, _ = console(d, "key", "sync", f"{d}/key")
    expect("0 new records" in out and "0 inventories, 0 quarantine records" in out, "second sync imported again", out)

    d1, d2 = device_id(m1), device_id(m2)
    rc, out, _ = console(d, "devices")
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    expect(d1 in rows and "GREEN" in rows[d1] and "ward-3" in rows[d1], f"devices: {d1}", out)
    expect(d2 in rows and "BLUE" in rows[d2], f"devices: {d2}", out)
    rc, out, _ = console(d, "detections", "--since", "2020-01-01")
    expect(out.count(d1) == 2 and d2 not in out and "Console.Test.Marker" in out, "detections", out)
    rc, out, _ = console(d, "device", d1)
    expect("GREEN" in out and "/data/a.com" in out, "device history", out)

    # Re-check the devices' stored inventories against a new indicator without revisiting them.
    write(f"{d}/new.hsb", hashlib.sha256(tool).hexdigest().encode() + f":{len(tool)}:New.Indicator\n".encode())
    rc, out, _ = console(d, "hunt", "--db", f"{d}/new.hsb", check=False)
    expect(rc == 1 and d2 in out and "/data/tool" in out and d1 not in out, f"hunt ({rc})", out)

    # Reports: CSV for spreadsheets, HTML rendered by Chromium to a PNG artefact.
    rc, out, _ = console(d, "report", "--format", "csv")
    lines = out.splitlines()
    expect(lines[0].startswith("site,device_id,hostname") and len(lines) == 1 + 2 + 1, "csv rows", out)
    html = f"{d}/report.html"
    console(d, "report", "--format", "html", "-o", html)
    os.makedirs(ARGS.artefacts, exist_ok=True)
    shutil.copy(html, f"{ARGS.artefacts}/report.html")
    render = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                          "report_render_test.py"),
                             "--html", html, "--png", f"{ARGS.artefacts}/report.png",
                             "--expect-device", f"{d1}=green", "--expect-device", f"{d2}=blue"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=200)
    expect(render.returncode == 0, f"Chromium rendering: exit {render.returncode}", render.stdout.decode())

    # A tampered journal is flagged and not imported; a rolled-back one too.
    jpath = f"{d}/key/journal/journal.jsonl"
    original = open(jpath, "rb").read()
    lines = original.splitlines(keepends=True)
    lines[1] = lines[1].replace(b"/data/", b"/DATA/")
    open(jpath, "wb").write(b"".join(lines))
    rc, out, _ = console(d, "key", "sync", f"{d}/key", check=False)
    expect(rc == 1 and "JOURNAL REFUSED" in out and "bad-mac" in out, f"tampered journal ({rc})", out)
    rc, out, _ = console(d, "keys")
    expect("bad-mac" in out, "flag not recorded", out)
    open(jpath, "wb").write(b"".join(original.splitlines(keepends=True)[:4]))
    rc, out, _ = console(d, "key", "sync", f"{d}/key", check=False)
    expect(rc == 1 and "rolled back" in out, f"rolled-back journal ({rc})", out)
    open(jpath, "wb").write(original)
    rc, out, _ = console(d, "key", "sync", f"{d}/key")
    expect("0 new records" in out, "restored journal", out)
    print(f"key {key_id}: devices {d1} GREEN, {d2} BLUE; artefacts in {ARGS.artefacts}")


@case
def console_damaged_caches_are_refused_and_compiled(d):
    """Cache files changed on the key after signing are refused by the engine, not loaded."""
    console(d, "init", "--scanner", ARGS.avkey)
    write(f"{d}/s.ndb", b"T.Cache:0:*:" + MARKER.hex().encode() + b"\n")
    console(d, "signatures", "add", f"{d}/s.ndb")
    console(d, "key", "prepare", f"{d}/key")
    exe = f"{d}/key/bin/linux-x86_64/avkey"
    write(f"{d}/dev/a.bin", MARKER)
    gen = glob.glob(f"{d}/key/signatures/gen-*")[0]
    caches = sorted(glob.glob(f"{gen}/*.avkc"))
    expect(any(c.endswith("-parsed.avkc") for c in caches), f"no parsed cache shipped: {caches}")

    def scan():
        p = subprocess.run([exe, "scan", f"{d}/dev"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        with open(f"{d}/key/journal/journal.jsonl") as f:
            started = [json.loads(x)["payload"] for x in f if '"type":"scan_started"' in x]
        return p.returncode, p.stdout.decode() + p.stderr.decode(), started[-1]["signatures"]["compiled"]

    rc, out, compiled = scan()
    expect(rc == 1 and "T.Cache" in out and compiled == "hit", f"as signed: exit {rc}, compiled {compiled}", out)
    # Same size, one byte changed in each (a device writing to the key): the generation is
    # still the newest, its signatures are still used, the caches are not.
    for c in caches:
        with open(c, "r+b") as f:
            f.seek(100)
            b = f.read(1)
            f.seek(100)
            f.write(bytes([b[0] ^ 0xFF]))
    rc, out, compiled = scan()
    expect(rc == 1 and "T.Cache" in out, f"damaged caches: exit {rc}", out)
    expect("does not match the signed manifest" in compiled, f"damaged caches used: compiled {compiled}", out)


@case
def console_pushes_updates(d):
    """A newer generation, a changed policy and a tampered scanner are fixed by sync."""
    console(d, "init", "--scanner", ARGS.avkey)
    write(f"{d}/s1.ndb", b"T.One:0:*:" + MARKER.hex().encode() + b"\n")
    console(d, "signatures", "add", f"{d}/s1.ndb")
    console(d, "key", "prepare", f"{d}/key")
    write(f"{d}/s2.ndb", b"T.Two:0:*:" + MARKER.hex().encode() + b"\n")
    console(d, "signatures", "add", f"{d}/s2.ndb")
    write(f"{d}/p.toml", b'[signatures]\nmax_age_days = 5\n')
    console(d, "policy", "set", f"{d}/p.toml")
    with open(f"{d}/key/bin/linux-x86_64/avkey", "ab") as f:
        f.write(b"tampered")
    # An inventory no journaled scan names (planted by a device) is not imported.
    import gzip
    write(f"{d}/key/inventory/D-000000000000000000000042/S-0000000000000042.json.gz",
          gzip.compress(b'{"files":[{"path":"/x","sha256":"00"}]}'))
    rc, out, _ = console(d, "key", "sync", f"{d}/key")
    expect("signatures gen-2" in out and "policy updated" in out and "REPLACED" in out, "push", out)
    expect("no scan of this key's journal names it" in out and "0 inventories" in out, "planted inventory", out)
    expect(open(f"{d}/key/signatures/current").read().strip() == "gen-2", "current not switched")
    rc, out, _ = console(d, "key", "sync", f"{d}/key")
    expect("already current" in out and "unchanged" in out and "matches" in out, "second sync pushed again", out)
    rc, out, _ = console(d, "signatures", "list")
    expect(len(out.splitlines()) == 3, "signatures list", out)
    # Bad input is refused with where and why.
    write(f"{d}/bad.toml", b'[action]\non_detection = "delete"\n')
    rc, out, err = console(d, "policy", "set", f"{d}/bad.toml", check=False)
    expect(rc == 1 and ":2:" in err and "on_detection" in err, "bad policy accepted", out + err)
    write(f"{d}/bad.ldb", b"Broken;Engine:81-255;Target:1;(0;0:4142\n")
    rc, out, err = console(d, "signatures", "add", f"{d}/bad.ldb", check=False)
    expect(rc == 1 or "skipped" in err, "a broken signature file was added silently", out + err)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--console")
    ap.add_argument("--avkey")
    ap.add_argument("--artefacts", default="artefacts")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("case", nargs="?")
    ARGS = ap.parse_args()
    if ARGS.list:
        print("\n".join(CASES))
        return 0
    if not ARGS.console or not ARGS.avkey or ARGS.case not in CASES:
        ap.error("need --console, --avkey and a known CASE")
    ARGS.console, ARGS.avkey = os.path.abspath(ARGS.console), os.path.abspath(ARGS.avkey)
    ARGS.artefacts = os.path.abspath(ARGS.artefacts)
    return st.run_case(CASES[ARGS.case], ARGS.case, on_disk=True)


if __name__ == "__main__":
    sys.exit(main())
