#!/usr/bin/env python3
"""Reads the serial logs of scripts/kernel-matrix.sh and judges them.

Each run directory (one per kernel series, named after it) holds serial.log,
qemu.log, qemu-rc, vm-seconds and package. The guest's /init printed, on the
serial console:

    @@SOCKTAP-KERNEL <uname -r>@@
    @@SOCKTAP-BEGIN <name>@@
    ...the command's stdout and stderr...
    @@SOCKTAP-END <name> rc=<N> start=<uptime> end=<uptime> limit=<timeout>@@
    @@SOCKTAP-DONE@@

for the commands `list`, `conformance-<backend>` and `dmesg`. This script
saves each block beside the log (list-v.txt, conformance-<backend>.jsonl,
dmesg.txt), prints one summary line per kernel x backend, and exits 1 when
anything differs from the expected-failures file: a case failing that is not
listed, a listed case that passes, a VM or command without results, a
failing `socktap list -v`, a kernel warning while socktap ran.
"""

import argparse
import fnmatch
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

BEGIN = re.compile(r"@@SOCKTAP-BEGIN (\S+)@@")
END = re.compile(r"@@SOCKTAP-END (\S+) rc=(\d+) start=([\d.]+) end=([\d.]+)(?: limit=(\d+))?@@")
KERNEL = re.compile(r"@@SOCKTAP-KERNEL (\S+)@@")
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")
# Kernel log lines that mean the kernel itself complained.
KERNEL_TROUBLE = re.compile(r"WARNING:|BUG:|Oops|general protection|Call Trace:|RIP:")
DMESG_TIME = re.compile(r"^\[\s*(\d+\.\d+)\]")
# Characters of a failing case's detail shown in the summary.
DETAIL_MAX = 300
# Kernel config options worth seeing next to the results.
CONFIG_KEYS = ["DEBUG_INFO_BTF", "KPROBES", "FPROBE", "FUNCTION_TRACER",
               "DYNAMIC_FTRACE_WITH_DIRECT_CALLS", "BPF_LSM", "KALLSYMS_ALL"]


@dataclass
class Block:
    name: str
    lines: list = field(default_factory=list)
    rc: int | None = None  # None: no END marker, the command never finished
    start: float = 0.0
    end: float = 0.0
    limit: int | None = None  # the in-guest timeout, in seconds

    def died(self):
        """Why the command did not end by itself (killed, crashed), or None."""
        if self.rc is None or self.rc < 128:
            return None
        if self.rc == 137 and self.limit and self.end - self.start >= self.limit - 1:
            return f"timed out after {self.limit} s in the VM"
        return f"killed by signal {self.rc - 128}"


def parse_serial(text):
    """The kernel release and the command blocks, in order."""
    release, blocks, cur = None, {}, None
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if m := KERNEL.search(line):
            release = m.group(1)
        elif m := BEGIN.search(line):
            cur = blocks[m.group(1)] = Block(m.group(1))
        elif m := END.search(line):
            b = blocks.get(m.group(1))
            if b is not None:
                b.rc, b.start, b.end = int(m.group(2)), float(m.group(3)), float(m.group(4))
                b.limit = int(m.group(5)) if m.group(5) else None
            cur = None
        elif cur is not None:
            cur.lines.append(line)
    return release, blocks


@dataclass
class Entry:
    """One line of the expected-failures file."""
    series: str
    backend: str
    operation: str  # "*" alone (with socket None) means the whole backend
    socket: str | None
    text: str
    lineno: int
    # whole backend: a glob the error line must match (why it cannot run)
    reason: str = "*"
    used: bool = False
    # "?" lines: the case may fail or pass (a known intermittent gap)
    flaky: bool = False
    # a case entry: a glob its failure's detail must match ("~ <glob>")
    detail: str = "*"

    def whole_backend(self):
        return self.socket is None

    def applies(self, series, backend):
        return fnmatch.fnmatchcase(series, self.series) and fnmatch.fnmatchcase(backend, self.backend)

    def matches(self, op, sock):
        return (not self.whole_backend()
                and fnmatch.fnmatchcase(op, self.operation)
                and fnmatch.fnmatchcase(sock, self.socket))


