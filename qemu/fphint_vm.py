"""Boot the fphint guest under QEMU and watch it from the host.

One Guest is one QEMU process: its console is read line by line (each line
stamped with host time on arrival), and its RSS is sampled from
/proc/PID/status every SAMPLE_S.  Lines the guest scenarios print start with
"@@" (see qemu/guest/init and selftests/fphint/lib.sh).
"""
import json
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from typing import NamedTuple, Optional

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("FPHINT_BUILD", os.path.join(TOP, "build"))
# FPHINT_VMLINUX boots another build (the debug variant: build/debug/kernel-out/vmlinux).
VMLINUX = os.environ.get("FPHINT_VMLINUX", os.path.join(BUILD, "kernel-out", "vmlinux"))
INITRD = os.path.join(BUILD, "initrd.gz")
# Extra layers (scripts/initramfs-layer.sh): the base initramfs with more on
# top, e.g. build/initrd-stress.gz; Guest(layer="stress") boots one.
def layer_initrd(name):
    return os.path.join(BUILD, f"initrd-{name}.gz")
SAMPLE_S = 0.05
MIB = 1 << 20

# Launch profiles: the device line each one adds (qemu/README.md).  The
# balloon's id lets QMP address it: /machine/peripheral/balloon0.
PROFILES = {
    "reporting": ["-device", "virtio-balloon-pci,id=balloon0,free-page-reporting=on"],
    "balloon": ["-device", "virtio-balloon-pci,id=balloon0"],
    "none": [],
}
QGA_PORT = "org.qemu.guest_agent.0"
# Agent commands that never answer on success.
QGA_NO_REPLY = {"guest-shutdown", "guest-suspend-disk", "guest-suspend-ram",
                "guest-suspend-hybrid"}

# Which QEMU runs a guest: "stock" is Debian's qemu-system-x86_64 (operators
# run unmodified hosts, so it stays tested); "patched" is Debian's source plus
# qemu/patches, built by `make qemu` (scripts/qemu-build.sh) into build/qemu/,
# with firmware from Debian's packages through -L.
PATCHED_QEMU = os.path.join(BUILD, "qemu", "qemu-system-x86_64")
FIRMWARE_DIRS = ["/usr/share/qemu", "/usr/share/seabios", "/usr/lib/ipxe/qemu"]
# The balloon of the "policy" profile offers the patched device's
# experimental fphint-policy feature (bit 23).
# The report hypercall (qemu/patches/0003): the patched QEMU only.
PROFILES["hypercall"] = ["-device", "virtio-balloon-pci,id=balloon0,free-page-reporting=on,"
                         "fphint-hypercall=on"]
PROFILES["policy"] = ["-device", "virtio-balloon-pci,id=balloon0,free-page-reporting=on,"
                      "fphint-policy=on"]


def qemu_argv(qemu):
    """The binary and firmware options of QEMU "stock" or "patched"."""
    if qemu == "stock":
        return ["qemu-system-x86_64"]
    if qemu == "patched":
        if not os.access(PATCHED_QEMU, os.X_OK):
            raise RuntimeError(f"{PATCHED_QEMU} missing: run make qemu")
        return [PATCHED_QEMU] + [a for d in FIRMWARE_DIRS if os.path.isdir(d) for a in ("-L", d)]
    raise ValueError(f"qemu must be 'stock' or 'patched', not {qemu!r}")


def describe_qemu(qemu):
    """'stock: /usr/bin/qemu-system-x86_64 (QEMU emulator version 7.2.22 ...)'"""
    try:
        exe = qemu_argv(qemu)[0]
        path = shutil.which(exe) or exe
        out = subprocess.run([path, "--version"], capture_output=True, text=True,
                             timeout=30).stdout.splitlines()
        return f"{qemu}: {path} ({out[0].strip() if out else '?'})"
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        return f"{qemu}: unavailable ({e})"


