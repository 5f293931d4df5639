#!/usr/bin/env python3
"""Records what clamscan 1.4.6 writes for HTML pages holding Microsoft Script Encoder blocks.

    make_screnc_cases.py html > screnc_cases.txt   (blocks for tests/data/html/cases.txt)
    make_screnc_cases.py js > screnc_js.txt        (blocks for tests/data/html/js_cases.txt)

The se* cases at the end of cases.txt and js_cases.txt come from here. Each input is scanned
with `clamscan --leave-temps --tempdir T --normalize=yes -d S` (S: one signature that
matches nothing) and the buffers clamscan left in its html-tmp folder (nocomment.html,
notags.html, javascript) are recorded; the formats are those of make_cases.py and
make_js_cases.py. The recordings are of clamscan only; nothing here comes from avkey.

The inputs are made with the encoder below (the inverse of the decoder's fixed tables), so
the encoded bytes, checksums and lengths are real Script Encoder output unless a case
spoils them on purpose.
"""
import base64
import glob
import os
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_cases import escape  # noqa: E402  (the cases.txt byte escaping, one copy)

# For each of the three tables, the byte that encoded bytes 0x20..0x7f decode to (0xff for
# '@', the escape), and what a tab decodes to; bytes below 0x20 other than tab decode to
# themselves. ORDER picks the table for each position of the decoded text, modulo 64.
TABLES = [
    ("2e477a56426a2f26494134325b7672433839704568714f09624423753c7e3e5eff774a615d224b6f4e3b4c50672a7d7454"
     "2b2d2c306e6b66352521644d52633f7b7829287359337f6d55537c3a5f65465831696c5a48275c3d24793760512036", 0x57),
    ("323021295b38333d583a3565395c5673664e456b6259785e7d4a6d713c603e53ff422748727531374d5222546a47642d20"
     "7f2e4c5d7e6c6f797443267625242b28234134092a443f773b55696163506751494f46687c36706e7a2f5f4b5a2c57", 0x7b),
    ("2d755260715e495c627d2936207c7a7f6b63332b68516676316454433c3a3e7eff452c2a7427374479592f6f26726a397b"
     "3f387767534734785d30235a5b6c485570692e4c21244e5009567335614b583b57226d4d2528464a32413d5f4f4265", 0x6e),
]
ORDER = "0210212112120121012100211201211200121210100210120121002110021012"
ESCAPES = {ord("<"): b"@!", ord("\r"): b"@#", ord("@"): b"@$", ord("\n"): b"@&", ord(">"): b"@*"}


def _inverse():
    inv = []
    for hexs, tab in TABLES:
        dec = {0x20 + i: b for i, b in enumerate(bytes.fromhex(hexs))}
        dec[0x09] = tab
        inv.append({v: k for k, v in dec.items() if v != 0xFF})
    return inv


INV = _inverse()


def b64len(n):
    return base64.b64encode(struct.pack("<I", n & 0xFFFFFFFF))


def encode_body(plain):
    """The encoded bytes of ASCII `plain` and the checksum of the decoded bytes."""
    out, pos, total = bytearray(), 0, 0
    for c in plain:
        total += c
        if c in ESCAPES:
            out += ESCAPES[c]
        else:
            out.append(INV[int(ORDER[pos % 64])][c])
        pos += 1
    return bytes(out), total


def encode(plain, length=None, checksum=None, terminator=b"^#~@"):
    """A whole block: "#@~^", length field, encoded bytes, checksum field, terminator."""
    body, total = encode_body(plain)
    return (b"#@~^" + b64len(len(body) if length is None else length) + body +
            b64len(total if checksum is None else checksum) + terminator)


H = b"<html><body>\n"
T = b"\n</body></html>\n"
JS = b'<script language="JScript.Encode">'
VB = b'<script language="VBScript.Encode">'
P1 = b'var Evil = "Decoded Payload"; window.status = Evil;'
P2 = b'if (a < b && c > d) { x = "m@il"; }\r\nalert(x);\n'
LONG = b"".join(b'var v%d = "value number %d"; ' % (i, i) for i in range(420))


