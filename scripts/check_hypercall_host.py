"""make check suite hypercall-host: the fphint report hypercall, host side
(qemu/patches/0003-*), on the patched QEMU.

  * ring 3, Linux guests (the debug kernel, 256 MiB, 1 vCPU), balloon with
    fphint-hypercall=on and =off, an Intel CPU model (-cpu Skylake-Client:
    VMCALL matters) and an AMD one (-cpu EPYC: VMMCALL):
    selftests/fphint/fphint_hypercall_user.c issues both instructions with
    nr 30.  On: RAX = -1 (-KVM_EPERM), nothing touched, QEMU runs on and
    counts report-hypercalls-refused; bit 22 is in the balloon's feature
    bits (/sys/bus/virtio/devices/*/features).  Off: SIGILL (#UD) as on
    stock QEMU, bit 22 absent, nothing counted.
  * ring 0, no Linux: selftests/fphint/fphint_hc_ring0.c, a multiboot
    kernel booted with -kernel (32-bit, paging off), VMCALL on
    Skylake-Client and VMMCALL on EPYC: bad numbers, counts, flags and
    report pages refused with the right error; a report with one entry of
    every kind gets the right outcome in each entry (DISCARDED_ZERO,
    SKIP_INVALID, SKIP_NOT_RAM for the BIOS shadow, the APIC, past RAM,
    across the end of RAM and the BIOS ROM, SKIP_OVERLAP); discarded memory reads
    zero; a full page of 512 entries; and the host counters agree with it
    to the byte.  Off: the instruction raises #UD.

  * hotplug: a balloon with fphint-hypercall=on plugged into a running Linux
    guest (no balloon at boot) and unplugged: ring-3 VMCALL goes #UD ->
    -KVM_EPERM -> #UD (scenario-hypercall-hotplug), the translation cache
    flushed at each change.
  * KVM routing: QEMU started paused under KVM with the property on offers
    bit 22 exactly when this host's KVM_CHECK_EXTENSION(KVM_CAP_EXIT_HYPERCALL)
    includes bit 30, and warns once when it does not (stock 6.1: mask 0x1000).

Under KVM (not on our CI machines) ring 3 gets -KVM_EPERM from KVM itself
whatever QEMU offers, and bit 22 depends on the host kernel
(qemu/kvm/); those checks are skipped there.

Ring-0 calls from Linux (transport-hypercall.c, its bad-input sweep
through debugfs hypercall_raw, the 640 MiB end to end) are the `hypercall`
suite's (scripts/check_hypercall.py); here a Linux guest with
fphint-hypercall=on must negotiate bit 22.
About a minute under TCG (30-75 s measured on 2 shared cores).
"""
import os
import subprocess
import time

from checklib import check_console, guest_sh, release_guest, report, tagged_line, vm, wait_seen

MODELS = [("intel", "Skylake-Client", "vmcall"), ("amd", "EPYC", "vmmcall")]
BALLOON = "virtio-balloon-pci,id=balloon0,free-page-reporting=on,fphint-hypercall={}"
FEATURE_BIT = 22
NEW_COUNTERS = ["report-hypercalls", "report-hypercalls-refused", "report-bytes-skipped-invalid"]
R0_SRC = os.path.join(vm.TOP, "selftests/fphint/fphint_hc_ring0.c")
R0_ELF = os.path.join(vm.BUILD, "hc", "fphint_hc_ring0.elf")
PAGE = 4096


def build_ring0():
    os.makedirs(os.path.dirname(R0_ELF), exist_ok=True)
    cmd = ["gcc", "-m32", "-ffreestanding", "-nostdlib", "-static", "-fno-pic", "-no-pie",
           "-fno-stack-protector", "-O2", "-Wall", "-Werror",
           "-I" + os.path.join(vm.TOP, "kernel/include/uapi"),
           "-idirafter", "/usr/include/x86_64-linux-gnu",
           "-Wl,-N", "-Wl,-Ttext=0x100000", "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments",
           "-o", R0_ELF, R0_SRC]
    return subprocess.run(cmd, capture_output=True, text=True)