def read_expected(path):
    entries = []
    if not path.exists():
        return entries
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 2)
        if len(parts) < 3:
            sys.exit(f"{path}:{n}: want '<series> <backend> <operation> | <socket>' or '<series> <backend> * <reason>'")
        series, backend, rest = parts
        flaky = series.startswith("?")
        series = series.lstrip("?")
        if rest.strip() == "*" or (rest.startswith("* ") and "|" not in rest):
            reason = rest[1:].strip()
            if not reason:
                # Any reason would excuse a broken program: say which one is expected.
                sys.exit(f"{path}:{n}: a whole-backend entry needs the reason it cannot run, as a glob of socktap's error")
            entries.append(Entry(series, backend, "*", None, line, n, reason=reason))
            continue
        if "|" not in rest:
            sys.exit(f"{path}:{n}: want '<operation> | <socket>' after the backend")
        op, sock = (s.strip() for s in rest.split("|", 1))
        sock, _, detail = (s.strip() for s in sock.partition("~"))
        entries.append(Entry(series, backend, op, sock, line, n, flaky=flaky, detail=detail or "*"))
    return entries


def kernel_config(run_dir):
    """'KPROBES=y FPROBE=- ...' for the kernel this run booted, if its config was kept."""
    cfg = run_dir.parent.parent / "kernels" / run_dir.name / "config"
    if not cfg.exists():
        return "?"
    values = dict(re.findall(r"^CONFIG_(\w+)=(.*)$", cfg.read_text(), re.M))
    return " ".join(f"{k}={values.get(k, '-')}" for k in CONFIG_KEYS)


def tail(lines, n=12):
    return [l for l in lines if l.strip()][-n:]


