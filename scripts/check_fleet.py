"""make check suite fleet: `fphintctl host` over several VMs at once.

Two small guests on the patched QEMU (512 MiB, 1 vCPU, each freeing
128 MiB so that its host counters move) plus a dead socket in one
directory; one more guest as a libvirt domain.  Checked against what QMP
and /proc say directly:

  * `host --qmp-dir DIR stats`: one entry per VM, the dead one an error
    entry, exit 2; pid, RSS, balloon size and host counters agree;
  * `host ... export`: `promtool check metrics` (Debian's prometheus) finds
    nothing to complain about, the values agree;
  * `export --textfile` read by Debian's prometheus-node-exporter (started
    here on a free loopback port, textfile collector only): its /metrics
    serves the fphint series with the file's values;
  * `export --listen`: /metrics over HTTP, read again at each scrape;
  * libvirt: libvirtd (and virtlogd) started here unless running, a TCG
    domain (<domain type='qemu'>) booting the fphint guest on the patched
    QEMU with the balloon's free page reporting, read through
    `host --libvirt qemu:///system stats|export`; destroyed, undefined and
    the daemons stopped after.

The test packages are installed here (scripts/lib.sh apt_install,
idempotent).  About 2 minutes under TCG on 2 cores (112 s measured, the
three guests booting at once).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from types import SimpleNamespace
from xml.sax.saxutils import escape, quoteattr

from checklib import check_console, report, vm

TEST_PKGS = ["prometheus", "prometheus-node-exporter", "libvirt-daemon-system",
             "libvirt-daemon-driver-qemu", "libvirt-clients"]
CTL = os.path.join(vm.BUILD, "cli", "host", "fphintctl")
MEM_MIB = 512
BURST = 128 << 20           # what scenario-fleet frees
URI = "qemu:///system"
DOMAIN = "fphint-fleet"
LIBVIRT_SOCK = "/run/libvirt/libvirt-sock"
BOOT_S = 600                # generous: TCG, debug kernel, three guests at once


def sh(*cmd, timeout=120, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def ctl(*args, timeout=120):
    return sh(CTL, *args, timeout=timeout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path="/metrics", tries=100):
    """(status, body) of GET http://127.0.0.1:PORT/PATH, retrying while
    the server starts."""
    for _ in range(tries):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""
        except OSError:
            time.sleep(0.1)
    return None, ""


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text):
    """{(metric, vm, reason): value} of the exposition @text."""
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m and not line.startswith("#"):
            labels = dict(LABEL.findall(m.group(2) or ""))
            out[(m.group(1), labels.get("vm"), labels.get("reason"))] = float(m.group(3))
    return out


def promtool(text):
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).strip()


def proc_rss(pid):
    kib = vm.qemu_rss_kib(pid)
    return None if kib is None else kib * 1024


def near(a, b, tol=0.10):
    return a is not None and b is not None and abs(a - b) <= tol * max(a, b)


class Reads:
    """What QMP says directly of one VM, before and after fphintctl read it:
    counters only grow, so fphintctl's must lie between the two."""

    def __init__(self, read):
        self.read = read
        self.before = read()

    def done(self):
        self.after = self.read()

    def holds(self, key, val):
        if not self.before or not self.after or val is None:
            return False
        return self.before[key] <= val <= self.after[key]


def counters_via_virsh(name):
    out = {}
    for p in vm.REPORT_COUNTERS:
        r = sh("virsh", "-c", URI, "qemu-monitor-command", name, json.dumps(
            {"execute": "qom-get", "arguments": {"path": vm.BALLOON, "property": p}}))
        if r.returncode:
            return None
        out[p.replace("-", "_")] = json.loads(r.stdout)["return"]
    return out


def wait_for(cond, timeout, step=0.5):
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(step)
    return cond()


# ---- libvirt ------------------------------------------------------------

def libvirt_running():
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(LIBVIRT_SOCK)
            return True
        except OSError:
            return False