def counters(g):
    """All report-* counters of the balloon, new ones included."""
    names = vm.REPORT_COUNTERS + [n for n in NEW_COUNTERS if n not in vm.REPORT_COUNTERS]
    vals = vm.qmp_batch(g, [("qom-get", {"path": vm.BALLOON, "property": p}) for p in names])
    return {p.replace("-", "_"): (None if isinstance(v, Exception) else v)
            for p, v in zip(names, vals)}


def ring3(accel, logdir, vendor, model, insn, on):
    """One Linux guest; its checks reported under "hypercall-host: ring 3 ..."."""
    label = f"hypercall-host: ring 3, {model}, fphint-hypercall={'on' if on else 'off'}"
    path = os.path.join(logdir, f"hypercall-host-r3-{vendor}-{'on' if on else 'off'}.log")
    log = open(path, "w")
    g = vm.Guest("hypercall", accel, mem_mib=256, smp=1, profile="none", log=log, qmp=True,
                 qga=True, qemu="patched",
                 extra_args=["-device", BALLOON.format("on" if on else "off"), "-cpu", model])
    return label, log, g


def ring3_checks(accel, label, g, insn, on, hc, status):
    kvm = accel == "kvm"
    feats = next((tagged_line(t).get("features") for _, t in g.lines
                  if t.startswith("@@BALLOON ")), None)
    bit = feats[FEATURE_BIT] if feats and len(feats) == 64 else None
    offered = None
    if isinstance(status, dict):
        offered = any("VIRTIO_BALLOON_F_FPHINT_HYPERCALL" in f
                      for f in status.get("host-features", {}).get("dev-features", []))
    if kvm and on:
        report(True, f"{label}: bit 22 offered ({offered})", "KVM: depends on the host kernel")
    else:
        report(offered is on, f"{label}: the device {'offers' if on else 'does not offer'} "
                              f"VIRTIO_BALLOON_F_FPHINT_HYPERCALL (x-query-virtio-status host-features)")
    # The guest's features file holds the negotiated bits; the guest's
    # driver knows bit 22 (kernel/patches/0005), so it negotiates what is offered.
    if on and kvm:
        report(bit in ("0", "1"), f"{label}: guest features file read (bit 22 negotiated: {bit}; "
                                  f"{feats})")
    elif on:
        report(bit == "1", f"{label}: bit 22 negotiated by the guest ({feats})")
    else:
        report(bit == "0", f"{label}: bit 22 absent in the guest's features ({feats})")
    res = {}
    for _, t in g.lines:
        if t.startswith("@@HCUSER "):
            kv = tagged_line(t)
            res[kv.get("insn")] = kv
    for which in ("vmcall", "vmmcall"):
        r = res.get(which, {})
        if on or kvm:
            ok = r.get("result") == "ret" and r.get("rax") == "-1" and r.get("victim") == "intact"
            want = "RAX -1 (-KVM_EPERM), memory intact"
        else:
            ok = r.get("result") == "sigill"
            want = "SIGILL (#UD, as stock QEMU)"
        name = f"{label}: {which} from ring 3 gets {want} ({r or 'no result'})"
        if which == insn:
            report(ok, name)
        else:
            # the other vendor's instruction: TCG routes it alike
            report(ok or kvm, name + " [other vendor's instruction]")
    report(g.proc.poll() is None or g.seen("@@DONE rc=0"), f"{label}: QEMU kept running")
    if hc is None:
        report(False, f"{label}: host counters read at the host's turn")
    else:
        calls = 2 if (on and not kvm) else 0
        # (the queue's reports move the other counters: free page reporting is on)
        report(hc.get("report_hypercalls") == calls and hc.get("report_hypercalls_refused") == calls
               and hc.get("report_bytes_skipped_invalid") == 0,
               f"{label}: report-hypercalls {hc.get('report_hypercalls')}, -refused "
               f"{hc.get('report_hypercalls_refused')} (want {calls} each), skipped-invalid "
               f"{hc.get('report_bytes_skipped_invalid')} (want 0)")


