#!/usr/bin/env python3
""".ldb HandlerType: the avkey binary against default clamscan 1.4.6, file by file.

    handler_diff.py --avkey PATH --work DIR [--clamscan PATH] [--verbose]

A HandlerType signature makes libclamav re-scan the layer it matched as the type it names,
one level deeper (lsig_eval in matcher.c). It does so only when it has the layer's MD5,
which it computes for its clean-file cache: clamscan --disable-cache (the run_diff.py
families) never re-scans. So this test runs clamscan as a user does, cache on, with
--allmatch, one clamscan per file (the cache would otherwise skip content already found
clean in the same run), and compares the set of signature names each tool reports for the
file (clamscan prints container members under the file's name, and prints a signature once
per layer that finds it: the re-scan repeats the layer's detections).

Each case is (file, signature database, what it checks). Exit status: 0 every case agrees,
1 a case differs, 77 clamscan missing (ctest SKIP_RETURN_CODE).
"""
import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
import zlib

BINARY = b"\x7fAVKH\0\0\0\0AVKEY-HANDLER" + bytes(range(256)) * 2  # clamscan: CL_TYPE_BINARY_DATA
TEXT = b"plain text for the handler test\nline two of it\n" * 3    # CL_TYPE_TEXT_ASCII


def h(s):
    return s.encode("latin-1").hex()