def start_libvirt(logdir):
    """Start virtlogd and libvirtd unless libvirtd answers; their pid files
    if we started them (to stop them after), else []."""
    if libvirt_running():
        return []
    started = []
    for daemon in ("virtlogd", "libvirtd"):
        pidfile = os.path.join(logdir, f"fleet-{daemon}.pid")
        r = sh(daemon, "--daemon", "--pid-file", pidfile)
        if r.returncode:
            raise RuntimeError(f"{daemon} --daemon: {r.stderr.strip()}")
        started.append(pidfile)
    if not wait_for(libvirt_running, 30, 0.2):
        raise RuntimeError("libvirtd did not open " + LIBVIRT_SOCK)
    return started


def stop_libvirt(pidfiles):
    for pidfile in reversed(pidfiles):
        try:
            pid = int(open(pidfile).read())
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 30, 0.2)
        except (OSError, ValueError):
            pass


def domain_xml(name, console):
    """The documented domain (Documentation/mm/fphint-host.rst, libvirt):
    TCG, direct kernel boot of the fphint guest on the patched QEMU."""
    cmdline = "console=ttyS0 panic=-1 quiet loglevel=5 fphint.test=fleet"
    firmware = "".join(f"<qemu:arg value='-L'/><qemu:arg value={quoteattr(d)}/>"
                       for d in vm.FIRMWARE_DIRS if os.path.isdir(d))
    return f"""<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{escape(name)}</name>
  <memory unit='MiB'>{MEM_MIB}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{escape(vm.VMLINUX)}</kernel>
    <initrd>{escape(vm.INITRD)}</initrd>
    <cmdline>{escape(cmdline)}</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{escape(vm.PATCHED_QEMU)}</emulator>
    <serial type='file'>
      <source path={quoteattr(console)}/>
      <target port='0'/>
    </serial>
    <memballoon model='virtio' freePageReporting='on'>
      <stats period='2'/>
    </memballoon>
  </devices>
  <seclabel type='static' model='dac' relabel='no'>
    <label>+0:+0</label>
  </seclabel>
  <qemu:commandline>{firmware}</qemu:commandline>
</domain>
"""


def console_seen(path, prefix):
    try:
        return any(line.startswith(prefix) for line in open(path, errors="replace"))
    except OSError:
        return False


def console_problems(path):
    """Guest.console_problems() on the lines of a console log file."""
    try:
        lines = [(0, line.rstrip("\n")) for line in open(path, errors="replace")]
    except OSError:
        return ["no console log"]
    return vm.Guest.console_problems(SimpleNamespace(lines=lines))


def libvirt_pid(name):
    try:
        return int(open(f"/run/libvirt/qemu/{name}.pid").read())
    except (OSError, ValueError):
        return None


# ---- the suite ------------------------------------------------------------