def ring0(logdir, vendor, model, insn, on, backing="anon", mem_args=()):
    """The multiboot kernel: (Guest, log file)."""
    path = os.path.join(logdir, f"hypercall-host-r0-{vendor}-{'on' if on else 'off'}-{backing}.log")
    log = open(path, "w")
    g = vm.Guest("ring0", "tcg", mem_mib=128, smp=1, profile="none", log=log, qmp=True,
                 qemu="patched")
    g.cmd = (vm.qemu_argv("patched") + [
        "-m", "128", "-smp", "1", "-nodefaults", "-display", "none", "-serial", "stdio",
        "-monitor", "none", "-no-reboot", "-accel", "tcg", "-cpu", model,
        "-kernel", R0_ELF, "-append", f"HC={insn} BACKING={backing}", *mem_args,
        "-device", BALLOON.format("on" if on else "off"),
        "-qmp", f"unix:{g.qmp_path},server=on,wait=off"])
    return g.start(), log


def expected_r0(backing="anon"):
    """What the ring-0 kernel's calls must add to the counters."""
    pages = {"discarded": 256 + 4096 + 512, "invalid": 1 + 1 + 4, "not_ram": 1 + 1 + 16 + 2 + 1,
             "unaligned": 0}
    if backing == "hugetlbfs":      # the 1 MiB, the 512 single pages, the 16 KiB overlap
        pages["discarded"], pages["unaligned"], pages["invalid"] = 4096, 256 + 512 + 4, 2
    req = sum(pages.values()) * PAGE
    return {"report_hypercalls": 9, "report_hypercalls_refused": 7, "report_reports": 2,
            "report_ranges": 10 + 512, "report_bytes_requested": req,
            "report_bytes_discarded": pages["discarded"] * PAGE,
            "report_bytes_skipped_invalid": pages["invalid"] * PAGE,
            "report_bytes_skipped_not_ram": pages["not_ram"] * PAGE,
            "report_bytes_skipped_unaligned": pages["unaligned"] * PAGE,
            "report_bytes_skipped_inhibited": 0,
            "report_bytes_skipped_poison": 0, "report_bytes_failed": 0}


def ring0_checks(g, label, on):
    if not on:
        report(g.seen("@@R0 ud"), f"{label}: the instruction raises #UD, as on stock QEMU")
        return
    n = 0
    for _, t in g.lines:
        r = vm.tap_result(t)
        if r:
            n += 1
            report(r.ok, f"{label}: {r.title}", r.skip)
    report(n == 23, f"{label}: all 23 results printed ({n})")


KVM_CHECK_EXTENSION = 0xAE03      # _IO(KVMIO, 0x03), on /dev/kvm
KVM_CAP_EXIT_HYPERCALL = 201


def kvm_exit_mask():
    """KVM_CHECK_EXTENSION(KVM_CAP_EXIT_HYPERCALL) of this host: the numbers
    that may exit to user space (None without a usable /dev/kvm)."""
    import fcntl
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError:
        return None
    try:
        return fcntl.ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL)
    except OSError:
        return None
    finally:
        os.close(fd)


def kvm_routing(logdir):
    """Under KVM QEMU offers bit 22 only when the host kernel lets nr 30
    exit (qemu/kvm/); else it warns once.  QEMU starts paused (-S): no guest
    code runs, so this works where KVM cannot run Linux guests."""
    mask = kvm_exit_mask()
    if mask is None:
        report(True, "hypercall-host: KVM routing at realize", "no usable /dev/kvm")
        return
    routed = mask > 0 and bool(mask & (1 << 30))
    with open(os.path.join(logdir, "hypercall-host-kvm.log"), "w") as log:
        g = vm.Guest("probe", "kvm", mem_mib=128, smp=1, profile="none", log=log, qmp=True,
                     qemu="patched", extra_args=["-device", BALLOON.format("on"), "-S"])
        status = None
        with g.start():
            try:
                status = vm.qmp(g, "x-query-virtio-status", path=vm.BALLOON + "/virtio-backend",
                                _timeout=30)
            except (OSError, RuntimeError, ValueError) as e:
                print(f"# hypercall-host: KVM: QMP: {e}")
            time.sleep(0.5)     # the warning was printed at realize, before QMP
        offered = isinstance(status, dict) and any(
            "VIRTIO_BALLOON_F_FPHINT_HYPERCALL" in f
            for f in status.get("host-features", {}).get("dev-features", []))
        warned = sum("fphint-hypercall: KVM does not let hypercall 30 exit" in t for _, t in g.lines)
    report(status is not None and offered == routed and warned == (0 if routed else 1),
           f"hypercall-host: KVM (exit mask {mask:#x}): bit 22 {'offered' if offered else 'not offered'}, "
           f"{warned} warning(s) (want {'offered, none' if routed else 'not offered, one'})")


