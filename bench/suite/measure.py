"""Runs one command and measures it: wall, user+sys CPU, peak RSS, exit status.

Wall time is taken here (time.monotonic around the child, resolution < 1 ms; GNU time's %e has
10 ms). CPU and peak RSS come from GNU time (`/usr/bin/time -f`) when it is installed, otherwise
from os.wait4(), which returns the same struct rusage that getrusage(RUSAGE_CHILDREN) would give
in a process whose only child is the command: ru_maxrss is the peak of the child and of the
descendants it waited for, in KiB on Linux.

Every command runs in its own session so a timeout can end exactly the processes this suite
started (os.killpg on the pgid of the child it created), nothing else.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

GNU_TIME = "/usr/bin/time"


def have_gnu_time():
    if not (os.path.isfile(GNU_TIME) and os.access(GNU_TIME, os.X_OK)):
        return False
    try:
        r = subprocess.run([GNU_TIME, "-f", "%M", "true"], capture_output=True, text=True, timeout=10)
        return r.returncode == 0 and r.stderr.strip().splitlines()[-1].isdigit()
    except (OSError, subprocess.SubprocessError, IndexError):
        return False


class Result:
    __slots__ = ("argv", "rc", "wall", "user", "sys", "maxrss_kib", "timed_out", "stdout", "stderr", "method")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    @property
    def cpu(self):
        return (self.user or 0.0) + (self.sys or 0.0)

    def as_dict(self, keep_output=False):
        d = {k: getattr(self, k) for k in self.__slots__ if k not in ("stdout", "stderr")}
        d["cpu"] = self.cpu
        if keep_output:
            d["stdout"] = self.stdout
            d["stderr"] = self.stderr
        return d


def run(argv, timeout, stdout_path=None, use_gnu_time=True, env=None, cwd=None):
    """Runs argv; stdout goes to stdout_path (or is captured), stderr is captured (tail kept)."""
    tmpdir = tempfile.mkdtemp(prefix="avkey-bench-m-")
    try:
        time_out = os.path.join(tmpdir, "rusage")
        full = list(argv)
        method = "os.wait4"
        if use_gnu_time:
            full = [GNU_TIME, "-o", time_out, "-f", "%U %S %M"] + full
            method = "gnu-time"
        out_f = open(stdout_path, "wb") if stdout_path else open(os.path.join(tmpdir, "stdout"), "wb")
        err_path = os.path.join(tmpdir, "stderr")
        err_f = open(err_path, "wb")
        t0 = time.monotonic()
        proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f,
                                start_new_session=True, env=env, cwd=cwd)
        # Blocking wait4 (no polling: the suite must not steal CPU from what it measures); a timer
        # ends the child's own session if it overruns.
        state = {"timed_out": False}

        def _expire():
            state["timed_out"] = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the session this call created, only
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, _expire)
        timer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        timed_out = state["timed_out"]
        wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_f.close()
        err_f.close()
        user, sys_, rss = ru.ru_utime, ru.ru_stime, ru.ru_maxrss
        if use_gnu_time and os.path.exists(time_out):
            lines = [l for l in open(time_out).read().splitlines() if l.strip()]
            if lines:
                parts = lines[-1].split()
                if len(parts) == 3:
                    user, sys_, rss = float(parts[0]), float(parts[1]), int(parts[2])
        with open(err_path, "rb") as f:
            err = f.read().decode("utf-8", "replace")
        out = None
        if not stdout_path:
            with open(os.path.join(tmpdir, "stdout"), "rb") as f:
                out = f.read().decode("utf-8", "replace")
        return Result(argv=list(argv), rc=proc.returncode, wall=wall, user=user, sys=sys_, maxrss_kib=rss,
                      timed_out=timed_out, stdout=out, stderr=err, method=method)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
