"""Boot the fphint guest under QEMU and watch it from the host.

One Guest is one QEMU process: its console is read line by line (each line
stamped with host time on arrival), and its RSS is sampled from
/proc/PID/status every SAMPLE_S.  Lines the guest scenarios print start with
"@@" (see qemu/guest/init and selftests/fphint/lib.sh).
"""
import os
import re
import subprocess
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("FPHINT_BUILD", os.path.join(TOP, "build"))
VMLINUX = os.path.join(BUILD, "kernel-out", "vmlinux")
INITRD = os.path.join(BUILD, "initrd.gz")
SAMPLE_S = 0.05
MIB = 1 << 20

# Launch profiles: the device line each one adds (qemu/profiles.md).
PROFILES = {
    "reporting": ["-device", "virtio-balloon-pci,free-page-reporting=on"],
    "balloon": ["-device", "virtio-balloon-pci"],
    "none": [],
}

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


class Guest:
    def __init__(self, test, accel, append="", mem_mib=2048, smp=2,
                 profile="reporting", log=None):
        self.test = test
        self.accel = accel
        self.lines = []       # (host time, text)
        self.rss = []         # (host time, KiB)
        self.cpu = []         # (host time, QEMU user+system CPU seconds)
        self.log = log
        cmdline = f"console=ttyS0 panic=-1 quiet fphint.test={test} {append}".strip()
        self.cmd = (["qemu-system-x86_64", "-m", str(mem_mib), "-smp", str(smp),
                     "-nodefaults", "-display", "none", "-serial", "stdio",
                     "-monitor", "none", "-no-reboot",
                     "-kernel", VMLINUX, "-initrd", INITRD, "-append", cmdline]
                    + ACCEL_ARGS[accel] + PROFILES[profile])
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
                self.cpu.append((self.now(), (int(fields[11]) + int(fields[12])) / hz))
            except (OSError, IndexError, ValueError):
                pass
            time.sleep(SAMPLE_S)

    def cpu_between(self, t0, t1):
        """QEMU CPU seconds spent between host times @t0 and @t1."""
        a = [c for t, c in self.cpu if t <= t0]
        b = [c for t, c in self.cpu if t <= t1]
        return (b[-1] - a[-1]) if a and b else None

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
        return self

    def save_rss(self, path):
        with open(path, "w") as f:
            f.write("t_s,rss_kib\n")
            for t, kib in self.rss:
                f.write(f"{t:.3f},{kib}\n")

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

    def console_problems(self):
        bad = re.compile(r"WARNING:|BUG:|Call Trace:|Kernel panic|KVM internal error|"
                         r"possible circular locking|sleeping function called")
        return [text for _, text in self.lines if bad.search(text)]


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