def suite_fleet(accel, logdir):
    t0 = time.monotonic()
    r = sh("bash", "-c", f'source "{vm.TOP}/scripts/lib.sh"; apt_install "$@"', "apt_install",
           *TEST_PKGS, timeout=1800)
    report(r.returncode == 0, f"fleet: test packages installed ({' '.join(TEST_PKGS)})")
    r = sh("make", "-s", "-C", os.path.join(vm.TOP, "cli"),
           f"BUILD={os.path.join(vm.BUILD, 'cli')}", timeout=300)
    report(r.returncode == 0 and os.access(CTL, os.X_OK),
           f"fleet: host build of fphintctl with libvirt ({r.stderr.strip()[:200]})")
    if r.returncode or not os.access(CTL, os.X_OK):
        return
    work = tempfile.mkdtemp(prefix="fphint-fleet-")
    sockdir, textdir = os.path.join(work, "vms"), os.path.join(work, "textfile")
    os.makedirs(sockdir)
    os.makedirs(textdir)
    logs = [open(os.path.join(logdir, f"fleet-{n}.log"), "w") for n in "ab"]
    guests = [vm.Guest("fleet", accel, mem_mib=MEM_MIB, smp=1, qemu="patched", qmp=True,
                       log=logs[i], extra_args=["-name", f"fleet-{n}"]).start()
              for i, n in enumerate("ab")]
    daemons, exporters, defined = [], [], False
    console = os.path.join(logdir, "fleet-libvirt-console.log")
    try:
        try:
            daemons = start_libvirt(logdir)
            if os.path.exists(console):
                os.unlink(console)
            xml = os.path.join(work, "domain.xml")
            open(xml, "w").write(domain_xml(DOMAIN, console))
            sh("virsh", "-c", URI, "destroy", DOMAIN)       # a leftover of a killed run
            sh("virsh", "-c", URI, "undefine", DOMAIN)
            r = sh("virsh", "-c", URI, "define", xml)
            defined = r.returncode == 0
            if defined:
                r = sh("virsh", "-c", URI, "start", DOMAIN, timeout=300)
            report(r.returncode == 0, f"fleet: libvirt defined and started the domain "
                   f"({(r.stdout + r.stderr).strip()[:300]})")
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            report(False, f"fleet: libvirtd started ({e})")

        for n, g in zip("ab", guests):
            os.symlink(g.qmp_path, os.path.join(sockdir, f"{n}.sock"))
        # bound and never listening: connect() is refused, as for a QEMU that died
        socket.socket(socket.AF_UNIX).bind(os.path.join(sockdir, "c-dead.sock"))
        ready = wait_for(lambda: all(g.seen("@@HOST-TURN") or g.proc.poll() is not None
                                     for g in guests), BOOT_S)
        report(ready and all(g.seen("@@HOST-TURN") for g in guests),
               f"fleet: both QMP guests booted and freed {BURST >> 20} MiB "
               f"({time.monotonic() - t0:.0f} s)")
        if not all(g.seen("@@HOST-TURN") for g in guests):
            return
        sockets_checks(guests, sockdir)
        exporters += node_exporter_checks(guests, sockdir, textdir, logdir)
        exporters += listen_checks(guests, sockdir)
        if defined:
            libvirt_checks(console)
    finally:
        for p in exporters:
            p.terminate()
            p.wait(30)
        for g in guests:
            if g.proc.poll() is None:
                try:
                    vm.qmp(g, "quit")
                except (OSError, RuntimeError, ValueError):
                    pass
            g.wait(60)
        for g in guests:
            check_console(g, f"fleet: {g.cmd[g.cmd.index('-name') + 1]}")
        if defined:
            sh("virsh", "-c", URI, "destroy", DOMAIN)
            problems = console_problems(console)
            report(not problems, f"fleet: {DOMAIN}: no kernel warning, BUG or call trace on "
                   f"the console {problems[:3]}")
            r = sh("virsh", "-c", URI, "undefine", DOMAIN)
            report(r.returncode == 0 and sh("virsh", "-c", URI, "dominfo", DOMAIN).returncode,
                   "fleet: libvirt domain destroyed and undefined")
        stop_libvirt(daemons)
        if daemons:
            report(not libvirt_running(), "fleet: the libvirt daemons started here are stopped")
        for f in logs:
            f.close()
        shutil.rmtree(work, ignore_errors=True)
        print(f"# fleet: {time.monotonic() - t0:.0f} s", flush=True)


