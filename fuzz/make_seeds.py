#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer targets into fuzz/seeds/<target>/.

    python3 fuzz/make_seeds.py [--out fuzz/seeds]

Python 3 standard library only, deterministic (fixed timestamps, no randomness), every
seed < 64 KiB. Seeds are small, well-formed (or deliberately half-broken) examples of each
input the target parses, so that the fuzzer starts past the magic numbers and checksums
it could not guess. The containers (7z, rar, rar5, cab, lha, xar, cpio, ar, iso9660, warc,
zstd, lz4, lzip, compress, uu, rpm) are written by hand here because the standard library
cannot write them; each is the smallest form libarchive reads (one stored member).

No malware test string is stored: the payloads are avkey's own markers
("AVKEY-FUZZ-INNER", matched by layers_fuzz's database; the self-test canary matched by a
builtin YARA rule). The old directory of each target is replaced, so seeds never go stale.
"""
import argparse
import binascii
import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import shutil
import struct
import tarfile
import zipfile
import zlib

MTIME = 1700000000  # fixed timestamps keep the output byte-identical run to run
INNER = b"AVKEY-FUZZ-INNER"
CANARY = b"AVKEY-SELF-TEST-CANARY-fuzz\n"
PAYLOAD = b"hello from a fuzz seed\n" + INNER + b"\n"
MAX_SEED = 64 * 1024


def H(s):
    return binascii.hexlify(s if isinstance(s, bytes) else s.encode()).decode()


# ---------------------------------------------------------------------------------------
# executables
# ---------------------------------------------------------------------------------------

def make_pe32(sections, ep_rva, file_align=0x200, sect_align=0x1000, pe64=False):
    """Minimal valid PE32/PE32+ (sections: [(name, raw bytes)]), as in
    tests/differential/gen.py. Returns (bytes, raw offsets, virtual addresses)."""
    n = len(sections)
    e_lfanew = 0x80
    opt_size = 0xF0 if pe64 else 0xE0
    hdr_size = e_lfanew + 4 + 20 + opt_size + 40 * n
    size_of_headers = (hdr_size + file_align - 1) // file_align * file_align
    raw_offsets, raw_sizes, vas = [], [], []
    off, va = size_of_headers, sect_align
    for _, data in sections:
        rs = (len(data) + file_align - 1) // file_align * file_align
        raw_offsets.append(off)
        raw_sizes.append(rs)
        vas.append(va)
        off += rs
        va += (max(rs, 1) + sect_align - 1) // sect_align * sect_align
    dos = bytearray(e_lfanew)
    dos[0:2] = b"MZ"
    struct.pack_into("<HH", dos, 2, 0x90, 3)
    struct.pack_into("<H", dos, 8, 4)
    struct.pack_into("<H", dos, 0x18, 0x40)
    struct.pack_into("<I", dos, 0x3C, e_lfanew)
    machine = 0x8664 if pe64 else 0x14C
    coff = struct.pack("<HHIIIHH", machine, n, 0, 0, 0, opt_size, 0x0102 if not pe64 else 0x0022)
    code0 = raw_sizes[0] if n else 0
    if pe64:
        opt = struct.pack("<HBBIIIII", 0x20B, 1, 0, code0, sum(raw_sizes[1:]), 0, ep_rva,
                          vas[0] if n else 0)
        opt += struct.pack("<QIIHHHHHHIIIIHHQQQQII", 0x140000000, sect_align, file_align,
                           6, 0, 0, 0, 6, 0, 0, va, size_of_headers, 0, 2, 0x8160,
                           0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    else:
        opt = struct.pack("<HBBIIIIIIIIIHHHHHHIIIIHHIIIIII", 0x10B, 1, 0, code0,
                          sum(raw_sizes[1:]), 0, ep_rva, vas[0] if n else 0,
                          vas[1] if n > 1 else 0, 0x400000, sect_align, file_align,
                          4, 0, 0, 0, 4, 0, 0, va, size_of_headers, 0, 2, 0,
                          0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    opt += b"\x00" * (opt_size - len(opt))
    sh = b""
    for i, (name, data) in enumerate(sections):
        chars = 0x60000020 if i == 0 else 0xC0000040
        sh += struct.pack("<8sIIIIIIHHI", name.encode()[:8], max(len(data), 1), vas[i],
                          raw_sizes[i], raw_offsets[i], 0, 0, 0, 0, chars)
    out = bytearray(bytes(dos) + b"PE\x00\x00" + coff + opt + sh)
    out += b"\x00" * (size_of_headers - len(out))
    for i, (_, data) in enumerate(sections):
        out += data + b"\x00" * (raw_sizes[i] - len(data))
    return bytes(out), raw_offsets, vas


def make_elf(payload, ep_off, bits=32, big_endian=False, with_sections=False):
    """Minimal ELF executable: one PT_LOAD over the whole file; optionally one section
    header table with a single PROGBITS section over the payload."""
    base = 0x08048000 if bits == 32 else 0x400000
    ehsize, phsize, shsize = (52, 32, 40) if bits == 32 else (64, 56, 64)
    e = ">" if big_endian else "<"
    hdr = ehsize + phsize
    shoff = hdr + len(payload) if with_sections else 0
    nsec = 2 if with_sections else 0
    total = hdr + len(payload) + nsec * shsize
    entry = base + hdr + ep_off
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, 2 if big_endian else 1, 1, 0]) + b"\x00" * 8
    if bits == 32:
        eh = ident + struct.pack(e + "HHIIIIIHHHHHH", 2, 3, 1, entry, ehsize, shoff, 0, ehsize,
                                 phsize, 1, shsize, nsec, 0)
        ph = struct.pack(e + "IIIIIIII", 1, 0, base, base, total, total, 5, 0x1000)
        sh = b"\x00" * shsize + struct.pack(e + "IIIIIIIIII", 0, 1, 6, base + hdr, hdr,
                                            len(payload), 0, 0, 16, 0)
    else:
        eh = ident + struct.pack(e + "HHIQQQIHHHHHH", 2, 0x3E, 1, entry, ehsize, shoff, 0, ehsize,
                                 phsize, 1, shsize, nsec, 0)
        ph = struct.pack(e + "IIQQQQQQ", 1, 5, 0, base, base, total, total, 0x1000)
        sh = b"\x00" * shsize + struct.pack(e + "IIQQQQIIQQ", 0, 1, 6, base + hdr, hdr,
                                            len(payload), 0, 0, 16, 0)
    return eh + ph + payload + (sh if with_sections else b"")


def make_macho64(payload):
    """Mach-O 64 (x86_64 executable) with one LC_SEGMENT_64 holding one section and an
    LC_MAIN entry point."""
    ncmds = 2
    seg = struct.pack("<II16sQQQQiiII", 0x19, 72 + 80, b"__TEXT", 0x100000000, 0x1000, 0,
                      0x1000, 7, 5, 1, 0)
    hdr_len = 32 + len(seg) + 80 + 24
    sect = struct.pack("<16s16sQQIIIIIIII", b"__text", b"__TEXT", 0x100000000 + hdr_len,
                       len(payload), hdr_len, 0, 0, 0, 0x80000400, 0, 0, 0)
    main = struct.pack("<IIQQ", 0x80000028, 24, hdr_len, 0)
    cmds = seg + sect + main
    hdr = struct.pack("<IiiIIIII", 0xFEEDFACF, 0x01000007, 3, 2, ncmds, len(cmds), 0, 0)
    return hdr + cmds + payload


def pe_sample(ep_in=0x10, place=(), nsec=3, pe64=False, fill=b"\x00"):
    secs = []
    for i in range(nsec):
        raw = bytearray(fill * 0x200)
        for (s, o, data) in place:
            if s == i:
                raw[o:o + len(data)] = data
        secs.append((".s%d" % i, bytes(raw)))
    _, _, vas = make_pe32(secs, 0, pe64=pe64)
    return make_pe32(secs, vas[0] + ep_in, pe64=pe64)[0]


# ---------------------------------------------------------------------------------------
# archives and compressed streams
# ---------------------------------------------------------------------------------------

def zip_bytes(members, compression=zipfile.ZIP_DEFLATED, comment=b""):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 2, 3, 4, 6))
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
        z.comment = comment
    return buf.getvalue()


def tar_bytes(members, fmt=tarfile.USTAR_FORMAT, compression="", extra=()):
    buf = io.BytesIO()
    mode = "w:" + compression if compression else "w"
    kwargs = {"format": fmt}
    if compression == "gz":
        # tarfile's gzip header carries the time: fix it
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", **kwargs) as t:
            _tar_add(t, members, extra)
        return gzip_bytes(raw.getvalue())
    with tarfile.open(fileobj=buf, mode=mode, **kwargs) as t:
        _tar_add(t, members, extra)
    return buf.getvalue()


def _tar_add(t, members, extra):
    for name, data in members:
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mtime = MTIME
        ti.mode = 0o644
        ti.uname = ti.gname = "fuzz"
        t.addfile(ti, io.BytesIO(data))
    for ti in extra:
        t.addfile(ti)


def gzip_bytes(data, name=None):
    buf = io.BytesIO()
    with gzip.GzipFile(filename=name or "", mode="wb", fileobj=buf, mtime=MTIME) as g:
        g.write(data)
    return buf.getvalue()


def compress_z(data):
    """compress(1) .Z with 9-bit literal codes only (valid while < 256 codes are emitted:
    the decoder's table grows but never widens the code size)."""
    assert len(data) < 250
    out = bytearray(b"\x1f\x9d\x90")  # block mode, 16 bits max
    acc = nbits = 0
    for b in data:
        acc |= b << nbits
        nbits += 9
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def uu_bytes(data, name="payload.txt"):
    lines = [b"begin 644 " + name.encode() + b"\n"]
    for i in range(0, len(data), 45):
        lines.append(binascii.b2a_uu(data[i:i + 45]))
    lines.append(b"`\nend\n")
    return b"".join(lines)


def zstd_raw(data):
    """zstd frame: single segment, 1-byte content size, one raw (stored) last block."""
    assert len(data) < 256
    return (b"\x28\xb5\x2f\xfd" + bytes([0x20, len(data)]) +
            struct.pack("<I", (len(data) << 3) | 1)[:3] + data)


def xxh32(data, seed=0):
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    m = 0xFFFFFFFF

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & m
    i, n = 0, len(data)
    if n >= 16:
        v = [(seed + p1 + p2) & m, (seed + p2) & m, seed, (seed - p1) & m]
        while i + 16 <= n:
            for k in range(4):
                lane = struct.unpack_from("<I", data, i + 4 * k)[0]
                v[k] = (rotl((v[k] + lane * p2) & m, 13) * p1) & m
            i += 16
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & m
    else:
        h = (seed + p5) & m
    h = (h + n) & m
    while i + 4 <= n:
        h = (rotl((h + struct.unpack_from("<I", data, i)[0] * p3) & m, 17) * p4) & m
        i += 4
    while i < n:
        h = (rotl((h + data[i] * p5) & m, 11) * p1) & m
        i += 1
    h ^= h >> 15
    h = (h * p2) & m
    h ^= h >> 13
    h = (h * p3) & m
    h ^= h >> 16
    return h


def lz4_frame(data):
    """LZ4 frame with one uncompressed block."""
    desc = bytes([0x60, 0x40])  # version 01, independent blocks; 64 KiB max block
    hc = (xxh32(desc) >> 8) & 0xFF
    return (b"\x04\x22\x4d\x18" + desc + bytes([hc]) + struct.pack("<I", len(data) | 0x80000000) +
            data + b"\x00\x00\x00\x00")


def lzip_bytes(data):
    raw = lzma.compress(data, format=lzma.FORMAT_RAW, filters=[
        {"id": lzma.FILTER_LZMA1, "dict_size": 1 << 16, "lc": 3, "lp": 0, "pb": 2}])
    member = b"LZIP\x01" + bytes([16]) + raw
    member += struct.pack("<IQQ", zlib.crc32(data), len(data), len(member) + 20)
    return member


def sz_number(n):
    """A 7z NUMBER: the first byte's high bits count the extra little-endian bytes."""
    first, mask = 0, 0x80
    for i in range(8):
        if n < 1 << (7 * (i + 1)):
            first |= (n >> (8 * i)) & 0xFF
            break
        first |= mask
        mask >>= 1
    else:
        i = 8
    return bytes([first]) + (n & ((1 << (8 * i)) - 1)).to_bytes(i, "little")


def sevenzip_bytes(name, data, lzma_coded=False):
    """7z with one file in one folder (Copy or LZMA coder)."""
    if lzma_coded:
        filt = {"id": lzma.FILTER_LZMA1, "dict_size": 1 << 16, "lc": 3, "lp": 0, "pb": 2}
        packed = lzma.compress(data, format=lzma.FORMAT_RAW, filters=[filt])
        props = lzma._encode_filter_properties(filt)
        coder = bytes([0x23, 0x03, 0x01, 0x01, len(props)]) + props  # id size 3, has props
    else:
        packed = data
        coder = b"\x01\x00"  # id size 1: Copy
    uname = name.encode("utf-16-le") + b"\x00\x00"
    hdr = bytearray(b"\x01")  # kHeader
    hdr += b"\x04"  # kMainStreamsInfo
    hdr += b"\x06\x00\x01\x09" + sz_number(len(packed)) + b"\x00"  # kPackInfo pos 0, 1 stream, sizes
    hdr += b"\x07\x0b\x01\x00\x01" + coder + b"\x0c" + sz_number(len(data))  # kUnPackInfo folder
    hdr += b"\x0a\x01" + struct.pack("<I", zlib.crc32(data)) + b"\x00"  # folder CRC; kEnd
    hdr += b"\x08\x00"  # kSubStreamsInfo kEnd
    hdr += b"\x00"  # end of streams info
    hdr += b"\x05\x01"  # kFilesInfo, 1 file
    hdr += b"\x11" + sz_number(len(uname) + 1) + b"\x00" + uname  # kName
    hdr += b"\x00\x00"  # end of files info, end of header
    hdr = bytes(hdr)
    start = struct.pack("<QQI", len(packed), len(hdr), zlib.crc32(hdr))
    return b"7z\xbc\xaf\x27\x1c\x00\x04" + struct.pack("<I", zlib.crc32(start)) + start + packed + hdr


def rar4_bytes(name, data):
    """RAR 1.5-4.x archive, one stored (method 0x30) file."""
    def block(htype, flags, body, add=b""):
        size = 7 + len(body)
        h = struct.pack("<BHH", htype, flags, size) + body
        crc = zlib.crc32(h) & 0xFFFF
        return struct.pack("<H", crc) + h + add
    marker = b"Rar!\x1a\x07\x00"
    main = block(0x73, 0, b"\x00" * 6)
    fname = name.encode()
    body = struct.pack("<IIBIIBBHI", len(data), len(data), 3, zlib.crc32(data), 0x5821_0000,
                       29, 0x30, len(fname), 0x20) + fname
    fh = block(0x74, 0x8000, body, data)
    end = block(0x7B, 0x4000, b"")
    return marker + main + fh + end


def vint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def rar5_bytes(name, data):
    """RAR 5 archive, one stored file."""
    def block(htype, flags, body, extra=b"", data_size=None):
        fields = vint(htype) + vint(flags)
        if flags & 1:
            fields += vint(len(extra))
        if flags & 2:
            fields += vint(data_size)
        fields += body + extra
        h = vint(len(fields)) + fields
        return struct.pack("<I", zlib.crc32(h)) + h
    sig = b"Rar!\x1a\x07\x01\x00"
    main = block(1, 0, vint(0))
    fname = name.encode()
    body = (vint(0x04) + vint(len(data)) + vint(0o644) + struct.pack("<I", zlib.crc32(data)) +
            vint(0) + vint(1) + vint(len(fname)) + fname)  # flags: crc present; method store; host unix
    fh = block(2, 2, body, data_size=len(data)) + data
    end = block(5, 0, vint(0))
    return sig + main + fh + end


def cab_bytes(name, data):
    """Microsoft Cabinet, one folder stored (no compression), one file."""
    fname = name.encode() + b"\x00"
    hdr_len, folder_len, file_len = 36, 8, 16 + len(fname)
    data_off = hdr_len + folder_len + file_len
    cfdata = struct.pack("<IHH", 0, len(data), len(data)) + data  # checksum 0: not checked
    total = data_off + len(cfdata)
    header = struct.pack("<4sIIIIIBBHHHHH", b"MSCF", 0, total, 0, hdr_len + folder_len, 0, 3, 1,
                         1, 1, 0, 0x1234, 0)
    folder = struct.pack("<IHH", data_off, 1, 0)
    cffile = struct.pack("<IIHHHH", len(data), 0, 0, 0x5821, 0x0000, 0x20) + fname
    return header + folder + cffile + cfdata


def crc16_arc(data):
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def lha_bytes(name, data, level=0):
    """LHA archive, one -lh0- (stored) member, header level 0 or 1."""
    fname = name.encode()
    if level == 0:
        body = (b"-lh0-" + struct.pack("<IIIBB", len(data), len(data), 0x58210000, 0x20, 0) +
                bytes([len(fname)]) + fname + struct.pack("<H", crc16_arc(data)))
    else:
        body = (b"-lh0-" + struct.pack("<IIIBB", len(data), len(data), 0x58210000, 0x20, 1) +
                bytes([len(fname)]) + fname + struct.pack("<H", crc16_arc(data)) + b"U" +
                struct.pack("<H", 0))  # OS 'U'; next extended header size 0
    hsize = len(body)
    csum = sum(body) & 0xFF
    return bytes([hsize, csum]) + body + data + b"\x00"


def cpio_newc(members):
    out = bytearray()
    ino = 1
    for name, data in members + [("TRAILER!!!", b"")]:
        fname = name.encode() + b"\x00"
        mode = 0o100644 if name != "TRAILER!!!" else 0
        hdr = b"070701" + b"".join(b"%08x" % v for v in (
            ino, mode, 0, 0, 1, MTIME, len(data), 0, 0, 0, 0, len(fname), 0))
        out += hdr + fname
        out += b"\x00" * ((4 - len(out) % 4) % 4)
        out += data
        out += b"\x00" * ((4 - len(out) % 4) % 4)
        ino += 1
    return bytes(out)


def cpio_odc(members):
    out = bytearray()
    for i, (name, data) in enumerate(members + [("TRAILER!!!", b"")]):
        fname = name.encode() + b"\x00"
        out += b"070707" + b"%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o" % (
            0, i + 1, 0o100644, 0, 0, 1, 0, MTIME, len(fname), len(data))
        out += fname + data
    return bytes(out)


def ar_bytes(members):
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        out += b"%-16s%-12d%-6d%-6d%-8s%-10d`\n" % ((name + "/").encode(), MTIME, 0, 0, b"100644",
                                                  len(data))
        out += data
        if len(data) % 2:
            out += b"\n"
    return bytes(out)


def warc_bytes(name, data):
    rec = (b"WARC/1.0\r\nWARC-Type: resource\r\nWARC-Target-URI: file:///" + name.encode() +
           b"\r\nWARC-Date: 2024-01-02T03:04:05Z\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-"
           b"0000-000000000001>\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
           str(len(data)).encode() + b"\r\n\r\n" + data + b"\r\n\r\n")
    return rec


def xar_bytes(name, data):
    toc = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xar>\n <toc>\n"
           "  <creation-time>2024-01-02T03:04:05</creation-time>\n"
           "  <file id=\"1\">\n   <data>\n    <length>%d</length>\n    <offset>0</offset>\n"
           "    <size>%d</size>\n    <encoding style=\"application/octet-stream\"/>\n"
           "   </data>\n   <type>file</type>\n   <name>%s</name>\n  </file>\n </toc>\n</xar>\n"
           % (len(data), len(data), name)).encode()
    ztoc = zlib.compress(toc, 9)
    header = struct.pack(">4sHHQQI", b"xar!", 28, 1, len(ztoc), len(toc), 0)
    return header + ztoc + data


