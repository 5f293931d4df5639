#!/usr/bin/env python3
"""Renders the console's HTML audit report in headless Chromium and checks what a reader sees.

Usage: report_render_test.py --html FILE --png OUT.png --expect-device D-xxx [--expect-device ...]
       report_render_test.py --self-test [--png OUT.png]
Exit 0 pass, 1 fail, 77 skipped (no `chromium` or `chromium-browser` on PATH).

Checks: the screenshot is a real PNG (signature, IHDR first, IEND last) larger than 4 KiB,
and Chromium's DOM has exactly one <tr class="device" data-device=ID> per expected device whose
verdict cell has class "verdict verdict-<colour>" and, for a known colour, shows its name.
--expect-device D-1=red also pins the colour.

Chromium gets a fresh --user-data-dir, HOME and XDG dirs under one temp dir: even with
--user-data-dir it writes ~/.config/chromium/Crash Reports and ~/.cache/dconf, and this
test must leave nothing behind. Each call has a 60 s budget; on timeout the whole process
group (browser, zygote, renderers) is killed.
"""
import argparse
import html.parser
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

PASS, FAIL, SKIP = 0, 1, 77
TIMEOUT_S = 60
MIN_PNG_BYTES = 4096  # a blank 1280x2000 page compresses to ~6 KB; a rendered report to far more
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOURS = ("blue", "red", "amber", "green")
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
             "source", "track", "wbr"}


class Failure(Exception):
    pass


def find_chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_chromium(chromium, scratch, args, url):
    """Runs one headless Chromium; returns (stdout bytes, seconds). Raises Failure."""
    profile = tempfile.mkdtemp(prefix="profile-", dir=scratch)
    home = tempfile.mkdtemp(prefix="home-", dir=scratch)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
               XDG_CACHE_HOME=os.path.join(home, ".cache"))
    # --no-sandbox: the setuid/namespace sandbox refuses to start as root (CI containers).
    # --disable-dev-shm-usage: Docker's default 64 MiB /dev/shm crashes the renderer, and
    # Debian's wrapper only adds the flag when its findmnt probe parses, which it does not
    # everywhere. The network flags keep an offline tool's test offline.
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--no-default-browser-check", "--disable-extensions",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-breakpad", "--hide-scrollbars", f"--user-data-dir={profile}",
           *args, url]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise Failure(f"chromium timed out after {TIMEOUT_S} s: {' '.join(cmd)}")
    finally:
        # Renderers outliving the browser would hold files in scratch open.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        tail = err.decode("utf-8", "replace").splitlines()[-15:]
        raise Failure(f"chromium exited {proc.returncode}: {' '.join(cmd)}\n" + "\n".join(tail))
    return out, seconds


def check_png(path):
    """Returns (width, height). Raises Failure unless path is a PNG above MIN_PNG_BYTES."""
    if not os.path.isfile(path):
        raise Failure(f"no screenshot at {path}")
    with open(path, "rb") as f:
        data = f.read()
    if len(data) <= MIN_PNG_BYTES:
        raise Failure(f"screenshot {path} is only {len(data)} bytes (want > {MIN_PNG_BYTES})")
    if not data.startswith(PNG_SIGNATURE):
        raise Failure(f"screenshot {path} does not start with the PNG signature")
    if data[12:16] != b"IHDR" or not data.endswith(b"IEND\xaeB`\x82"):
        raise Failure(f"screenshot {path} lacks IHDR first or IEND last: truncated?")
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        raise Failure(f"screenshot {path} is {width}x{height}")
    return width, height