def ring0_run(logdir, vendor, model, insn, on, backing, mem_args):
    label = (f"hypercall-host: ring 0, {insn} on {model}, fphint-hypercall={'on' if on else 'off'}"
             + ("" if backing == "anon" else f", {backing} RAM"))
    g, log = ring0(logdir, vendor, model, insn, on, backing, mem_args)
    hc = None
    with g:
        if wait_seen(g, "@@R0 done", 60):
            try:
                hc = counters(g)
            except (OSError, ConnectionError, ValueError) as e:
                print(f"# {label}: QMP: {e}")
        report(g.seen("@@R0 done") and g.proc.poll() is None,
               f"{label}: ran to the end, QEMU still running")
    log.close()
    ring0_checks(g, label, on)
    if not on:
        if hc is not None:
            report(hc.get("report_hypercalls") == 0,
                   f"{label}: nothing counted ({hc.get('report_hypercalls')})")
        return
    want = expected_r0(backing)
    diff = {k: (hc or {}).get(k) for k, v in want.items() if (hc or {}).get(k) != v}
    report(hc is not None and not diff,
           f"{label}: host counters agree with the calls made to the byte"
           f"{' (differ: ' + str(diff) + ', want ' + str({k: want[k] for k in diff}) + ')' if diff else ''}")
    if hc:
        skipped = sum(v for k, v in hc.items() if "skipped" in k or "failed" in k)
        report(hc["report_bytes_requested"] == hc["report_bytes_discarded"] + skipped,
               f"{label}: requested {hc['report_bytes_requested']} = discarded "
               f"{hc['report_bytes_discarded']} + skipped/failed {skipped}")