def iso9660_bytes(name, data):
    """ISO 9660 level 1 image: PVD, terminator, root directory, one file (50 KiB)."""
    S = 2048

    def both16(v):
        return struct.pack("<H", v) + struct.pack(">H", v)

    def both32(v):
        return struct.pack("<I", v) + struct.pack(">I", v)

    def dirrec(extent, size, fid, is_dir):
        rec = (both32(extent) + both32(size) + bytes([124, 1, 2, 3, 4, 5, 0]) +
               bytes([2 if is_dir else 0, 0, 0]) + both16(1) + bytes([len(fid)]) + fid)
        if len(fid) % 2 == 0:
            rec += b"\x00"
        return bytes([len(rec) + 2, 0]) + rec

    root_lba, path_lba, file_lba = 20, 19, 21
    fid = name.upper().encode() + b";1"
    root = dirrec(root_lba, S, b"\x00", True) + dirrec(root_lba, S, b"\x01", True) + \
        dirrec(file_lba, len(data), fid, False)
    # libarchive's bidder reads 16 + 8 sectors ahead before it looks at the PVD: 48 KiB at least
    nsect = max(file_lba + (len(data) + S - 1) // S, 25)
    pvd = bytearray(S)
    pvd[0:8] = b"\x01CD001\x01\x00"
    pvd[8:40] = b" " * 32
    pvd[40:72] = b"AVKEYFUZZ".ljust(32)
    pvd[80:88] = both32(nsect)
    pvd[120:124] = both16(1)
    pvd[124:128] = both16(1)
    pvd[128:132] = both16(S)
    pt = bytes([1, 0]) + struct.pack("<I", root_lba) + struct.pack("<H", 1) + b"\x00\x00"
    pvd[132:140] = both32(len(pt))
    pvd[140:144] = struct.pack("<I", path_lba)
    pvd[148:152] = struct.pack(">I", path_lba)  # type M table: libarchive only range-checks it
    pvd[156:190] = dirrec(root_lba, S, b"\x00", True)
    pvd[190:813] = b" " * (813 - 190)  # volume set .. bibliographic file identifiers
    for off in (813, 830, 847, 864):
        pvd[off:off + 17] = b"0000000000000000\x00"
    pvd[881] = 1
    term = bytearray(S)
    term[0:7] = b"\xffCD001\x01"
    img = bytearray(16 * S) + pvd + term + bytearray(S)  # 16..18; 18 unused
    ptbl = bytearray(S)
    ptbl[:len(pt)] = pt
    img += ptbl
    rootsec = bytearray(S)
    rootsec[:len(root)] = root
    img += rootsec
    img += data
    img += b"\x00" * (nsect * S - len(img))
    assert len(pvd) == S and len(img) == nsect * S
    return bytes(img)


def rpm_bytes(payload):
    """RPM v3 package: lead, empty signature and main headers, then the payload
    (a gzip'd cpio, which libarchive's rpm filter hands on to the gzip filter)."""
    lead = bytearray(96)
    lead[0:4] = b"\xed\xab\xee\xdb"
    lead[4:6] = b"\x03\x00"
    struct.pack_into(">HH", lead, 6, 0, 1)
    lead[10:10 + 13] = b"fuzz-1.0-1.x\x00"
    struct.pack_into(">HH", lead, 76, 1, 5)
    hdr = b"\x8e\xad\xe8\x01\x00\x00\x00\x00" + struct.pack(">II", 0, 0)
    return bytes(lead) + hdr + hdr + payload


# ---------------------------------------------------------------------------------------
# ClamAV containers
# ---------------------------------------------------------------------------------------

def cvd_bytes(files, version=1, compress=True, md5_ok=True, builder="fuzz", nsigs=None, tail=""):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = MTIME
            t.addfile(ti, io.BytesIO(data))
    body = gzip_bytes(raw.getvalue()) if compress else raw.getvalue()
    md5 = hashlib.md5(body).hexdigest() if md5_ok else "0" * 32
    nsigs = nsigs if nsigs is not None else sum(d.count(b"\n") for _, d in files)
    header = "ClamAV-VDB:02 Jan 2024 03-04 +0000:%d:%d:90:%s:%s:%s:%d%s" % (
        version, nsigs, md5, "A" * 86, builder, MTIME, tail)
    header = header.encode()[:512].ljust(512, b" ")
    return header + body


# ---------------------------------------------------------------------------------------
# signature texts shared by several targets
# ---------------------------------------------------------------------------------------

NDB_LINES = [
    "Fz.Plain:0:*:%s" % H("FUZZPLAIN"),
    "Fz.Wild:0:*:%s??{2}%s*%s" % (H("FWZ"), H("JK"), H("LMN")),
    "Fz.Nib:0:*:464e4?4b4c[1-3]4f50",
    "Fz.Range:0:*:%s{10-300}%s" % (H("FRNG"), H("RANG")),
    "Fz.Alt:0:*:%s(6162|6364|65)7a7a" % H("FALT"),
    "Fz.NotAlt:0:*:%s!(61|62)7878" % H("FNAL"),
    "Fz.AltGen:0:*:4647(61|6263|64{2}65)7a7a",
    "Fz.Bound:0:*:(B)%s(B)" % H("FBND"),
    "Fz.Line:0:*:(L)%s(L)" % H("FLINE"),
    "Fz.Abs:0:0:%s" % H("FZAB"),
    "Fz.AbsShift:0:16,32:%s" % H("FZSH"),
    "Fz.Eof:0:EOF-8:%s" % H("FZEO"),
    "Fz.Ep:1:EP+0:5589e5??83ec",
    "Fz.S1:1:S1+16:%s" % H("FZS1"),
    "Fz.SE0:1:SE0:%s" % H("FZSE"),
    "Fz.SL:1:SL+0,128:%s" % H("FZSL"),
    "Fz.ElfEp:6:EP+0,8:31ed4989d1",
    "Fz.Flevel:0:*:%s:51:255" % H("FZFLEV"),
]

LDB_LINES = [
    "Fz.And;Target:0;0&1;%s;%s" % (H("FZLA"), H("FZLB")),
    "Fz.Or;Target:0;(0|1)&2=0;%s;%s;%s" % (H("FZO1"), H("FZO2"), H("FZO3")),
    "Fz.Count;Target:0;0>2|1=2;%s;%s" % (H("FZC1"), H("FZC2")),
    "Fz.Block;Target:0;(0|1|2)>3,2;%s;%s;%s" % (H("FZBa"), H("FZBb"), H("FZBc")),
    "Fz.Offs;Target:0;0&1;10:%s;EOF-4:%s" % (H("FZOa"), H("FZOb")),
    "Fz.Pcre;Engine:81-255,Target:0;0&1;%s;0/pc[0-9]+re/" % H("FZPA"),
    "Fz.PcreFl;Engine:81-255,Target:0;0&1;%s;0/^(a|b)+c$/ims" % H("FZPB"),
    "Fz.PcreAnc;Engine:81-255,Target:0;0&1;%s;9:0/a+b*c/re" % H("FZPC"),
    "Fz.PcreG;Engine:81-255,Target:0;0&1>1;%s;0/glob[0-9]/g" % H("FZPD"),
    "Fz.PcreTr;Engine:81-255,Target:0;(0|1)&2;%s;%s;0|1/tr[i1]g/A" % (H("FZPF"), H("FZPG")),
    "Fz.BcRaw;Engine:81-255,Target:0;0&1;%s;0(>>4#ib2#=0x0102)" % H("FZB1"),
    "Fz.BcLe;Engine:81-255,Target:0;0&1;%s;0(>>4#il4#>305419896)" % H("FZB2"),
    "Fz.BcDec;Engine:81-255,Target:0;0&1;%s;0(>>4#d3#>99)" % H("FZB3"),
    "Fz.BcHex;Engine:81-255,Target:0;0&1;%s;0(>>4#hle4#=0x2b1a)" % H("FZB4"),
    "Fz.BcAuto;Engine:81-255,Target:0;0&1;%s;0(>>4#abe4#=0x10)" % H("FZB5"),
    "Fz.BcBack;Engine:81-255,Target:0;0&1;%s;0(<<2#ib2#>0x0300,<0x0400)" % H("FZB6"),
    "Fz.Mods;Engine:81-255,Target:0;0|1|2|3;%s::i;%s::wa;%s::f;%s::iwaf" % (
        H("FZNoCase"), H("FZWide"), H("FZFword"), H("FZAll")),
    "Fz.FSize;Engine:51-255,Target:0,FileSize:16-4096;0;%s" % H("FZFS"),
    "Fz.Pe;Engine:51-255,Target:1,NumberOfSections:1-8,EntryPoint:0-100000;0&1;EP+0:5589;S0+0:%s"
    % H("FZ"),
    "Fz.Elf;Target:6;0&1;0:7f454c46;%s" % H("FZLE"),
    "Fz.Max64;Target:0;%s;%s" % ("&".join(str(i) for i in range(64)),
                                  ";".join(H("M%02dx" % i) for i in range(64))),
    "Fz.Icon;Engine:51-255,Target:1,IconGroup1:DEMO;0;%s" % H("FZIC"),
]

HDB_LINES = [
    "%s:%d:Fz.Md5" % (hashlib.md5(b"AVKEY-FUZZ-HASH-MD5").hexdigest(), 19),
    "%s:%d:Fz.Sha1" % (hashlib.sha1(b"AVKEY-FUZZ-HASH-SHA1").hexdigest(), 20),
    "%s:*:Fz.AnySize:73" % hashlib.md5(b"x").hexdigest(),
    "%s:100:Fz.Sha256" % hashlib.sha256(b"y").hexdigest(),
]


# ---------------------------------------------------------------------------------------
# per-target seeds
# ---------------------------------------------------------------------------------------

def seeds_layers():
    s = {}
    two = [("a.txt", PAYLOAD), ("dir/b.bin", bytes(range(256)))]
    s["zip_deflate.zip"] = zip_bytes(two)
    s["zip_stored.zip"] = zip_bytes(two, zipfile.ZIP_STORED)
    s["zip_bzip2.zip"] = zip_bytes([("a.txt", PAYLOAD)], zipfile.ZIP_BZIP2)
    s["zip_lzma.zip"] = zip_bytes([("a.txt", PAYLOAD)], zipfile.ZIP_LZMA)
    s["zip_canary.zip"] = zip_bytes([("canary.txt", CANARY)])
    s["zip_empty.zip"] = zip_bytes([])
    s["zip_emptymember.zip"] = zip_bytes([("empty", b""), ("d/", b"")])
    enc = bytearray(zip_bytes([("secret.txt", PAYLOAD)], zipfile.ZIP_STORED))
    enc[6] |= 1  # general purpose flag bit 0: encrypted (local header)
    cd = enc.rfind(b"PK\x01\x02")
    enc[cd + 8] |= 1  # and in the central directory
    s["zip_encrypted_flag.zip"] = bytes(enc)
    s["zip_truncated.zip"] = zip_bytes(two)[:-30]
    s["zip_many.zip"] = zip_bytes([("f%03d" % i, b"%d" % i) for i in range(70)], zipfile.ZIP_STORED)
    s["zip_ratio_bomb.zip"] = zip_bytes([("zeros", b"\x00" * (2 << 20))])
    s["zip_sfx.exe"] = pe_sample() + zip_bytes([("a.txt", PAYLOAD)])
    s["tar_ustar.tar"] = tar_bytes(two)
    s["tar_gnu.tar"] = tar_bytes([("a" * 120, PAYLOAD)], fmt=tarfile.GNU_FORMAT)
    s["tar_pax.tar"] = tar_bytes([("p\u00e9x.txt", PAYLOAD)], fmt=tarfile.PAX_FORMAT)
    link = tarfile.TarInfo("hard")
    link.type = tarfile.LNKTYPE
    link.linkname = "a.txt"
    link.mtime = MTIME
    sym = tarfile.TarInfo("sym")
    sym.type = tarfile.SYMTYPE
    sym.linkname = "/etc/passwd"
    sym.mtime = MTIME
    s["tar_links.tar"] = tar_bytes([("a.txt", PAYLOAD)], extra=(link, sym))
    s["tgz.tgz"] = tar_bytes(two, compression="gz")
    s["tbz2.tar.bz2"] = bz2.compress(tar_bytes(two), 9)
    s["txz.tar.xz"] = lzma.compress(tar_bytes(two))
    s["gz.gz"] = gzip_bytes(PAYLOAD, name="payload.txt")
    s["gz_multi.gz"] = gzip_bytes(PAYLOAD) + gzip_bytes(CANARY)
    s["gz_truncated.gz"] = gzip_bytes(PAYLOAD * 4)[:-12]
    s["bz2.bz2"] = bz2.compress(PAYLOAD, 9)
    s["xz.xz"] = lzma.compress(PAYLOAD)
    s["lzma_alone.lzma"] = lzma.compress(PAYLOAD, format=lzma.FORMAT_ALONE)
    s["lzip.lz"] = lzip_bytes(PAYLOAD)
    s["compress.Z"] = compress_z(PAYLOAD)
    s["uu.uu"] = uu_bytes(PAYLOAD)
    s["zstd.zst"] = zstd_raw(PAYLOAD)
    s["lz4.lz4"] = lz4_frame(PAYLOAD)
    s["7z_copy.7z"] = sevenzip_bytes("a.txt", PAYLOAD)
    s["7z_lzma.7z"] = sevenzip_bytes("a.txt", PAYLOAD, lzma_coded=True)
    s["rar4.rar"] = rar4_bytes("a.txt", PAYLOAD)
    s["rar5.rar"] = rar5_bytes("a.txt", PAYLOAD)
    s["cab.cab"] = cab_bytes("a.txt", PAYLOAD)
    s["lha0.lzh"] = lha_bytes("a.txt", PAYLOAD, 0)
    s["lha1.lzh"] = lha_bytes("a.txt", PAYLOAD, 1)
    s["cpio_newc.cpio"] = cpio_newc(two)
    s["cpio_odc.cpio"] = cpio_odc(two)
    s["ar.a"] = ar_bytes(two)
    s["warc.warc"] = warc_bytes("a.txt", PAYLOAD)
    s["xar.xar"] = xar_bytes("a.txt", PAYLOAD)
    s["iso9660.iso"] = iso9660_bytes("a.txt", PAYLOAD)
    s["rpm.rpm"] = rpm_bytes(gzip_bytes(cpio_newc([("./a.txt", PAYLOAD)])))
    # nesting: zip > tgz > gz > payload, and a chain deeper than layers_fuzz's max_depth 4
    s["nest_zip_tgz_gz.zip"] = zip_bytes([("inner.tgz", tar_bytes([("x.gz", gzip_bytes(PAYLOAD))],
                                                                   compression="gz"))])
    deep = PAYLOAD
    for i in range(6):
        deep = gzip_bytes(deep) if i % 2 == 0 else zip_bytes([("l%d" % i, deep)])
    s["nest_deep6.zip"] = deep
    s["nest_7z_in_tar.tar"] = tar_bytes([("x.7z", sevenzip_bytes("b.txt", PAYLOAD)),
                                         ("y.rar", rar5_bytes("c.txt", PAYLOAD))])
    # not containers (the walker must leave them alone quickly)
    s["plain.txt"] = PAYLOAD
    s["pe.exe"] = pe_sample()
    s["elf.bin"] = make_elf(b"\x31\xed" + b"\x00" * 64, 0)
    s["mz_with_rar_magic.exe"] = pe_sample(place=[(1, 0x10, b"Rar!\x1a\x07\x00")])
    return s


def seeds_scanner():
    s = {}
    p = b"\x00\x01\x02 "
    for name, body in [
        ("plain", b"FUZZPLAIN"), ("wild", b"FWZ\x01\x02\x03JKxxLMN"), ("nibble", b"FNAKL\x01\x02OP"),
        ("range", b"FRNG" + b"." * 50 + b"RANG"), ("atleast", b"FLEA\x01\x02\x03LEAS"),
        ("upto", b"FUPTOUP_"), ("alt", b"FALTabzz FALTezz"), ("notalt", b"FNALcxx"),
        ("altgen", b"FGbczz FGd\x01\x02ezz"), ("bound", b" FBND "), ("line", b"\nFLINE\r\n"),
        ("nonalnum", b"FWCH "), ("star2", b"FS1..FS2..FS3"), ("flevel", b"FZFLEV"),
        ("ldb_and", b"FZLA FZLB"), ("ldb_or", b"FZO1 FZO2"), ("ldb_count", b"FZC1FZC1FZC1"),
        ("ldb_block", b"FZBaFZBaFZBaFZBb"), ("pcre", b"FZPA pc123re"), ("pcre_flags", b"FZPB\nabac\n"),
        ("pcre_glob", b"FZPD glob1 glob2"), ("pcre_eof", b"FZPE xxxxxxxxxxxxy"),
        ("pcre_trig", b"trig FZPF"), ("bc_raw", b"FZB1\x01\x02"), ("bc_le", b"FZB2\x79\x56\x34\x12"),
        ("bc_dec", b"FZB3123"), ("bc_hex", b"FZB41a2b"), ("bc_auto", b"FZB50x10"),
        ("bc_back", b"\x03\x04FZB6"), ("mods", b"fznocase F\x00Z\x00W\x00i\x00d\x00e\x00 FZFword "),
        ("fsize", b"FZFS" + b"." * 40), ("canary", CANARY),
    ]:
        s["hit_" + name] = p + body + p
    s["abs0"] = b"FZAB" + b"\x00" * 40
    s["abs_shift"] = b"\x00" * 30 + b"FZSH" + b"\x00" * 20
    s["eof"] = b"\x00" * 40 + b"FZEO" + b"\x00" * 4
    s["eof_shift"] = b"\x00" * 40 + b"FZES" + b"\x00" * 50
    s["ldb_offsets"] = b"\x00" * 10 + b"FZOa" + b"\x01" * 20 + b"FZOb"
    s["ldb_offset_shift"] = b"\x00" * 20 + b"FZOc\x01FZ" + b"\x00" * 8
    s["pcre_anchored"] = b"\x00" * 9 + b"aaabbc\x00FZPC"
    # A CL_TYPE_SCRENC file: its decoded script is scanned as a file of its own (HTML).
    s["screnc_file"] = b'#@~^DwAAAA==-mD~zP{PJA\\bsJpNgQAAA==^#~@\nFUZZPLAIN <html>\n'
    s["hash_md5"] = b"AVKEY-FUZZ-HASH-MD5"
    s["hash_sha1"] = b"AVKEY-FUZZ-HASH-SHA1"
    s["hash_sha256"] = b"AVKEY-FUZZ-HASH-SHA256"
    s["pe_ep"] = pe_sample(place=[(0, 0x10, b"\x55\x89\xe5\x01\x83\xec"), (1, 16, b"FZS1"),
                                  (0, 0, b"FZS0FZ"), (0, 0x100, b"FZSE"), (2, 0, b"FZSLFZPE-ANY")])
    s["pe_ep_minus"] = pe_sample(ep_in=0x20, place=[(0, 0x18, b"\x90\x90\x90\x01\xc3")])
    s["pe_zero_sections"] = pe_sample(nsec=2)
    s["pe64"] = pe_sample(pe64=True, place=[(0, 0x10, b"\x55\x89\xe5\x01\x83\xec")])
    s["pe_one_section"] = pe_sample(nsec=1, fill=b"\xcc")
    s["elf32"] = make_elf(b"FZEL\x00" + b"\x31\xed\x49\x89\xd1" + b"FZELF FZLE" + b"\x00" * 32, 5)
    s["elf64"] = make_elf(b"\x31\xed\x49\x89\xd1" + b"FZELF" + b"\x00" * 64, 0, bits=64)
    s["elf64_sections"] = make_elf(b"\x31\xed\x49\x89\xd1" + b"\x00" * 64, 0, bits=64, with_sections=True)
    s["elf_be"] = make_elf(b"\x00" * 64, 0, big_endian=True)
    s["macho"] = make_macho64(b"FZMACH" + b"\x00" * 32)
    s["text"] = b"fuzz text here, hello\n" * 3
    s["html"] = b"<html><body>FUZZPLAIN</body></html>\n"
    s["mail"] = b"From: a@b\nTo: c@d\nSubject: fuzz\n\nFUZZPLAIN\n"
    s["pdf"] = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\nFUZZPLAIN\n%%EOF\n"
    s["zip_not_unpacked"] = zip_bytes([("a.txt", b"FUZZPLAIN")], zipfile.ZIP_STORED)
    s["tiny"] = b"FZ"
    s["empty"] = b""
    return s


def seeds_filetype():
    s = {}
    s["pe32"] = pe_sample()
    s["pe32_1sec"] = pe_sample(nsec=1)
    s["pe64"] = pe_sample(pe64=True)
    s["pe_truncated_headers"] = pe_sample()[:0x190]
    s["pe_bad_lfanew"] = b"MZ" + b"\x00" * 58 + struct.pack("<I", 0xFFFFFFF0) + b"\x00" * 64
    s["pe_many_sections_hdr"] = pe_sample()[:0x86] + struct.pack("<H", 0xFFFF) + pe_sample()[0x88:0x400]
    s["dos_only"] = b"MZ" + b"\x90" * 126
    s["elf32"] = make_elf(b"\x31\xed" + b"\x00" * 64, 0)
    s["elf64"] = make_elf(b"\x31\xed" + b"\x00" * 64, 0, bits=64)
    s["elf64_sections"] = make_elf(b"\x00" * 64, 0, bits=64, with_sections=True)
    s["elf32_sections"] = make_elf(b"\x00" * 64, 0, with_sections=True)
    s["elf_be"] = make_elf(b"\x00" * 64, 0, big_endian=True)
    s["elf_be64"] = make_elf(b"\x00" * 64, 0, bits=64, big_endian=True)
    s["elf_truncated"] = make_elf(b"\x00" * 64, 0, bits=64)[:40]
    s["macho64"] = make_macho64(b"\x00" * 32)
    s["macho_fat"] = struct.pack(">II", 0xCAFEBABE, 1) + struct.pack(">IIIII", 0x01000007, 3, 48, 100, 4) + \
        b"\x00" * 20 + make_macho64(b"\x00" * 16)
    s["macho32_magic"] = struct.pack("<IiiIIIII", 0xFEEDFACE, 7, 3, 2, 0, 0, 0, 0)
    for name, data in [("pdf", b"%PDF-1.7\n"), ("html", b"<!DOCTYPE html><html></html>"),
                       ("mail", b"Received: from x\nFrom: a\n\nbody"), ("ole2", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 56),
                       ("png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 24), ("gif", b"GIF89a" + b"\x00" * 10),
                       ("jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"), ("swf", b"FWS\x0a" + b"\x00" * 12),
                       ("class", b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + b"\x00" * 8),
                       ("text", b"plain ascii text\n"), ("utf16", b"\xff\xfeh\x00i\x00"),
                       ("binary", bytes(range(256))), ("zip", zip_bytes([("a", b"b")])),
                       ("empty", b"")]:
        s[name] = data
    return s


def seeds_js_norm():
    """Script bodies (the target wraps them in "<html><script>") for each part of the
    JavaScript normaliser (cases of tests/data/html/js_cases.txt)."""
    s = {}
    for name, data in [
            ("tokens", b"var foo = 1; a = b >>>= c !== d && e || f ? g : h; if(a)return b;else{c=d+e}</script>"),
            ("comments", b"// line comment here\nvar x = 1; /* block */ x(); /*/ still */ y; /* open"),
            ("strings", b'x = "A\\x41\\u00e9\\0\\q" + \'ef\' + "gh"; y = "never closed'),
            ("decoders", b'x = unescape("%41%u0042"); eval("var q = 1; q++;"); dF("hoodu+4,;2"); '
                         b'eval(function(p,a,c,k,e,d){return p}(\'0 1\',10,2,\'aa|bb\'.split(\'|\'),0,{}))'),
            ("scopes", b"var g = 1; function outer(x) { var y = x; function inner(z) { return y + z + g; } "
                       b"return inner; } var h = function(a) { return a.b; }; } }"),
            ("numbers", b"x = 0; y = 2147483648; z = 1.5e3; w = 1e400; v = 1.2.3; u = 1.5e"),
            ("blocks", b"a()</script><p>x</p><script>b(</script>\n<SCRIPT>c()</SCRIPT >"),
            ("chunk", b"x = \"" + b"a" * 8180 + b" \\x41\\x42 " + b"b" * 100 + b"\"; " + b"c=1; " * 2000),
    ]:
        s[name] = data
    return s


def seeds_html_norm():
    """HTML that walks every state of the normaliser (cases of tests/data/html/cases.txt)."""
    s = {}
    for name, data in [
            ("tags", b"<html><BODY>Hello WORLD</BODY></HTML>\n<p   CLASS = \"X Y\"   id='Z'  >t</p >u< p>v</ P>"),
            ("comments", b"<html>a<!-- c1 -->b<!--c2--->c<!-->d<! doctype html>e<!x>g<!-- x > y -->z"),
            ("entities", b"<html>&amp;&lt;&#65;&#x41;&#X4a;&#97 b&foo;&AMP;&nbsp;&eacute;&#8364;&#x110041;&unknown x&#;&#z"
                         b"&#0x41;&#99999999999999999999;&boxUr;&lang;&amp"),
            ("attrs", b"<html><a href=\"&#104;ttp://X&amp;Y&lt;\">t</a><img SRC=Foo.GIF alt='It\"s' data-x=\"a\\\"b\" Checked>"
                      b"<p a = b c= \"d e\" =x f =g h=>t</p><p title=\"\xc3\xa9\">x<p title=\xc3\xa9>y"),
            ("script_style", b"<html><script>var X = 'Y';\n// c\nalert(\"Z\")</script>after<style>BODY { color: RED; }</style>"
                             b"<script><!--\nvar a = 1; // -->\n</script>t<STYLE type=text/css>Q R</STYLE>U</script foo=1>x"),
            ("eightbit", b"<html>a\x00b\x80c\xc3\xa9d\xe2\x82\xace\xf0\x9f\x98\x80f\xe3\x80\x82g\xa1Ch\xa1Xi\r\t\x0b\x0c\x01\x7f"),
            ("data_uri", b'<html><img src="data:text/plain;base64,QUJD">x <a href=data:,RawDataHere%41%4a>y</a> z'),
            ("encoded", b'<html><script language="JScript.Encode" x=1>Abc #@~^ Def</script>T'
                        b'<%@ LANGUAGE = "JScript.Encode" %>\n<html>Abc #@~^ Def'),
            # Script Encoder blocks ('var A = "Evil";' encoded), in a script and in ASP, and a
            # hostile length field (tests/data/html/make_screnc_cases.py has more).
            ("screnc", b'<html><script language="JScript.Encode">#@~^DwAAAA==-mD~zP{PJA\\bsJpNgQAAA==^#~@</script>x'
                       b'<%@ LANGUAGE = "VBScript.Encode" %><%#@~^DwAAAA==-mD~zP{PJA\\bsJpNgQAAA==^#~@%>'
                       b'<script language="JScript.Encode">#@~^////////@!@\xe9@'),
            ("chunk_space", b"<html>" + b"a" * 8185 + b" bcd efg"),
            ("chunk_nul", b"<html>\x00" + b"a" * 8100 + b" " + b"b" * 90 + b"\x00\x00\x00" + b"c" * 20),
            ("style_underflow", b"<html><style>" + b"a" * 8170 + b"</style>\nAFTER text"),
    ]:
        s[name] = data
    return s


def seeds_signature_load():
    exts = ["hdb", "hsb", "mdb", "ndb", "ldb", "fp", "sfp", "ign2", "cvd", "cld"]

    def sel(ext, text):
        return bytes([exts.index(ext)]) + (text.encode() if isinstance(text, str) else text)
    s = {}
    s["ndb_all"] = sel("ndb", "\n".join(NDB_LINES) + "\n")
    for i, line in enumerate(NDB_LINES[:8]):
        s["ndb_%02d" % i] = sel("ndb", line + "\n")
    s["ldb_all"] = sel("ldb", "\n".join(LDB_LINES[:-2]) + "\n")
    for i, line in enumerate(LDB_LINES):
        s["ldb_%02d" % i] = sel("ldb", line + "\n")
    s["hdb"] = sel("hdb", "\n".join(HDB_LINES) + "\n")
    s["hsb"] = sel("hsb", "%s:22:Fz.Sha256\n%s:*:Fz.Star:73\n" % (
        hashlib.sha256(b"AVKEY-FUZZ-HASH-SHA256").hexdigest(), hashlib.sha1(b"z").hexdigest()))
    s["mdb"] = sel("mdb", "512:%s:Fz.Mdb\n*:%s:Fz.MdbStar:73\n" % (
        hashlib.md5(b"\x00" * 512).hexdigest(), hashlib.md5(b"q").hexdigest()))
    s["fp"] = sel("fp", "%s:19:Fz.Allow\n" % hashlib.md5(b"AVKEY-FUZZ-HASH-MD5").hexdigest())
    s["sfp"] = sel("sfp", "%s:22:Fz.AllowS\n" % hashlib.sha256(b"AVKEY-FUZZ-HASH-SHA256").hexdigest())
    s["ign2"] = sel("ign2", "Fz.Plain\nFz.And:%s\n# comment\n" % hashlib.md5(b"x").hexdigest())
    s["comments_blank"] = sel("ndb", "# comment\n\n\r\nFz.CR:0:*:%s\r\n" % H("CRLF"))
    s["ndb_bad"] = sel("ndb", "Fz.Bad:0:*:41??43\nFz.Bad2:99:*:4142\nFz.Bad3:0:EP+:4142\nnocolons\n")
    s["ldb_bad"] = sel("ldb", "Fz.B;Target:0;0&&1;4142;4344\nFz.C;Target:0;(0;4142\nFz.D;;;\n")
    files = [("fuzz.ndb", ("\n".join(NDB_LINES[:4]) + "\n").encode()),
             ("fuzz.ldb", ("\n".join(LDB_LINES[:3]) + "\n").encode()),
             ("fuzz.hdb", (HDB_LINES[0] + "\n").encode()),
             ("fuzz.ign2", b"Fz.Plain\n")]
    s["cvd"] = sel("cvd", cvd_bytes(files))
    s["cld"] = sel("cld", cvd_bytes(files, compress=False))
    s["cvd_badmd5"] = sel("cvd", cvd_bytes(files[:1], md5_ok=False))
    return s


def seeds_cvd():
    files = [("fuzz.ndb", ("\n".join(NDB_LINES[:4]) + "\n").encode()),
             ("fuzz.ldb", ("\n".join(LDB_LINES[:3]) + "\n").encode()),
             ("fuzz.hdb", (HDB_LINES[0] + "\n").encode()),
             ("COPYING", b"fuzz seed\n")]
    s = {}
    s["valid.cvd"] = cvd_bytes(files)
    s["valid_plain.cld"] = cvd_bytes(files, compress=False)
    s["one_member.cvd"] = cvd_bytes(files[:1])
    s["empty_tar.cvd"] = cvd_bytes([])
    s["empty_tar.cld"] = cvd_bytes([], compress=False)
    s["bad_md5.cvd"] = cvd_bytes(files[:1], md5_ok=False)
    s["nine_fields_tail.cvd"] = cvd_bytes(files[:1], tail=":extra:fields")
    s["big_version.cvd"] = cvd_bytes(files[:1], version=4294967295, nsigs=4294967295)
    s["header_only"] = cvd_bytes([])[:512]
    s["short_header"] = b"ClamAV-VDB:02 Jan 2024:1:1:90:"
    s["seven_fields"] = b"ClamAV-VDB:a:1:2:3:md5:dsig".ljust(512, b" ")
    s["nul_padded.cvd"] = cvd_bytes(files[:1])[:512].rstrip(b" ").ljust(512, b"\x00") + cvd_bytes(files[:1])[512:]
    # a tar with a directory, a symlink and a long GNU name
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as t:
        d = tarfile.TarInfo("dir")
        d.type = tarfile.DIRTYPE
        d.mtime = MTIME
        t.addfile(d)
        ln = tarfile.TarInfo("link")
        ln.type = tarfile.SYMTYPE
        ln.linkname = "dir"
        ln.mtime = MTIME
        t.addfile(ln)
        f = tarfile.TarInfo("d" * 150 + ".ndb")
        f.size = 10
        f.mtime = MTIME
        t.addfile(f, io.BytesIO(b"0123456789"))
    body = gzip_bytes(raw.getvalue())
    hdr = ("ClamAV-VDB:x:2:1:90:%s:dsig:fuzz:%d" % (hashlib.md5(body).hexdigest(), MTIME)).encode()
    s["odd_members.cvd"] = hdr.ljust(512, b" ") + body
    body = gzip_bytes(b"not a tar at all" * 8)
    hdr = ("ClamAV-VDB:x:3:1:90:%s:dsig:fuzz:%d" % (hashlib.md5(body).hexdigest(), MTIME)).encode()
    s["gzip_not_tar.cvd"] = hdr.ljust(512, b" ") + body
    body = gzip_bytes(tar_bytes([("a.ndb", b"x" * 2000)]))[:-40]
    hdr = ("ClamAV-VDB:x:4:1:90:%s:dsig:fuzz:%d" % (hashlib.md5(body).hexdigest(), MTIME)).encode()
    s["truncated_gzip.cvd"] = hdr.ljust(512, b" ") + body
    return s


def seeds_ldb():
    s = {}
    for i, line in enumerate(LDB_LINES):
        s["line_%02d" % i] = line.encode()
    exprs = ["0", "0&1", "0|1", "(0&1)|(2&3)", "0>2", "0=3", "0<3&1", "(0|1|2)>3,2", "(0|1)=2,2",
             "((((0))))", "0&(1=0)", "63", "0>4294967295", "(0|1", "0&&1", ""]
    for i, e in enumerate(exprs):
        s["expr_%02d" % i] = e.encode()
    s["bc_variants"] = b"Fz.Bc;Engine:81-255,Target:0;0&1;4142;0(>>0#ib8#=0x0102030405060708)"
    s["pcre_bad"] = b"Fz.P;Engine:81-255,Target:0;0&1;4142;0/pc[0-9/"
    s["tdb_keys"] = (b"Fz.T;Engine:51-255,Target:1,FileSize:1-2,EntryPoint:3-4,NumberOfSections:1-9,"
                     b"Container:CL_TYPE_ZIP,Intermediates:1>2,IconGroup1:x,IconGroup2:y;0;4142")
    return s


def seeds_body_pattern():
    s = {}
    pats = [("FUZZPLAIN", b"xxFUZZPLAINxx"), ("%s??{2}%s*%s" % (H("FWZ"), H("JK"), H("LMN")), b"FWZ\x01\x02\x03JKxxLMN"),
            ("464e4?4b4c[1-3]4f50", b"FNAKL\x01\x02OP"), ("%s{10-300}%s" % (H("FRNG"), H("RANG")), b"FRNG" + b"." * 50 + b"RANG"),
            ("%s(6162|6364|65)7a7a" % H("FALT"), b"FALTabzz"), ("%s!(61|62)7878" % H("FNAL"), b"FNALcxx"),
            ("4647(61|6263|64{2}65)7a7a", b"FGd\x01\x02ezz"), ("(B)%s(B)" % H("FBND"), b" FBND "),
            ("(L)%s(L)" % H("FLINE"), b"\nFLINE\n"), ("%s(W)" % H("FWCH"), b"FWCH "),
            ("41{-3}42", b"A\x01B"), ("41{3-}42", b"A\x01\x02\x03B"), ("41{0}42", b"AB"),
            ("4142[2-4]43", b"AB\x01\x02C"), ("(6162|6364)", b"cd"), ("????4142", b"\x00\x00AB"),
            ("4?4?4?", b"ABC"), ("*4142", b"AB")]
    for i, (p, hay) in enumerate(pats):
        s["pat_%02d" % i] = (p if "FUZZ" not in p else H(p)).encode() + b"\n" + hay
    return s


def seeds_yara():
    s = {}
    rules = {
        "text": 'rule t { strings: $a = "hello" condition: $a }',
        "hex": "rule h { strings: $a = { 4D 5A ?? 00 [2-4] 6? } condition: $a at 0 }",
        "regex": "rule r { strings: $a = /fu+zz[0-9]{1,3}/ nocase condition: #a > 0 }",
        "meta": 'rule m { meta: author = "fuzz" n = 3 b = true condition: filesize < 100KB }',
        "pe": 'import "pe"\nrule p { condition: pe.number_of_sections > 0 }',
        "math": 'import "math"\nrule e { condition: math.entropy(0, filesize) > 1.0 }',
        "for": "rule f { strings: $a = \"a\" condition: for any i in (1..#a): (@a[i] < 10) }",
        "private_global": "private rule p1 { condition: true }\nglobal rule g { condition: p1 }",
        "ext_vars": "rule v { condition: filename matches /\\.exe$/ and owner == \"root\" }",
        "wide_xor": 'rule w { strings: $a = "fuzz" wide ascii xor(1-3) fullword condition: $a }',
        "base64": 'rule b { strings: $a = "fuzzing" base64 condition: $a }',
        "two_sources": "rule a1 { condition: true }\x00rule a1 { condition: false }",
        "syntax_error": "rule { strings $a = condition",
        "include": 'include "/etc/passwd"\nrule i { condition: true }',
    }
    for name, text in rules.items():
        s[name] = text.encode()
    return s


JOURNAL_KEY = "K-0123456789abcdef"
JOURNAL_SECRET = b"\x5a" * 32


def journal_lines(types, start_seq=1, prev=None):
    """Valid journal records (docs/key-format.md), MACed with journal_fuzz's key and secret."""
    import hmac
    if prev is None:
        prev = hashlib.sha256(b"avkey-journal/1\0" + JOURNAL_KEY.encode()).hexdigest()
    out = []
    for i, (typ, payload) in enumerate(types):
        body = ('{"seq":%d,"time":"2026-11-29T04:25:44.%03dZ","key":"%s","device":"D-000000000000000000000001",'
                '"scan":"S-0000000000000001","type":"%s","payload":%s,"prev":"%s"'
                % (start_seq + i, i, JOURNAL_KEY, typ, payload, prev))
        mac = hmac.new(JOURNAL_SECRET, body.encode(), hashlib.sha256).hexdigest()
        line = body + ',"mac":"%s"}' % mac
        out.append(line)
        prev = hashlib.sha256(line.encode()).hexdigest()
    return out


def seeds_journal():
    scan = [("scan_started", '{"targets":["/data"],"policy":"signed"}'),
            ("detection", '{"path":"/data/a.com","members":[],"signature":"Eicar","engine":"body","sha256":"00"}'),
            ("action", '{"path":"/data/a.com","action":"quarantine","result":"done","quarantine_id":"Q-1"}'),
            ("scan_finished", '{"verdict":"GREEN","reason":"1 threat found","exit_status":3,"counts":{}}')]
    lines = journal_lines(scan)
    good = "\n".join(lines) + "\n"
    torn = good + lines[0][:40]
    # A torn record acknowledged by the next writer's journal_repair.
    tear = lines[1][:50]
    offset = len(lines[0]) + 1
    repair = journal_lines([("journal_repair", '{"offset":%d,"length":%d,"sha256":"%s"}'
                             % (offset, len(tear), hashlib.sha256(tear.encode()).hexdigest()))],
                           start_seq=2, prev=hashlib.sha256(lines[0].encode()).hexdigest())
    repaired = lines[0] + "\n" + tear + "\n" + repair[0] + "\n"
    swapped = "\n".join([lines[0], lines[2], lines[1], lines[3]]) + "\n"
    return {"good": good.encode(), "torn_tail": torn.encode(), "repaired": repaired.encode(),
            "swapped": swapped.encode(), "edited": good.replace("a.com", "b.com", 1).encode(),
            "empty_lines": b"\n\n" + good.encode()}


def seeds_policy():
    return {
        "empty": b"",
        "full": b"""[scan]
targets = ["auto", "/opt"]
exclude = ["*.iso"]
max_filesize = "2G"
one_file_system = true
[archive]
max_depth = 3
max_unpacked = "1G"
max_entries = 100
max_ratio = 50
max_scantime_ms = 1000
[action]
on_detection = "quarantine"
keep_copy = true
[signatures]
max_age_days = 7
[inventory]
enabled = true
file_hashes = false
[operator]
asset_tag = "required"
[indicator]
hook = "bin/led"
hook_sha256 = "4f2b8a3c9d0e1f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"
""",
        "bad_value": b'[action]\non_detection = "delete"\n',
        "unknown_key": b"[scan]\ntargts = []\n",
        "inline": b'scan = { targets = ["/x"], exclude = [] }\n',
    }


def seeds_inventory_gzip():
    doc = b'{"format":"avkey-inventory/1","device_id":"D-1","files":[{"path":"/bin/x","sha256":"00"}]}'
    return {"inventory": gzip_bytes(doc), "two_members": gzip_bytes(b"{}") + gzip_bytes(b"[]"),
            "zeros": gzip_bytes(b"\0" * 60000), "truncated": gzip_bytes(doc)[:-6]}


def seeds_quarantine():
    """A record as Quarantine::Put writes it, NUL, then content (quarantine_fuzz encodes it)."""
    rec = {"format": "avkey-quarantine/1", "id": "Q-20261129T000000Z-0000abcd",
           "original_path": "/data/eicar\\x0a.com", "size": len(PAYLOAD),
           "sha256": hashlib.sha256(PAYLOAD).hexdigest(), "mode": "0755", "uid": 0, "gid": 0,
           "atime": {"sec": 1764390000, "nsec": 123456789}, "mtime": {"sec": 1764390000, "nsec": 5},
           "signature": "Eicar-Signature", "device": "D-1", "hostname": "pump", "scan": "S-1",
           "key": "K-1", "quarantined": "2026-11-29T00:00:00.000Z", "state": "quarantined"}
    text = json.dumps(rec, indent=2).encode()
    return {"record": text + b"\0" + PAYLOAD,
            "setuid": text.replace(b'"0755"', b'"4755"') + b"\0" + PAYLOAD,
            "raw_bin": text + b"\0AVKEYQ1\0" + bytes(range(256)),
            "empty": text + b"\0"}


TARGETS = {
    "quarantine_fuzz": seeds_quarantine,
    "journal_fuzz": seeds_journal,
    "key_policy_fuzz": seeds_policy,
    "inventory_gzip_fuzz": seeds_inventory_gzip,
    "layers_fuzz": seeds_layers,
    "scanner_fuzz": seeds_scanner,
    "filetype_fuzz": seeds_filetype,
    "html_norm_fuzz": seeds_html_norm,
    "js_norm_fuzz": seeds_js_norm,
    "signature_load_fuzz": seeds_signature_load,
    "cvd_fuzz": seeds_cvd,
    "ldb_fuzz": seeds_ldb,
    "body_pattern_fuzz": seeds_body_pattern,
    "yara_rules_fuzz": seeds_yara,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds"))
    args = ap.parse_args()
    total = 0
    for target, make in TARGETS.items():
        seeds = make()
        d = os.path.join(args.out, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in sorted(seeds.items()):
            if len(data) >= MAX_SEED:
                raise SystemExit("seed %s/%s is %d bytes (limit %d)" % (target, name, len(data), MAX_SEED))
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        size = sum(len(v) for v in seeds.values())
        total += size
        print("%-20s %3d seeds, %6d bytes" % (target, len(seeds), size))
    print("total %d bytes" % total)


if __name__ == "__main__":
    main()