def sockets_checks(guests, sockdir):
    names = ["fleet-a", "fleet-b", "c-dead.sock"]
    direct = [Reads(lambda g=g: vm.host_counters(g)) for g in guests]
    r = ctl("-j", "host", "--qmp-dir", sockdir, "stats")
    for d in direct:
        d.done()
    try:
        got = json.loads(r.stdout)
    except ValueError:
        got = []
    report(r.returncode == 2 and [v.get("vm") for v in got] == names,
           f"fleet: --qmp-dir stats: one entry per socket, named by -name, exit 2 "
           f"for the dead one (rc {r.returncode}, {[v.get('vm') for v in got]})")
    if len(got) != 3:
        return
    dead = got[2]
    report(set(dead) == {"vm", "error"} and "Connection refused" in dead["error"],
           f"fleet: the dead socket is an error entry ({dead})")
    for g, v, d in zip(guests, got, direct):
        name = v["vm"]
        rss = proc_rss(g.proc.pid)
        report(v.get("qemu_pid") == g.proc.pid and near(v.get("qemu_rss_bytes"), rss),
               f"fleet: {name}: pid {v.get('qemu_pid')} and RSS {v.get('qemu_rss_bytes')} "
               f"match /proc ({g.proc.pid}, {rss})")
        report(v.get("balloon_actual_bytes") == MEM_MIB << 20 and v.get("free_page_reporting"),
               f"fleet: {name}: balloon {v.get('balloon_actual_bytes')} bytes, "
               f"free page reporting negotiated")
        report(d.holds("report_bytes_discarded", v.get("report_bytes_discarded")) and
               v["report_bytes_discarded"] >= BURST // 2,
               f"fleet: {name}: report_bytes_discarded {v.get('report_bytes_discarded')} moved "
               f"(>= {BURST // 2}) and agrees with QMP ({d.before and d.before['report_bytes_discarded']}"
               f"..{d.after and d.after['report_bytes_discarded']})")

    # the Prometheus export of the same, linted by promtool
    direct = [Reads(lambda g=g: vm.host_counters(g)) for g in guests]
    r = ctl("host", "--qmp-dir", sockdir, "export")
    for d in direct:
        d.done()
    rc, lint = promtool(r.stdout)
    report(r.returncode == 2 and rc == 0 and r.stdout.startswith("# HELP"),
           f"fleet: export of 2 live guests and a dead socket passes promtool check metrics "
           f"(export rc {r.returncode}, promtool rc {rc} {lint[:200]})")
    s = samples(r.stdout)
    report([s.get(("fphint_vm_up", n, None)) for n in names] == [1, 1, 0],
           f"fleet: export: fphint_vm_up 1, 1, 0 for {names}")
    for g, d, n in zip(guests, direct, names):
        disc = s.get(("fphint_host_report_discarded_bytes_total", n, None))
        rss = proc_rss(g.proc.pid)
        report(d.holds("report_bytes_discarded", disc) and
               near(s.get(("fphint_qemu_resident_memory_bytes", n, None)), rss) and
               s.get(("fphint_balloon_actual_bytes", n, None)) == MEM_MIB << 20,
               f"fleet: export {n}: discarded {disc}, RSS "
               f"{s.get(('fphint_qemu_resident_memory_bytes', n, None))} (/proc {rss}), "
               f"balloon agree with QMP and /proc")


def node_exporter_checks(guests, sockdir, textdir, logdir):
    prom = os.path.join(textdir, "fphint.prom")
    r = ctl("host", "--qmp-dir", sockdir, "export", "--textfile", prom)
    text = open(prom).read() if os.path.exists(prom) else ""
    report(r.returncode == 2 and os.listdir(textdir) == ["fphint.prom"] and promtool(text)[0] == 0,
           f"fleet: export --textfile wrote {prom} alone, promtool-clean (rc {r.returncode})")
    port = free_port()
    log = open(os.path.join(logdir, "fleet-node-exporter.log"), "w")
    p = subprocess.Popen(["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}",
                          "--collector.disable-defaults", "--collector.textfile",
                          f"--collector.textfile.directory={textdir}"],
                         stdout=log, stderr=subprocess.STDOUT)
    status, body = http_get(port)
    served, filed = samples(body), samples(text)
    fphint = {k: v for k, v in served.items() if k[0].startswith("fphint_")}
    report(status == 200 and served.get(("node_textfile_scrape_error", None, None)) == 0 and
           fphint == filed and len(fphint) > 20,
           f"fleet: node_exporter's /metrics serves the {len(fphint)} fphint samples of the "
           f"textfile, values unchanged: {fphint == filed} (HTTP {status}, "
           f"scrape_error {served.get(('node_textfile_scrape_error', None, None))})")
    disc = fphint.get(("fphint_host_report_discarded_bytes_total", "fleet-a", None))
    direct = vm.host_counters(guests[0])
    report(disc is not None and direct and disc <= direct["report_bytes_discarded"] and
           disc >= BURST // 2,
           f"fleet: node_exporter: fleet-a discarded {disc} bytes, QMP now "
           f"{direct and direct['report_bytes_discarded']}")
    return [p]