def space_at(prefix, offset, total):
    """A block after `prefix` whose encoded byte at file `offset` is a space (the decoded
    byte there is what a space decodes to), `total` decoded bytes of 'x' otherwise."""
    start = len(prefix) + 12
    j = offset - start
    plain = bytearray(b"x" * total)
    hexs = TABLES[int(ORDER[j % 64])][0]
    plain[j] = bytes.fromhex(hexs)[0]  # the entry for 0x20
    return prefix + encode(bytes(plain))


def page(block, lang=JS, pre=b"", post=b"</script>"):
    return H + lang + pre + block + post + T


body1, sum1 = encode_body(P1)

CASES = [
    # Before decoding (re-recorded): no block, or too few bytes after the marker.
    ("se01_jscript_encode_tag", b'<html><script language="JScript.Encode" x=1>Abc Def</script>T'),
    ("se02_vbscript_encode_tag", b"<html><SCRIPT LANGUAGE='VBScript.Encode'>Abc Def</SCRIPT>T"),
    ("se03_asp_encode", b'<%@ LANGUAGE = "JScript.Encode" %>\n<html>Abc #@~^ Def'),
    # Decoding.
    ("se04_jscript_block", page(encode(P1))),
    ("se05_vbscript_block", page(encode(b'MsgBox "Hello Decoded"'), lang=VB)),
    ("se06_text_before_marker", page(encode(P1), pre=b"Abc ")),
    ("se07_escapes", page(encode(P2))),
    ("se08_wrong_checksum", page(encode(P1, checksum=12345))),
    ("se09_no_terminator", page(encode(P1, terminator=b"XXXX"))),
    ("se10_short_tail", H + JS + encode(P1)[:-10]),
    ("se11_length_too_large", page(encode(P1, length=100000))),
    ("se12_truncated_block", H + JS + encode(P1)[:40]),
    ("se13_zero_length", page(encode(b"", length=0) + b"<b>after</b>XYZ")),
    ("se14_bad_length_field", page(b"#@~^~~~~~~~~" + body1 + b64len(sum1) + b"^#~@")),
    ("se15_lf_cr_in_body", page(b"#@~^" + b64len(len(body1)) + body1[:10] + b"\r\n" + body1[10:20] + b"\n" +
                                body1[20:] + b64len(sum1) + b"^#~@")),
    ("se16_at_unknown_and_8bit", page(b"#@~^" + b64len(12) + b"@x\xe9\xe8" + body1[2:10] + b64len(0) + b"^#~@")),
    ("se17_escape_wraps_length", page(b"#@~^" + b64len(11) + body1[:10] + b"@!" + b64len(0) + b"^#~@")),
    ("se18_lf_in_length_field", page(b"#@~^" + b64len(len(body1))[:3] + b"\n" + b64len(len(body1))[4:] +
                                     body1 + b64len(sum1) + b"^#~@")),
    ("se19_lf_after_length", page(b"#@~^" + b64len(len(body1)) + b"\n" + body1 + b64len(sum1) + b"^#~@")),
    ("se20_two_scripts", page(encode(P1)) + JS + encode(b"second()") + b"</script>" + T),
    ("se21_second_block_same_script", page(encode(P1) + b" " + encode(b"second()"))),
    ("se22_marker_outside_script", H + b"<p>Text " + encode(P1) + b"</p>" + T),
    # Chunks (8191 bytes): a block across the boundary, a length field cut by it, a marker
    # in the next chunk, and the encoded-ASP probe.
    ("se23_block_across_chunks", page(encode(LONG))),
    ("se24_block_across_chunks_pad", page(encode(LONG[:9000]), pre=b" " * 3000)),
    ("se25_length_cut_by_chunk", H + JS + b"a" * (8191 - len(H) - len(JS) - 8) + b" " + encode(P1) + b"</script>" + T),
    ("se26_block_ends_at_chunk_end", H + JS + b" " * (8191 - len(H) - len(JS) - len(encode(P1)) + 12) +
     encode(P1) + b"</script>" + T),
    ("se27_asp_block", b'<%@ LANGUAGE = "JScript.Encode" %>\n<html><%' + encode(P1) + b"%>\n<p>After Block</p>\n"),
    ("se28_asp_block_next_chunk", b'<%@ LANGUAGE = "VBScript.Encode" %>\n<html>' + b"pad " * 2100 + b"<%" +
     encode(P1) + b"%>\n<p>After Block</p>\n"),
    ("se29_asp_block_across_chunks", b'<%@ LANGUAGE = "JScript.Encode" %>\n<html><%' + encode(LONG) + b"%>\n<p>End</p>\n"),
    ("se30_asp_open_script", b'<%@ LANGUAGE = "JScript.Encode" %>\n<html><script>var a = 1;\n' + encode(P1) +
     b"\nb = 2;</script>\n"),
    ("se31_upper_marker_case", page(encode(P1.upper()))),
    ("se32_at_ends_input", H + JS + b"#@~^" + b64len(100) + body1[:20] + b"@"),
    ("se33_8bit_ends_input", H + JS + b"#@~^" + b64len(100) + body1[:20] + b"\xe9"),
    ("se34_encoded_space_starts_chunk", space_at(H + JS, 8191, 9000) + b"</script>" + T),
    ("se35_asp_open_script_lf_in_length", b'<%@ LANGUAGE = "JScript.Encode" %>\n<html><script>var a = "s\n";\n' +
     b"#@~^" + b64len(len(body1))[:2] + b"\n" + b64len(len(body1))[3:] + body1 + b64len(sum1) + b"^#~@" +
     b'\nb = "t\nu";</script>\n'),
    ("se36_asp_and_script_block_same_chunk", b'<%@ LANGUAGE = "JScript.Encode" %>\n<html><%' + encode(b"x = 1;") +
     b"%>" + JS + b"#@~^" + b64len(len(body1))[:4] + b"\n" + b64len(len(body1))[5:] + body1 + b64len(sum1) +
     b'^#~@ c = "d";</script>\n'),
    # Files that start with "#@~^" (CL_TYPE_SCRENC): the buffers recorded are those of the
    # decoded file clamscan writes and scans ("<script>" + decoded + "</script>").
    ("sf01_file_block", encode(P1) + b"\nTAILTEXT here\n"),
    ("sf02_file_across_chunks", encode(LONG) + b"\n<p>Tail</p>\n"),
    ("sf03_file_lf_in_block", b"#@~^" + b64len(len(body1)) + body1[:10] + b"\r\n" + body1[10:] + b64len(sum1) +
     b"^#~@ after"),
    ("sf04_file_zero_length", encode(b"", length=0) + b"<b>x</b> more text"),
    ("sf05_file_encoded_space_starts_chunk", space_at(b"", 8191, 9000) + b"\nTail\n"),
    ("sf06_file_length_too_large", encode(P1, length=100000) + b"\nrest of file\n"),
]