def zip_of(members, stored=True):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as z:
        for n, data in members:
            z.writestr(zipfile.ZipInfo(n, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return b.getvalue()


def tar_of(members):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for n, data in members:
            info = tarfile.TarInfo(n)
            info.size = len(data)
            info.mtime = 1700000000
            t.addfile(info, io.BytesIO(data))
    return b.getvalue()


def ldb(name, handler, expr, subs, extra=""):
    tdb = "Engine:51-255,Target:0%s%s" % (extra, ",HandlerType:" + handler if handler else "")
    return ";".join([name, tdb, expr] + subs)


# Signatures shared by the cases.
H_PE = ldb("Hdl.ToPe", "CL_TYPE_MSEXE", "0", [h("HDLTOPE")])
H_ZIP = ldb("Hdl.ToZip", "CL_TYPE_ZIP", "0", [h("HDLTOZIP")])
H_HTML = ldb("Hdl.ToHtml", "CL_TYPE_HTML", "0", [h("HDLTOHTML")])
H_ANY = ldb("Hdl.ToAny", "CL_TYPE_ANY", "0", [h("HDLTOANY")])
H_ROOT = ldb("Hdl.RootOnly", "CL_TYPE_MSEXE", "0", [h("HDLROOT")], ",Container:CL_TYPE_ANY")
H_ROOT_LC = ldb("Hdl.RootOnlyLower", "CL_TYPE_MSEXE", "0", [h("hdlrootlc")], ",Container:CL_TYPE_ANY")
H_PE_LC = ldb("Hdl.ToPeLower", "CL_TYPE_MSEXE", "0", [h("hdltopelc")])
H_HTML_LC = ldb("Hdl.InHtml", "CL_TYPE_MSEXE", "0", [h("hdlinhtml")])
H_TEXT = ldb("Hdl.ToText", "CL_TYPE_TEXT_ASCII", "0", [h("HDLTOTEXT")])
H_ELF = ldb("Hdl.ToElf", "CL_TYPE_ELF", "0", [h("HDLTOELF")])
LOWER_BODY = "Hdl.LowerBody:0:*:%s" % h("mixedcasemark")
ELF_ONLY = "Hdl.ElfOnly:6:*:%s" % h("ELFONLYMARK")
H_SAME = ldb("Hdl.Same", "CL_TYPE_ZIP", "0", [h("HDLSAME")])
H_UNKNOWN = ldb("Hdl.Unknown", "CL_TYPE_BOGUS", "0", [h("HDLTOPE")])
PE_ONLY = "Hdl.PeOnly:1:*:%s" % h("PEONLYMARK")        # Target:1: only on what is typed a PE
HTML_ONLY = "Hdl.HtmlOnly:3:*:%s" % h("htmlonlymark")  # Target:3: the normalised HTML
BODY = "Hdl.Body:0:*:%s" % h("BODYMARK")
IN_PE = ldb("Hdl.InPe", None, "0", [h("BODYMARK")], ",Container:CL_TYPE_MSEXE")
IN_ZIPZIP = ldb("Hdl.InZipInZip", None, "0", [h("BODYMARK")], ",Intermediates:CL_TYPE_ZIP>CL_TYPE_ZIP")
IN_BIN = ldb("Hdl.InBin", None, "0", [h("BODYMARK")], ",Container:CL_TYPE_BINARY_DATA")


def pdf_with(stream_text):
    data = zlib.compress(stream_text)
    return (b"%PDF-1.4\n1 0 obj\n<< /Length " + str(len(data)).encode() + b" /Filter /FlateDecode >>\nstream\n" +
            data + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")


# The shape of a real one (Talos daily, PUA.Pdf.Exploit.CVE_2013_0624): an image or OLE2
# header with "%PDF-" within its first KiB is re-typed PDF so that the PDF parser runs.
H_PDF = ldb("Hdl.ToPdf", "CL_TYPE_PDF", "(0|1)", ["0:474946383961{-1024}255044462d", "0:d0cf11e0{-1024}255044462d"])
PDF_STREAM = "Hdl.PdfStream:0:*:%s" % h("PDFSTREAMMARK")
PDF_TARGET = "Hdl.PdfTarget:10:*:%s" % h("PDFTARGETMARK")


def cases():
    pe_payload = BINARY + b"HDLTOPE\x01PEONLYMARK\x01BODYMARK" + bytes(range(64))
    out = []

    def c(name, data, sigs, what):
        out.append((name, data, sigs, what))

    c("bin_to_pe", pe_payload, {"s.ldb": [H_PE], "s.ndb": [PE_ONLY, BODY]},
      "binary data re-scanned as a PE: the Target:1 signature fires in the re-scan only")
    c("bin_no_handler", pe_payload, {"s.ndb": [PE_ONLY, BODY]}, "the same bytes without the HandlerType signature")
    c("text_to_pe", TEXT + b"HDLTOPE PEONLYMARK BODYMARK\n", {"s.ldb": [H_PE], "s.ndb": [PE_ONLY, BODY]},
      "a text file re-scanned as a PE")
    c("bin_container_of_rescan", pe_payload, {"s.ldb": [H_PE, IN_PE, IN_BIN]},
      "in the re-scan the layer's container is the layer itself (CL_TYPE_BINARY_DATA)")
    c("bin_root_only", BINARY + b"HDLROOT" + bytes(64), {"s.ldb": [H_ROOT]},
      "Container:CL_TYPE_ANY fails in the re-scan; binary data is matched once more and reports it")
    c("text_root_only", TEXT + b"HDLROOT\n", {"s.ldb": [H_ROOT]},
      "Container:CL_TYPE_ANY fails in the re-scan and a text file has no second pass: nothing")
    c("text_root_only_lower", TEXT + b"hdlrootlc\n", {"s.ldb": [H_ROOT_LC]},
      "the same, but the pattern also matches the normalised text, a pass without the hash: reported")
    c("text_upper_lower_pattern", TEXT + b"HDLTOPELC PEONLYMARK\n", {"s.ldb": [H_PE_LC], "s.ndb": [PE_ONLY]},
      "the pattern matches only the normalised text: reported, no re-scan (no PeOnly)")
    c("text_lower_to_pe", TEXT + b"hdltopelc PEONLYMARK\n", {"s.ldb": [H_PE_LC], "s.ndb": [PE_ONLY]},
      "a text file whose pattern matches raw and normalised: re-scanned and reported")
    c("text_to_html", TEXT + b"HDLTOHTML <b>htmlonlymark</b>\n", {"s.ldb": [H_HTML], "s.ndb": [HTML_ONLY]},
      "text re-scanned as HTML: the Target:3 signature fires on the normalised HTML")
    c("text_no_handler_html", TEXT + b"HDLTOHTML <b>htmlonlymark</b>\n", {"s.ndb": [HTML_ONLY]},
      "the same text without the HandlerType signature")
    c("bin_to_any", BINARY + b"HDLTOANY" + b"PEONLYMARK" + bytes(64), {"s.ldb": [H_ANY], "s.ndb": [PE_ONLY]},
      "CL_TYPE_ANY: the re-scan types the bytes again")
    c("bin_two_handlers", pe_payload + b"HDLTOZIP", {"s.ldb": [H_PE, H_ZIP], "s.ndb": [PE_ONLY]},
      "two HandlerType signatures: the first re-scans, the second is reported on the same bytes")
    c("bin_unknown_type", pe_payload, {"s.ldb": [H_UNKNOWN], "s.ndb": [BODY]},
      "an unknown type: the signature is skipped (clamscan silently, avkey with a load problem)")
    c("zip_member_to_pe", zip_of([("m.bin", pe_payload)], stored=False), {"s.ldb": [H_PE], "s.ndb": [PE_ONLY]},
      "a member of a ZIP re-scanned as a PE")
    c("zip_identical_members", zip_of([("a.bin", pe_payload), ("b.bin", pe_payload)], stored=False),
      {"s.ldb": [H_PE], "s.ndb": [PE_ONLY]}, "the second identical member is not re-scanned but reported")
    c("zip_to_zip", zip_of([("m.bin", BINARY + b"BODYMARK" + bytes(32))]) + b"HDLSAME",
      {"s.ldb": [H_SAME, IN_ZIPZIP], "s.ndb": [BODY]},
      "a ZIP re-scanned as a ZIP: its members are scanned twice, the second time under ZIP>ZIP")
    c("tar_zip_member", tar_of([("z.zip", zip_of([("m.bin", pe_payload)], stored=False))]),
      {"s.ldb": [H_PE], "s.ndb": [PE_ONLY, BODY]}, "nested containers: tar > zip > member re-scanned")
    c("zip_in_rescan", BINARY + b"HDLTOZIP" + zip_of([("m.bin", BINARY + b"PEONLYMARK BODYMARK")], stored=False),
      {"s.ldb": [H_ZIP], "s.ndb": [BODY]}, "binary data holding a ZIP after a prefix, re-scanned as a ZIP")
    html = b"<html><body><p>some page text</p>\n%s</body></html>\n"
    c("html_lower_in_buffer", html % b"HdlInHtml PEONLYMARK", {"s.ldb": [H_HTML_LC], "s.ndb": [PE_ONLY]},
      "HTML: a HandlerType signature matching the normalised buffer is reported, nothing re-scanned")
    c("html_upper_nowhere", html % b"HDLTOPE PEONLYMARK", {"s.ldb": [H_PE], "s.ndb": [PE_ONLY]},
      "HTML: the raw bytes are not matched, the buffers are lower case: nothing")
    c("bin_to_text", BINARY + b"HDLTOTEXT MixedCaseMark" + bytes(16), {"s.ldb": [H_TEXT], "s.ndb": [LOWER_BODY]},
      "binary data re-scanned as text: its normalised form is matched")
    c("bin_to_elf", BINARY + b"HDLTOELF ELFONLYMARK" + bytes(16), {"s.ldb": [H_ELF], "s.ndb": [ELF_ONLY]},
      "binary data re-scanned as ELF: Target:6 fires")
    gif_pdf = b"GIF89a" + b"\x01\x00\x01\x00\x00\x00\x00" + bytes(32) + pdf_with(b"PDFSTREAMMARK") + b"PDFTARGETMARK"
    c("gif_to_pdf", gif_pdf, {"s.ldb": [H_PDF], "s.ndb": [PDF_STREAM, PDF_TARGET]},
      "a GIF holding a PDF re-typed PDF: Target:10 fires in the re-scan; the stream is decoded")
    # Not a HandlerType difference: avkey's PDF extractor takes a "%PDF-" anywhere in the
    # first KiB of any layer, where clamscan leaves a GIF a GIF. Shown, not failed.
    c("gif_no_handler", gif_pdf, {"s.ndb": [PDF_STREAM, PDF_TARGET]},
      "the same without the HandlerType signature [known difference: avkey unpacks the PDF in a GIF]")
    return out


def names(out):
    found = set()
    for line in out.splitlines():
        if line.endswith(" FOUND"):
            sig = line.rsplit(" ", 2)[-2]
            found.add(sig[:-len(".UNOFFICIAL")] if sig.endswith(".UNOFFICIAL") else sig)
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--avkey", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--clamscan", default=shutil.which("clamscan") or "clamscan")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    if not shutil.which(a.clamscan):
        print("handler_diff: clamscan not found: skipped")
        return 77
    if os.path.isdir(a.work):
        shutil.rmtree(a.work)
    differ = []
    for name, data, sigs, what in cases():
        d = os.path.join(a.work, name)
        os.makedirs(os.path.join(d, "db"))
        for fn, lines in sigs.items():
            with open(os.path.join(d, "db", fn), "w") as f:
                f.write("\n".join(lines) + "\n")
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        db = os.path.join(d, "db")
        cl = subprocess.run([a.clamscan, "--allmatch", "--no-summary", "-d", db, path], capture_output=True,
                            text=True, errors="surrogateescape", timeout=60)
        av = subprocess.run([a.avkey, "scan", "--db", db, path], capture_output=True, text=True,
                            errors="surrogateescape", timeout=60)
        theirs, ours = names(cl.stdout), names(av.stdout)
        ok = cl.returncode in (0, 1) and av.returncode in (0, 1) and theirs == ours
        known = "[known difference" in what
        print("%-24s %-6s clamscan %-40s avkey %s" % (name, "agree" if ok else "known" if known else "DIFFER",
                                                       ",".join(sorted(theirs)) or "-", ",".join(sorted(ours)) or "-"))
        if a.verbose or not ok:
            print("    %s\n    clamscan (exit %d):\n%s    avkey (exit %d):\n%s" % (
                what, cl.returncode, "".join("      " + l + "\n" for l in cl.stdout.splitlines()),
                av.returncode, "".join("      " + l + "\n" for l in (av.stdout + av.stderr).splitlines())))
        if not ok and not known:
            differ.append(name)
    print("agree" if not differ else "DIFFER: " + " ".join(differ))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