def listen_checks(guests, sockdir):
    port = free_port()
    p = subprocess.Popen([CTL, "host", "--qmp-dir", sockdir, "export", "--listen",
                          f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    d = Reads(lambda: vm.host_counters(guests[0]))
    status, body = http_get(port)
    d.done()
    s = samples(body)
    disc = s.get(("fphint_host_report_discarded_bytes_total", "fleet-a", None))
    report(status == 200 and promtool(body)[0] == 0 and d.holds("report_bytes_discarded", disc)
           and s.get(("fphint_vm_up", "fleet-b", None)) == 1,
           f"fleet: export --listen: HTTP {status}, promtool-clean, fleet-a discarded {disc}")
    # fleet-b goes away: the next scrape must not still see it up
    try:
        vm.qmp(guests[1], "quit")
    except (OSError, RuntimeError, ValueError):
        pass
    guests[1].wait(60)
    status, body = http_get(port)
    s = samples(body)
    report(status == 200 and s.get(("fphint_vm_up", "fleet-a", None)) == 1 and
           s.get(("fphint_vm_up", "fleet-b", None)) in (None, 0),
           f"fleet: export --listen reads the VMs at each scrape: fleet-b down after quit "
           f"({s.get(('fphint_vm_up', 'fleet-b', None))})")
    status, _ = http_get(port, "/")
    report(status == 404, f"fleet: export --listen: 404 off /metrics ({status})")
    return [p]


def libvirt_checks(console):
    up = wait_for(lambda: console_seen(console, "@@HOST-TURN") or
                  sh("virsh", "-c", URI, "domstate", DOMAIN).stdout.strip() != "running",
                  BOOT_S, 1)
    report(up and console_seen(console, "@@HOST-TURN"),
           "fleet: the libvirt domain booted the fphint guest (direct kernel boot) and freed memory")
    if not console_seen(console, "@@HOST-TURN"):
        return
    pid = libvirt_pid(DOMAIN)
    d = Reads(lambda: counters_via_virsh(DOMAIN))
    r = ctl("-j", "host", "--libvirt", URI, "stats")
    d.done()
    try:
        got = [v for v in json.loads(r.stdout) if v.get("vm") == DOMAIN]
    except ValueError:
        got = []
    v = got[0] if got else {}
    rss = proc_rss(pid) if pid else None
    report(r.returncode == 0 and v.get("qemu_pid") == pid and near(v.get("qemu_rss_bytes"), rss),
           f"fleet: --libvirt stats: {DOMAIN} read through libvirt, pid {v.get('qemu_pid')} "
           f"(pid file {pid}), RSS {v.get('qemu_rss_bytes')} (/proc {rss}) (rc {r.returncode} "
           f"{r.stderr.strip()[:200]})")
    report(v.get("free_page_reporting") is True and v.get("host_counters") is True and
           v.get("balloon_actual_bytes") == MEM_MIB << 20 and
           d.holds("report_bytes_discarded", v.get("report_bytes_discarded")) and
           v["report_bytes_discarded"] >= BURST // 2,
           f"fleet: --libvirt stats: reporting negotiated, discarded "
           f"{v.get('report_bytes_discarded')} agrees with virsh qemu-monitor-command "
           f"({d.before and d.before['report_bytes_discarded']}"
           f"..{d.after and d.after['report_bytes_discarded']})")
    d = Reads(lambda: counters_via_virsh(DOMAIN))
    r = ctl("host", "--libvirt", URI, "export")
    d.done()
    s = samples(r.stdout)
    disc = s.get(("fphint_host_report_discarded_bytes_total", DOMAIN, None))
    report(r.returncode == 0 and promtool(r.stdout)[0] == 0 and
           s.get(("fphint_vm_up", DOMAIN, None)) == 1 and d.holds("report_bytes_discarded", disc),
           f"fleet: --libvirt export: promtool-clean, {DOMAIN} up, discarded {disc}")