ACCEL_ARGS = {
    # -arch-capabilities: this host's KVM aborts on MSR 0x10a otherwise.
    "kvm": ["-accel", "kvm", "-cpu", "host,-arch-capabilities"],
    "tcg": ["-accel", "tcg", "-cpu", "max"],
}


def qemu_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


TAP_RESULT = re.compile(r"^(\s*)(not ok|ok) \d+ -? ?(.*?)(\s+#\s*(SKIP|skip)\s*(.*))?$")


class TapResult(NamedTuple):
    ok: bool
    title: str
    skip: Optional[str]     # the reason ("" if none given); None: not skipped


def tap_result(text, indented=False):
    """The TapResult of a TAP result line, None for any other line.
    @indented: KTAP subtest lines instead of top-level ones."""
    m = TAP_RESULT.match(text)
    if not m or bool(m.group(1)) != indented:
        return None
    return TapResult(m.group(2) == "ok", m.group(3).strip(),
                     (m.group(6) or "") if m.group(5) else None)


class Guest:
    def __init__(self, test, accel, append="", mem_mib=2048, smp=2,
                 profile="reporting", log=None, qmp=False, qga=False, layer=None,
                 extra_args=(), qemu="stock"):
        self.test = test
        self.accel = accel
        self.qemu = qemu
        self.lines = []       # (host time, text)
        self.rss = []         # (host time, KiB)
        self.cpu = []         # (host time, QEMU user+system CPU seconds)
        self.faults = []      # (host time, QEMU minor page faults)
        self.log = log
        # Test lengths (FPHINT_*_SECS, e.g. make check-long) reach the guest's
        # environment through the command line (qemu/guest/init).
        env = " ".join(f"fphint.env.{k}={v}" for k, v in sorted(os.environ.items())
                       if re.fullmatch(r"FPHINT_[A-Z]+_SECS", k) and v.isdigit())
        # quiet, but loglevel=5: warnings (WARN_ON, lockdep) are KERN_WARNING
        # and must reach the console that console_problems() reads.
        cmdline = (f"console=ttyS0 panic=-1 quiet loglevel=5 fphint.test={test} {env} "
                   f"{append}").strip()
        self.cmd = (qemu_argv(qemu) + ["-m", str(mem_mib), "-smp", str(smp),
                     "-nodefaults", "-display", "none", "-serial", "stdio",
                     "-monitor", "none", "-no-reboot",
                     "-kernel", VMLINUX, "-initrd", layer_initrd(layer) if layer else INITRD,
                     "-append", cmdline]
                    + ACCEL_ARGS[accel] + PROFILES[profile] + list(extra_args))
        # QMP and guest agent sockets live in a temp dir of their own,
        # removed once QEMU has exited (wait()).
        self.sockdir = self.qmp_path = self.qga_path = None
        if qmp or qga:
            self.sockdir = tempfile.mkdtemp(prefix="fphint-vm-")
        if qmp:
            self.qmp_path = os.path.join(self.sockdir, "qmp.sock")
            self.cmd += ["-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        if qga:
            self.qga_path = os.path.join(self.sockdir, "qga.sock")
            self.cmd += ["-device", "virtio-serial-pci",
                         "-chardev", f"socket,path={self.qga_path},server=on,wait=off,id=qga0",
                         "-device", f"virtserialport,chardev=qga0,name={QGA_PORT}"]
        self._done = threading.Event()

    def start(self):
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._sample, daemon=True).start()
        return self

    def now(self):
        return time.monotonic() - self.t0

    def _read(self):
        for raw in self.proc.stdout:
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.lines.append((self.now(), text))
            if self.log:
                self.log.write(f"{self.now():8.3f} {text}\n")
                self.log.flush()
        self._done.set()

    def _sample(self):
        hz = os.sysconf("SC_CLK_TCK")
        while not self._done.is_set():
            kib = qemu_rss_kib(self.proc.pid)
            if kib is not None:
                self.rss.append((self.now(), kib))
            try:
                with open(f"/proc/{self.proc.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                now = self.now()
                self.cpu.append((now, (int(fields[11]) + int(fields[12])) / hz))
                self.faults.append((now, int(fields[7])))
            except (OSError, IndexError, ValueError):
                pass
            time.sleep(SAMPLE_S)

    @staticmethod
    def _between(series, t0, t1):
        a = [c for t, c in series if t <= t0]
        b = [c for t, c in series if t <= t1]
        return (b[-1] - a[-1]) if a and b else None

    def cpu_between(self, t0, t1):
        """QEMU CPU seconds spent between host times @t0 and @t1."""
        return self._between(self.cpu, t0, t1)

    def faults_between(self, t0, t1):
        """QEMU's minor page faults between host times @t0 and @t1: guest
        memory the host faulted back in (after a discard, or split huge
        pages refaulting as small ones)."""
        return self._between(self.faults, t0, t1)

    def results(self):
        """{key: value} from @@RESULT lines."""
        out = {}
        for _, text in self.lines:
            if text.startswith("@@RESULT "):
                for kv in text.split()[1:]:
                    k, _, v = kv.partition("=")
                    out[k] = float(v)
        return out

    def wait(self, timeout):
        """Wait for QEMU to exit; kill it after @timeout seconds."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._done.wait(5)
        self._cleanup()
        return self

    def _cleanup(self):
        if self.sockdir:
            shutil.rmtree(self.sockdir, ignore_errors=True)
            self.sockdir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        """with Guest(...).start() as g: QEMU killed and sockets removed at
        the end, even when the test raised."""
        if getattr(self, "proc", None) is not None and self.proc.poll() is None:
            self.proc.kill()
        if getattr(self, "proc", None) is not None:
            self.wait(5)
        self._cleanup()

    def __del__(self):
        proc = getattr(self, "proc", None)
        if proc is None or proc.poll() is not None:
            self._cleanup()

    def save_rss(self, path):
        with open(path, "w") as f:
            f.write("t_s,rss_kib\n")
            for t, kib in self.rss:
                f.write(f"{t:.3f},{kib}\n")

    def out_blocks(self):
        """{name: (text, rc)} from the guest's out() helper: @@OUT-BEGIN NAME,
        the command's output, @@OUT-END NAME rc=N (selftests/fphint/lib.sh)."""
        blocks, name, buf = {}, None, []
        for _, text in self.lines:
            if text.startswith("@@OUT-BEGIN "):
                name, buf = text.split()[1], []
            elif text.startswith("@@OUT-END ") and name:
                blocks[name] = ("\n".join(buf) + "\n", int(text.rsplit("rc=", 1)[1]))
                name = None
            elif name:
                buf.append(text)
        return blocks

    def tap_blocks(self):
        """{block name: [TapResult]} of the @@TAP-BEGIN NAME MODE ...
        @@TAP-END NAME blocks, in console order (selftests/fphint/lib.sh); a
        block that printed no result is there, empty.  MODE kunit counts the
        indented KTAP case lines (KUnit's suite line sums them up); tap the
        top-level ones."""
        out, block, mode = {}, None, None
        for _, text in self.lines:
            if text.startswith("@@TAP-BEGIN "):
                _, block, mode = text.split()[:3]
                out.setdefault(block, [])
            elif text.startswith("@@TAP-END"):
                block = None
            elif block is not None:
                res = tap_result(text, indented=mode == "kunit")
                if res:
                    out[block].append(res)
        return out

    def seen(self, prefix):
        return any(text.startswith(prefix) for _, text in self.lines)

    def events(self, kind="@@EVENT"):
        """[(host time, {key: value})] for lines starting with @kind."""
        out = []
        for t, text in self.lines:
            if text.startswith(kind + " "):
                fields = dict(kv.split("=", 1) for kv in text.split()[2:] if "=" in kv)
                fields["_what"] = text.split()[1]
                out.append((t, fields))
        return out

    def stats(self):
        """[(host time, {counter: int})] from @@STATS lines."""
        out = []
        for t, text in self.lines:
            if text.startswith("@@STATS "):
                kv = dict(p.split("=", 1) for p in text.split()[1:])
                out.append((t, {k: (float(v) if k == "t" else int(v)) for k, v in kv.items()}))
        return out

    def rss_at(self, t):
        """RSS (KiB) of the last sample at or before host time @t."""
        best = None
        for ts, kib in self.rss:
            if ts > t:
                break
            best = kib
        return best

    def console_problems(self, allow_oom=False):
        bad = re.compile(r"WARNING:|BUG:|Call Trace:|Kernel panic|KVM internal error|"
                         r"possible circular locking|sleeping function called|"
                         r"inconsistent lock state|possible recursive locking|"
                         r"suspicious RCU usage|DEBUG_LOCKS_WARN_ON|lock held when returning|"
                         r"list_add corruption|list_del corruption|Oops|general protection|"
                         r"Bad page|soft lockup|blocked for more than|detected stall")
        # The OOM killer's report carries a stack dump of the allocating
        # task; suites that drive the guest to OOM on purpose allow it.
        out, in_oom = [], False
        for _, text in self.lines:
            if allow_oom and "invoked oom-killer" in text:
                in_oom = True
            elif in_oom and re.search(r"Out of memory: Killed process|oom-kill:", text):
                in_oom = False
            if bad.search(text) and not (in_oom and "Call Trace:" in text):
                out.append(text)
        return out


def _connect(path, timeout):
    """Connect to QEMU's unix socket @path, retrying while QEMU creates it."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(path)
            return s
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _read_json(f):
    line = f.readline()
    if not line:
        raise ConnectionError("QEMU closed the socket")
    return json.loads(line)


def _arguments(args, raw):
    out = {k.replace("_", "-"): v for k, v in args.items()}
    out.update(raw or {})
    return out


def qmp(g, cmd, _timeout=10, _args=None, **args):
    """Run one QMP command on Guest @g (started with qmp=True); its "return"
    value.  One connection per call: greeting, qmp_capabilities, command;
    asynchronous events on the way are skipped.  Keyword arguments are sent
    with '_' turned into '-' (capture_output=True -> "capture-output");
    _args={...} is sent as is.  Raises RuntimeError on a QMP error."""
    (ret,) = qmp_batch(g, [(cmd, _arguments(args, _args))], _timeout)
    if isinstance(ret, Exception):
        raise ret
    return ret


# The patched balloon's counters of the free page reporting queue
# (qemu/patches/0001-*, the last three from 0003-*): QOM property names; qom-get on the PCI device
# (balloon0) reads them through aliases.
REPORT_COUNTERS = ["report-reports", "report-ranges", "report-bytes-requested",
                   "report-bytes-discarded", "report-bytes-skipped-inhibited",
                   "report-bytes-skipped-poison", "report-bytes-skipped-unaligned",
                   "report-bytes-skipped-not-ram", "report-bytes-failed",
                   "report-discard-ns", "report-hypercalls", "report-hypercalls-refused",
                   "report-bytes-skipped-invalid"]
BALLOON = "/machine/peripheral/balloon0"


def qmp_batch(g, cmds, _timeout=10):
    """Several QMP commands on one connection: [(cmd, {args}), ...] -> a list
    of their "return" values, or of RuntimeError for those that failed."""
    out = []
    with _connect(g.qmp_path, _timeout) as s, s.makefile("rwb") as f:
        _read_json(f)
        for i, (c, a) in enumerate([("qmp_capabilities", {})] + list(cmds)):
            msg = {"execute": c, "id": i}
            if a:
                msg["arguments"] = a
            f.write(json.dumps(msg).encode() + b"\n")
            f.flush()
            while True:
                r = _read_json(f)
                if "event" not in r and r.get("id") == i:
                    break
            if i:
                err = r.get("error", {})
                out.append(RuntimeError(f"QMP {c}: {err.get('class')}: {err.get('desc')}")
                           if "error" in r else r.get("return"))
    return out


def host_counters(g, path=BALLOON):
    """{'report_bytes_discarded': N, ...} from the patched balloon, or None
    when this QEMU has no such properties (stock)."""
    vals = qmp_batch(g, [("qom-get", {"path": path, "property": p}) for p in REPORT_COUNTERS])
    if any(isinstance(v, Exception) for v in vals):
        return None
    return {p.replace("-", "_"): v for p, v in zip(REPORT_COUNTERS, vals)}


class CounterSampler:
    """host_counters(g) every @interval seconds while QEMU runs, in a thread:
    .samples is [(host time, counters)], on g's clock (g.now(), the clock of
    g.lines)."""
    def __init__(self, g, interval=0.25):
        self.g, self.interval, self.samples = g, interval, []
        self.errors = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set() and self.g.proc.poll() is None:
            try:
                c = host_counters(self.g)
                if c is not None:
                    self.samples.append((self.g.now(), c))
            except (OSError, ConnectionError, ValueError) as e:
                if self.g.proc.poll() is None:
                    self.errors.append(str(e))
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._t.join(5)
        return self

    def before(self, t):
        """The last sample taken before host time @t (None if none)."""
        return sample_before(self.samples, t)


def qga(g, cmd, _timeout=10, _args=None, **args):
    """Run one guest agent command on Guest @g (started with qga=True); its
    "return" value.  First guest-sync-delimited: the agent answers after a
    0xFF byte, which drops whatever a previous, abandoned exchange left in
    the channel.  Argument names as for qmp().  Raises RuntimeError on an
    agent error, socket.timeout while the agent is not up (yet)."""
    with _connect(g.qga_path, _timeout) as s:
        def send(c, a):
            msg = {"execute": c}
            if a:
                msg["arguments"] = a
            s.sendall(json.dumps(msg).encode() + b"\n")

        buf = b""

        def recv_until(sep):
            """What arrives before the next @sep; @sep itself is dropped."""
            nonlocal buf
            while sep not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("guest agent socket closed")
                buf += chunk
            head, buf = buf.split(sep, 1)
            return head

        def recv_line():
            return recv_until(b"\n")

        sid = random.randrange(1, 1 << 31)
        s.sendall(b"\xff")       # resets the agent's JSON parser
        send("guest-sync-delimited", {"id": sid})
        while True:                # everything up to the sentinel is stale
            recv_until(b"\xff")
            r = json.loads(recv_line())
            if r.get("return") == sid:
                break
        send(cmd, _arguments(args, _args))
        if cmd in QGA_NO_REPLY:
            return None
        while True:
            line = recv_line().strip()
            if not line:
                continue
            r = json.loads(line)
            if "error" in r:
                raise RuntimeError(f"QGA {cmd}: {r['error'].get('class')}: {r['error'].get('desc')}")
            return r.get("return")


def boot(test, accel, timeout, **kw):
    return Guest(test, accel, **kw).start().wait(timeout)


def _probe(accel):
    g = Guest("probe", accel, mem_mib=256, smp=1, profile="none").start()
    deadline = time.monotonic() + (20 if accel == "kvm" else 60)
    while time.monotonic() < deadline and g.proc.poll() is None:
        if g.seen("@@DONE"):
            break
        time.sleep(0.1)
    g.wait(5)
    return g.seen("@@DONE") and not g.console_problems()


def pick_accel():
    """KVM when a guest really boots under it, else TCG.  Cached per host boot."""
    forced = os.environ.get("FPHINT_ACCEL")
    if forced in ACCEL_ARGS:
        return forced, "forced by FPHINT_ACCEL"
    try:
        boot_id = open("/proc/sys/kernel/random/boot_id").read().strip()
    except OSError:
        boot_id = ""
    cache = os.path.join(BUILD, "accel")
    try:
        cached_id, cached = open(cache).read().split()
        if cached_id == boot_id and cached in ACCEL_ARGS:
            return cached, "probed earlier on this host boot"
    except (OSError, ValueError):
        pass
    why = "KVM guest booted"
    accel = "kvm"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        accel, why = "tcg", "/dev/kvm not usable"
    elif not _probe("kvm"):
        accel, why = "tcg", "KVM guest failed to boot (emulation failure on this host)"
    with open(cache, "w") as f:
        f.write(f"{boot_id} {accel}\n")
    return accel, why


def clock_offset(g):
    """Host time minus guest uptime, from the line that arrived fastest.

    Console lines reach the host late under TCG (the freeing can be half
    reported before its line arrives), so events are placed on the host
    timeline by the guest's own timestamp plus this offset."""
    offs = [t - float(e["t"]) for t, e in g.events() + g.events("@@STATS") if "t" in e]
    offs += [t - s["t"] for t, s in g.stats()]
    return min(offs) if offs else 0.0