def record(data, work):
    src = os.path.join(work, "in.html")
    with open(src, "wb") as f:
        f.write(data)
    tmp = tempfile.mkdtemp(dir=work)
    subprocess.run(["clamscan", "--leave-temps", "--tempdir", tmp, "--normalize=yes", "-d",
                    os.path.join(work, "none.ndb"), src], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    got = {}
    for name in ("nocomment.html", "notags.html", "javascript"):
        found = glob.glob(os.path.join(tmp, "**", "html-tmp*", name), recursive=True)
        if len(found) > 1:
            sys.exit("more than one %s for one input" % name)
        if found:
            got[name] = open(found[0], "rb").read()
    return got


def main(which):
    import hashlib
    with tempfile.TemporaryDirectory() as work:
        with open(os.path.join(work, "none.ndb"), "w") as f:
            f.write("Avkey.Se.Nothing:0:*:00112233445566778899aabbccddeeff\n")
        for name, data in CASES:
            got = record(data, work)
            print("case %s" % name)
            print("in %s" % escape(data))
            if which == "html":
                for key in ("nocomment", "notags"):
                    buf = got[key + ".html"]
                    print("%s %d %s" % (key, len(buf), hashlib.md5(buf).hexdigest()))
            else:
                js = got.get("javascript")
                print("js %s" % ("none" if js is None else escape(js)))
            print()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("html", "js"):
        sys.exit(__doc__)
    main(sys.argv[1])