class Report:
    def __init__(self, entries):
        self.entries = entries
        self.cells_ok = 0
        self.cells_bad = 0
        self.problems = []  # one line per thing that fails the run
        self.ran = []  # (series, backend) judged

    def bad(self, where, what):
        self.problems.append(f"{where}: {what}")

    def judge_cell(self, series, release, backend, block, vm_end, jsonl):
        """One kernel x backend: prints its summary line and failures; True when as expected."""
        where = f"{release} {backend}"
        applicable = [e for e in self.entries if e.applies(series, backend)]
        whole = [e for e in applicable if e.whole_backend()]
        for e in whole:
            e.used = True
        if block is None or block.rc is None:
            print(f"{release:<24} {backend:<10} NO RESULT: {vm_end} before the command finished")
            self.bad(where, "no result")
            return False
        secs = f"[{block.end - block.start:.0f} s in the VM]"
        cases, summary, other = [], None, []
        for line in block.lines:
            if line.startswith("{"):
                try:
                    cases.append(json.loads(line))
                    continue
                except json.JSONDecodeError:
                    pass
            if m := SUMMARY.match(line.strip()):
                summary = (int(m.group(1)), int(m.group(2)))
            else:
                other.append(line)
        if not cases:
            msg = " / ".join(tail(other, 3)) or "(no output)"
            if died := block.died():
                print(f"{release:<24} {backend:<10} NO RESULT: {died}: {msg}")
                self.bad(where, died)
                return False
            # socktap exits 1 on a runtime error such as "not supported by this
            # kernel"; 2 is a usage error, which no kernel excuses.
            if whole and block.rc == 1:
                if any(fnmatch.fnmatchcase(msg, e.reason) for e in whole):
                    print(f"{release:<24} {backend:<10} unsupported, as expected (rc={block.rc}): {msg}")
                    return True
                reasons = ", ".join(f"'{e.reason}' (line {e.lineno})" for e in whole)
                print(f"{release:<24} {backend:<10} UNSUPPORTED FOR ANOTHER REASON (rc={block.rc}): {msg}; expected {reasons}")
                self.bad(where, f"refused for an unexpected reason: {msg}")
                return False
            print(f"{release:<24} {backend:<10} DID NOT RUN (rc={block.rc}): {msg}")
            self.bad(where, f"did not run: {msg}")
            return False
        passed = [c for c in cases if c.get("passed")]
        failed = [c for c in cases if not c.get("passed")]
        print(f"{release:<24} {backend:<10} {len(passed)} passed, {len(failed)} failed  {secs}")
        if failed:
            print(f"    (every case: {jsonl})")
        ok = True
        if whole:
            print(f"    UNEXPECTED: the backend runs here, but the expected file says it is unsupported "
                  f"(line {whole[0].lineno}: '{whole[0].text}'); list its failing cases instead")
            self.bad(where, "backend expected unsupported, but it ran")
            ok = False
        if summary != (len(passed), len(failed)):
            print(f"    UNEXPECTED: closing line {summary} does not match the cases read (output cut short?)")
            self.bad(where, "incomplete output")
            ok = False
        for c in cases:
            op, sock = c.get("operation", "?"), c.get("socket", "?")
            hits = [e for e in applicable if e.matches(op, sock)]
            for e in hits:
                e.used = True
            if not c.get("passed"):
                # An entry excuses only the failure its detail glob describes.
                hits = [e for e in hits if fnmatch.fnmatchcase(c.get("detail", ""), e.detail)]
                tag = ("known intermittent" if all(e.flaky for e in hits) else "expected") if hits else "UNEXPECTED"
                detail = c.get("detail", "")
                if len(detail) > DETAIL_MAX:  # the whole of it is in the .jsonl file
                    detail = detail[:DETAIL_MAX] + " …"
                print(f"    {tag} FAIL {op} | {sock}: {detail}")
                if not hits:
                    self.bad(where, f"{op} | {sock} failed")
                    ok = False
            elif hits and not all(e.flaky for e in hits):
                print(f"    UNEXPECTED PASS {op} | {sock}: expected to fail "
                      f"(line {hits[0].lineno}); remove the line")
                self.bad(where, f"{op} | {sock} passed, expected to fail")
                ok = False
        if block.rc != (0 if not failed else 1):
            print(f"    note: exit status {block.rc}; stderr/other output: {' / '.join(tail(other, 3))}")
        return ok

    def judge_kernel(self, run_dir, backends):
        series = run_dir.name
        if (run_dir / "error").exists():
            error = (run_dir / "error").read_text().strip()
            print(f"\n== {series}: no kernel")
            for backend in backends:
                print(f"{series:<24} {backend:<10} NO KERNEL: {error}")
                self.bad(f"{series} {backend}", "no kernel")
                self.cells_bad += 1
            return
        serial = run_dir / "serial.log"
        text = serial.read_text(errors="replace") if serial.exists() else ""
        release, blocks = parse_serial(text)
        package = (run_dir / "package").read_text().strip() if (run_dir / "package").exists() else "?"
        vm_secs = (run_dir / "vm-seconds").read_text().strip() if (run_dir / "vm-seconds").exists() else "?"
        qemu_rc = (run_dir / "qemu-rc").read_text().strip() if (run_dir / "qemu-rc").exists() else "?"
        release = release or f"{series}(no boot)"
        # timeout(1) exits 124 when it had to stop QEMU.
        vm_end = "the VM timed out" if qemu_rc in ("124", "137") else f"the VM ended (qemu rc={qemu_rc})"
        print(f"\n== {series}: {release}  ({package})  VM {vm_secs} s, qemu rc={qemu_rc}")
        print(f"   config: {kernel_config(run_dir)}")
        # A failing `list` or a kernel warning fails every cell of this kernel.
        kernel_ok = True
        # Keep each block as a file beside the serial log.
        if (b := blocks.get("list")) is not None:
            (run_dir / "list-v.txt").write_text("\n".join(b.lines) + "\n")
            print(f"   socktap list -v: {run_dir / 'list-v.txt'} (rc={b.rc})")
            if b.rc != 0:
                self.bad(release, f"socktap list -v exited {b.rc}")
                kernel_ok = False
        # `socktap stap -p4` loads and verifies a script's programs: it must pass on every kernel.
        if (b := blocks.get("stap-p4")) is not None:
            print(f"   socktap stap -p4: rc={b.rc}")
            if b.rc != 0:
                print("   | " + "\n   | ".join(tail(b.lines, 5)))
                self.bad(release, f"socktap stap -p4 exited {b.rc}")
                kernel_ok = False
        if (b := blocks.get("dmesg")) is not None:
            (run_dir / "dmesg.txt").write_text("\n".join(b.lines) + "\n")
        for backend in backends:
            if (b := blocks.get(f"conformance-{backend}")) is not None:
                (run_dir / f"conformance-{backend}.jsonl").write_text("\n".join(b.lines) + "\n")
        print(f"   serial log: {serial}")
        if "@@SOCKTAP-DONE@@" not in text:
            print("   the VM did not finish its payload; last lines of the serial log:")
            for line in tail(text.splitlines()):
                print(f"   | {line.rstrip()}")
            qemu_log = run_dir / "qemu.log"
            for line in tail(qemu_log.read_text(errors="replace").splitlines() if qemu_log.exists() else [], 5):
                print(f"   | qemu: {line}")
        kernel_ok = self.check_dmesg(release, blocks) and kernel_ok
        for backend in backends:
            self.ran.append((series, backend))
            cell_ok = self.judge_cell(series, release, backend, blocks.get(f"conformance-{backend}"),
                                      vm_end, run_dir / f"conformance-{backend}.jsonl")
            if cell_ok and kernel_ok:
                self.cells_ok += 1
            else:
                self.cells_bad += 1

    def check_dmesg(self, release, blocks):
        """False on a kernel warning while socktap ran: BPF must not upset the kernel."""
        dmesg = blocks.get("dmesg")
        firsts = [b.start for n, b in blocks.items() if n != "dmesg" and b.rc is not None]
        if dmesg is None or not firsts:
            return True
        payload_start = min(firsts)
        trouble = []
        for line in dmesg.lines:
            m = DMESG_TIME.match(line)
            if m and float(m.group(1)) >= payload_start and KERNEL_TROUBLE.search(line):
                trouble.append(line)
        if trouble:
            print("   KERNEL WARNINGS while socktap ran (see dmesg.txt):")
            for line in trouble[:10]:
                print(f"   | {line}")
            self.bad(release, "kernel warnings while socktap ran")
        return not trouble

    def finish(self):
        stale = [e for e in self.entries
                 if not e.used and any(e.applies(s, b) for s, b in self.ran)]
        if stale:
            print("\nnote: expected-failure lines that matched no case of a kernel and backend that ran:")
            for e in stale:
                print(f"    line {e.lineno}: {e.text}")
        if self.problems:
            print("\nUNEXPECTED RESULTS:")
            for p in self.problems:
                print(f"    {p}")
        # The plain closing line: cells (kernel x backend) as expected, and not.
        print(f"\nkernel-matrix: {self.cells_ok} passed, {self.cells_bad} failed")
        return 1 if self.problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--expected", type=Path, required=True)
    ap.add_argument("--backends", required=True, help="space-separated, as SOCKTAP_BACKENDS")
    ap.add_argument("run_dirs", nargs="+", type=Path)
    args = ap.parse_args()
    report = Report(read_expected(args.expected))
    for d in args.run_dirs:
        report.judge_kernel(d, args.backends.split())
    sys.exit(report.finish())


if __name__ == "__main__":
    main()