def stats_on_host_clock(g):
    """g.stats() with each sample placed on the host clock by the guest's
    own timestamp (clock_offset), not by when its line arrived."""
    off = clock_offset(g)
    return [(s["t"] + off, s) for _, s in g.stats()]


def sample_before(samples, t, inclusive=False):
    """The value of the last (time, value) of @samples taken before @t (or
    at @t, @inclusive); None if there is none."""
    got = [v for ts, v in samples if ts < t or (inclusive and ts == t)]
    return got[-1] if got else None


def counter_delta(before, after):
    """{counter: after - before} of two counter samples (Guest.stats()
    values, host_counters() dicts): what moved in between.  The sample
    time "t" is left out."""
    return {k: after[k] - before[k] for k in after if k != "t" and k in before}


def burst_curve(g, phase):
    """Fraction of the freed memory gone from QEMU's RSS over time, for the
    burst that follows the "@@EVENT phase name=PHASE" line.

    Time 0 is when the guest started freeing.  The baseline is the highest
    RSS while the guest held the memory.  Returns (points [(s, fraction)],
    t0 on the host clock, baseline KiB, bytes freed) or None."""
    off = clock_offset(g)
    evs = [(float(e["t"]) + off, e) for _, e in g.events() if "t" in e]
    start = next((i for i, (t, e) in enumerate(evs)
                  if e["_what"] == "phase" and e.get("name") == phase), None)
    if start is None:
        return None
    after = evs[start + 1:]
    end = next((t for t, e in after if e["_what"] == "phase"), float("inf"))
    touched = next((t for t, e in after if e["_what"] == "touched"), None)
    freeing = next((t for t, e in after if e["_what"] == "freeing"), None)
    freed = next((e for t, e in after if e["_what"] == "freed"), None)
    if touched is None or freeing is None or freed is None:
        return None
    size = int(freed["bytes"])
    held = [kib for t, kib in g.rss if touched <= t <= freeing]
    if not held:
        return None
    base = max(held)
    pts = [(t - freeing, (base - kib) * 1024 / size)
           for t, kib in g.rss if freeing <= t < end]
    return pts, freeing, base, size


def time_to(points, frac):
    for t, f in points:
        if f >= frac:
            return t
    return None


def frac_at(points, secs):
    best = 0.0
    for t, f in points:
        if t > secs:
            break
        best = f
    return best


def curve_times(points):
    """The summary figures of a burst curve: t90 and t95 (None: never
    reached), the fraction gone at 1 s and at 10 s."""
    return {"t90": time_to(points, 0.90), "t95": time_to(points, 0.95),
            "at_1s": frac_at(points, 1.0), "at_10s": frac_at(points, 10.0)}