def hotplug(accel, logdir):
    """A balloon with fphint-hypercall=on plugged into a running Linux guest
    and unplugged again: ring-3 VMCALL goes from #UD to -KVM_EPERM and back
    (the translation cache is flushed each time)."""
    label = "hypercall-host: hotplug"
    if accel == "kvm":
        report(True, f"{label}: #UD -> -KVM_EPERM -> #UD", "KVM answers ring 3 itself")
        return
    states = lambda: [t.split()[1] for _, t in g.lines if t.startswith("@@HCSTATE ")]

    def wait_state(n, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end and g.proc.poll() is None and len(states()) < n:
            time.sleep(0.1)
        return states()[n - 1] if len(states()) >= n else None
    with open(os.path.join(logdir, "hypercall-host-hotplug.log"), "w") as log:
        g = vm.Guest("hypercall-hotplug", accel, mem_mib=256, smp=1, profile="none", log=log,
                     qmp=True, qga=True, qemu="patched")
        g.start()
        got = []
        try:
            got.append(wait_state(1, 300))
            vm.qmp(g, "device_add", _args={"driver": "virtio-balloon-pci", "id": "balloon0",
                                           "free-page-reporting": True, "fphint-hypercall": True})
            got.append(wait_state(2, 60))
            hc = counters(g)
            vm.qmp(g, "device_del", id="balloon0")
            got.append(wait_state(3, 60))
            report(got == ["ud", "eperm", "ud"],
                   f"{label}: ring-3 VMCALL #UD, then -KVM_EPERM once plugged, #UD again once "
                   f"unplugged ({' -> '.join(str(s) for s in got)})")
            report(hc is not None and hc.get("report_hypercalls_refused", 0) > 0
                   and hc.get("report_hypercalls") == hc.get("report_hypercalls_refused"),
                   f"{label}: the plugged balloon counted the calls as refused "
                   f"({hc and hc.get('report_hypercalls_refused')} of {hc and hc.get('report_hypercalls')})")
        except (OSError, RuntimeError, ValueError) as e:
            report(False, f"{label}: {type(e).__name__}: {e} (states {got})")
        finally:
            release_guest(g)
    report(g.seen("@@DONE rc=0"), f"{label}: guest ran to the end")
    check_console(g, label)


def suite_hypercall_host(accel, logdir):
    t0 = time.monotonic()
    if not os.access(vm.PATCHED_QEMU, os.X_OK):
        report(False, f"hypercall-host: {vm.PATCHED_QEMU} built (make qemu)")
        return
    # ---- ring 0: the multiboot kernel, TCG (it does not need Linux) ----
    b = build_ring0()
    report(b.returncode == 0, f"hypercall-host: ring-0 test kernel built {b.stderr.strip()[:300]}")
    if b.returncode == 0:
        for vendor, model, insn in MODELS:
            for on in (True, False):
                ring0_run(logdir, vendor, model, insn, on, "anon", ())
        # a shared memfd: 4 KiB pages, discarded but not sure to read zero
        ring0_run(logdir, "intel", "Skylake-Client", "vmcall", True, "shared",
                  ("-object", "memory-backend-memfd,id=ram0,size=128M,share=on",
                   "-machine", "memory-backend=ram0"))
        # hugetlbfs: 2 MiB pages, less than one is SKIP_UNALIGNED
        from checklib import hugetlb_backing
        huge, why = hugetlb_backing(128)
        if huge:
            try:
                ring0_run(logdir, "intel", "Skylake-Client", "vmcall", True, "hugetlbfs", huge[0])
            finally:
                huge[1]()
        else:
            report(True, "hypercall-host: ring 0 on hugetlbfs", why)
    # ---- KVM: offered or not at realize ----
    kvm_routing(logdir)
    # ---- ring 3: Linux guests, on and off booted side by side ----
    for vendor, model, insn in MODELS:
        runs = [(on,) + ring3(accel, logdir, vendor, model, insn, on) for on in (True, False)]
        for _, _, _, g in runs:
            g.start()
        for on, label, log, g in runs:
            hc = status = None
            try:
                if wait_seen(g, "@@HOST-TURN", 300):
                    hc = counters(g)
                    status = vm.qmp(g, "x-query-virtio-status", path=vm.BALLOON + "/virtio-backend")
                    vm.qga(g, "guest-ping", _timeout=60)
            except (OSError, RuntimeError, ValueError) as e:
                print(f"# {label}: {type(e).__name__}: {e}")
            ring3_checks(accel, label, g, insn, on, hc, status)
        for on, label, log, g in runs:
            release_guest(g)
            log.close()
            report(g.seen("@@DONE rc=0"), f"{label}: guest ran to the end")
            check_console(g, label)
    hotplug(accel, logdir)
    print(f"# hypercall-host: {time.monotonic() - t0:.0f} s")


def suite_kvm_host(accel, logdir):
    """qemu/kvm/*.patch, the host kernel side: it applies to Debian's 6.1
    source and the KVM object it touches builds without a warning
    (scripts/kvm-host-check.sh; x86_64_defconfig + KVM Intel and AMD,
    ccache); its hypercall number is the uapi header's.  Nothing runs a
    host kernel here: qemu/kvm/README.md says how to on a real KVM host."""
    import re
    with open(os.path.join(logdir, "kvm-host.log"), "w") as log:
        r = subprocess.run([os.path.join(vm.TOP, "scripts", "kvm-host-check.sh")],
                           stdout=subprocess.PIPE, stderr=log, text=True)
        log.write(r.stdout)
    built = re.findall(r"kvm-host: (\S+) builds, (\d+) warnings", r.stdout)
    report(r.returncode == 0 and bool(built),
           f"kvm-host: qemu/kvm patches apply to 6.1 and build ({', '.join(o for o, _ in built) or 'nothing built'}, "
           f"rc {r.returncode}; log kvm-host.log)")
    for obj, warnings in built:
        report(warnings == "0", f"kvm-host: {obj} builds without a warning ({warnings})")
    uapi = open(os.path.join(vm.TOP, "kernel/include/uapi/linux/fphint_hypercall.h")).read()
    want = re.search(r"#define KVM_HC_FPHINT_REPORT\s+(\d+)", uapi)
    got = set()
    kdir = os.path.join(vm.TOP, "qemu", "kvm")
    for fn in sorted(os.listdir(kdir)):
        if fn.endswith(".patch"):
            got |= set(re.findall(r"#define KVM_HC_FPHINT_REPORT\s+(\d+)", open(os.path.join(kdir, fn)).read()))
    report(want is not None and got == {want.group(1)},
           f"kvm-host: the patch's KVM_HC_FPHINT_REPORT ({', '.join(sorted(got)) or 'none'}) is the uapi "
           f"header's ({want.group(1) if want else 'none'})")
