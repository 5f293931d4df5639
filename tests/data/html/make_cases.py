#!/usr/bin/env python3
"""Writes tests/data/html/cases.txt from recorded clamscan 1.4.6 runs.

    make_cases.py RECORDINGS_DIR > tests/data/html/cases.txt

RECORDINGS_DIR holds one folder per case (suite/<case>/ and exp/<case>/): the input
(in.html or in.gif) and either expected/{nocomment,notags}.html or a result.txt whose
"[html-tmp.../nocomment.html] b'...'" lines are the buffers clamscan wrote with
--leave-temps. The recordings are of clamscan only; nothing here comes from avkey.

cases.txt, one block per case, blank-line separated:

    case NAME
    in ESCAPED-BYTES
    nocomment LENGTH MD5
    notags LENGTH MD5

ESCAPED-BYTES: printable ASCII stands for itself except '\\'; "\\\\" is a backslash,
"\\xHH" any byte, and "\\{N}" followed by one (possibly escaped) byte is that byte N times
(the chunk-boundary cases are 8 KB of 'a'). The buffers are given as length and MD5: the
test compares the digest and prints the bytes it produced when they differ.
"""
import ast
import glob
import hashlib
import os
import sys

# UTF-16 inputs go through the scanner's decoding first (html_scan_test.cpp), the 8 MiB
# limit cases are too large, the others have no buffers of their own.
SKIP = ("u0", "l07", "x02_ldb_prep", "e02_hash_probe")


def escape_byte(b):
    if b == 0x5C:
        return "\\\\"
    if 0x20 <= b < 0x7F:
        return chr(b)
    return "\\x%02x" % b


def escape(data):
    out, i = [], 0
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        if j - i >= 8:
            out.append("\\{%d}%s" % (j - i, escape_byte(data[i])))
        else:
            out.extend(escape_byte(b) for b in data[i:j])
        i = j
    return "".join(out)


def buffers(case_dir):
    got = {}
    res = os.path.join(case_dir, "result.txt")
    if os.path.exists(res):
        for line in open(res, encoding="latin1"):
            if line.startswith("[html-tmp") and "] b" in line:
                key, _, val = line.partition("] ")
                got[key.split("/")[-1]] = ast.literal_eval(val.strip())
    for name in ("nocomment.html", "notags.html"):
        p = os.path.join(case_dir, "expected", name)
        if os.path.exists(p):
            got[name] = open(p, "rb").read()
    return got


def main(root):
    seen = {}
    for d in sorted(glob.glob(os.path.join(root, "suite", "*", ""))) + sorted(glob.glob(os.path.join(root, "exp", "*", ""))):
        name = os.path.basename(d.rstrip("/"))
        ins = glob.glob(d + "in.*")
        if name.startswith(SKIP) or len(ins) != 1:
            continue
        got = buffers(d)
        if "nocomment.html" not in got or "notags.html" not in got:
            continue
        data = open(ins[0], "rb").read()
        if name in seen:
            if seen[name] == data:
                continue
            name += "_exp"
        seen[name] = data
        print("case %s" % name)
        print("in %s" % escape(data))
        for key in ("nocomment", "notags"):
            buf = got[key + ".html"]
            print("%s %d %s" % (key, len(buf), hashlib.md5(buf).hexdigest()))
        print()


if __name__ == "__main__":
    main(sys.argv[1])