class DeviceRows(html.parser.HTMLParser):
    """Collects each tr.device's verdict cells: {device id: [[(classes, text)], ...]}."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows = {}
        self.depth = 0
        self.row = None         # verdict cells of the open device row
        self.row_depth = 0
        self.cell = None        # [classes, text] of the open verdict cell
        self.cell_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in VOID_TAGS:
            return
        self.depth += 1
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "tr" and "device" in classes and a.get("data-device") is not None:
            self.row = []
            self.row_depth = self.depth
            self.rows.setdefault(a["data-device"], []).append(self.row)
        elif tag == "td" and self.row is not None and "verdict" in classes:
            self.cell = [classes, ""]
            self.cell_depth = self.depth
            self.row.append(self.cell)

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        self.depth -= 1
        if self.cell is not None and self.depth < self.cell_depth:
            self.cell = None
        if self.row is not None and self.depth < self.row_depth:
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell[1] += data


def check_dom(dom, expectations):
    """Returns a list of problems; expectations maps a device id to a colour or None."""
    parser = DeviceRows()
    parser.feed(dom)
    parser.close()
    problems = []
    for device, want in expectations.items():
        before = len(problems)
        rows = parser.rows.get(device, [])
        if len(rows) != 1:
            problems.append(f'{device}: {len(rows)} <tr class="device" data-device="{device}"> '
                            f"rows, want 1")
            continue
        cells = rows[0]
        if len(cells) != 1:
            problems.append(f'{device}: {len(cells)} <td class="verdict ..."> cells, want 1')
            continue
        classes, text = cells[0]
        colours = [c[len("verdict-"):] for c in classes if c.startswith("verdict-")]
        if len(colours) != 1 or colours[0] not in COLOURS + ("unknown",):
            problems.append(f"{device}: verdict cell classes {classes}, want one verdict-"
                            f"{{{'|'.join(COLOURS)}|unknown}}")
            continue
        colour = colours[0]
        if colour in COLOURS and text.strip() != colour.upper():
            problems.append(f"{device}: verdict-{colour} cell reads {text.strip()!r}, "
                            f"want {colour.upper()!r} (black-and-white print)")
        if want is not None and colour != want:
            problems.append(f"{device}: verdict-{colour}, want verdict-{want}")
        if len(problems) == before:
            print(f"  {device}: verdict-{colour} ({text.strip()})")
    return problems


def parse_expectation(arg):
    device, _, colour = arg.partition("=")
    colour = colour.lower() or None
    if not device or (colour is not None and colour not in COLOURS + ("unknown",)):
        raise argparse.ArgumentTypeError(f"bad --expect-device {arg!r}: want D-xxx[=colour]")
    return device, colour


def render_and_check(chromium, scratch, html_path, png_path, expectations):
    """Screenshots and dumps html_path; returns the DOM text. Raises Failure."""
    url = "file://" + os.path.abspath(html_path)
    if os.path.exists(png_path):
        os.unlink(png_path)  # a stale screenshot must not pass for a new one
    _, shot_s = run_chromium(chromium, scratch,
                             [f"--screenshot={os.path.abspath(png_path)}",
                              "--window-size=1280,2000"], url)
    width, height = check_png(png_path)
    print(f"screenshot {png_path}: {width}x{height}, {os.path.getsize(png_path)} bytes, "
          f"{shot_s:.2f} s")
    dom_bytes, dom_s = run_chromium(chromium, scratch, ["--dump-dom"], url)
    dom = dom_bytes.decode("utf-8", "replace")
    print(f"dom: {len(dom)} chars, {dom_s:.2f} s")
    problems = check_dom(dom, expectations)
    if problems:
        raise Failure("\n".join(problems))
    return dom


# Same markup contract as avkey::console::RenderHtml(), hand-written so the script can be
# tried without the console; one device has a nested detections table like the real page.
SELF_TEST_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>self-test &lt;report&gt;</title>
<style>
body{font-family:sans-serif;margin:24px}
table{border-collapse:collapse;width:100%}
td,th{border:1px solid #999;padding:4px 6px}
.verdict{font-weight:bold;text-align:center}
.verdict-red{background:#c62828;color:#fff}
.verdict-blue{background:#1f5fbf;color:#fff}
</style></head><body>
<h1>self-test &lt;report&gt;</h1>
<p class="summary">2 devices: 1 RED, 1 BLUE</p>
<table class="devices"><thead><tr><th>Site</th><th>Device</th><th>Verdict</th><th>Reason</th>
</tr></thead><tbody>
<tr class="device" data-device="D-0001"><td>Lyon</td><td>&lt;script&gt;alert(1)&lt;/script&gt;<br>
D-0001</td><td class="verdict verdict-red">RED</td><td>1 threat remains</td></tr>
<tr class="detections" data-device="D-0001"><td colspan="4"><table class="detections"><tbody>
<tr><td>2024-05-02T10:01:00Z</td><td>/tmp/a.exe</td><td class="verdict-note">Win.Test</td></tr>
</tbody></table></td></tr>
<tr class="device" data-device="D-0002"><td>Lyon</td><td>pc-2<br>D-0002</td>
<td class="verdict verdict-blue">BLUE</td><td>no threat found</td></tr>
</tbody></table></body></html>
"""


def self_test(chromium, scratch, png_path):
    html_path = os.path.join(scratch, "self-test.html")
    with open(html_path, "w", encoding="utf-8") as f:
        f.write(SELF_TEST_HTML)
    dom = render_and_check(chromium, scratch, html_path, png_path,
                           {"D-0001": "red", "D-0002": "blue"})
    # The checker must also say no: a missing device, a wrong colour, escaped text not a tag.
    for expectations, what in (({"D-0003": None}, "a missing device"),
                               ({"D-0001": "green"}, "a wrong colour")):
        if not check_dom(dom, expectations):
            raise Failure(f"self-test: check_dom accepted {what}")
    if "<script>" in dom:
        raise Failure("self-test: escaped <script> came back as a tag")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--html", help="the report to render")
    ap.add_argument("--png", help="where to write the screenshot")
    ap.add_argument("--expect-device", action="append", default=[], type=parse_expectation,
                    metavar="D-xxx[=colour]")
    ap.add_argument("--self-test", action="store_true",
                    help="render a generated 2-device page instead of --html")
    args = ap.parse_args()
    if not args.self_test:
        if not args.html or not args.png or not args.expect_device:
            ap.error("--html, --png and at least one --expect-device are required "
                     "(or --self-test)")
        if not os.path.isfile(args.html):
            print(f"FAIL: no such file {args.html}", file=sys.stderr)
            return FAIL

    chromium = find_chromium()
    if chromium is None:
        print("SKIP: neither chromium nor chromium-browser is on PATH")
        return SKIP

    with tempfile.TemporaryDirectory(prefix="avkey-report-render-") as scratch:
        try:
            if args.self_test:
                self_test(chromium, scratch, args.png or os.path.join(scratch, "self-test.png"))
            else:
                render_and_check(chromium, scratch, args.html, args.png,
                                 dict(args.expect_device))
        except Failure as e:
            print(f"FAIL: {e}", file=sys.stderr)
            return FAIL
    print("PASS")
    return PASS


if __name__ == "__main__":
    sys.exit(main())
