#!/usr/bin/python3
"""Inbound SMTP to Maildir: Facteur side by side with Debian's Postfix.

Run by hand, as root, with Debian's interpreter (never from `make test`):

    make
    sudo bench/setup-postfix.sh          # optional: the Postfix reference
    sudo /usr/bin/python3 bench/smtp_inbound.py
    sudo bench/setup-postfix.sh stop

It starts its own Facteur (temporary data dir, free port offset, the
mailboxes u1..uN@bench.example), then for every message size and every
target (facteur, then postfix when 127.0.0.1:--postfix-port answers) it
sends --messages messages over --concurrency concurrent connections
(threads with smtplib, --per-connection messages on each connection, one
recipient each, spread over the N mailboxes), then waits until every
accepted message is a file in the mailboxes' new/ directories. It reports
messages/s for acceptance (start to the last "250" after DATA) and end to
end (start until every file is there), the CPU time the server processes
used, disk writes and cache flushes of the device under /tmp, and the
ratios facteur/postfix. See bench/README.md.

All traffic goes to 127.0.0.1. Every loop and wait is bounded. Facteur is
stopped with SIGTERM (SIGKILL after a grace period) and its temporary data
directory removed; the messages delivered to Postfix's Maildirs are
deleted after each run (Postfix itself is left as setup-postfix.sh put
it).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOMAIN = "bench.example"
SENDER = "bench-sender@client.example"
CLK_TCK = os.sysconf("SC_CLK_TCK")
POSTFIX_PID_FILE = "/var/spool/postfix/pid/master.pid"
POSTFIX_QUEUE = "/var/spool/postfix"
IO_TIMEOUT = 60.0


# ---------------------------------------------------------------- helpers

def parse_size(text):
    m = re.fullmatch(r"\s*(\d+)\s*([kKmM]?)(i?[bB])?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError("bad size %r (e.g. 4096, 4K, 1M)"
                                         % text)
    n = int(m.group(1))
    unit = m.group(2).upper()
    n *= {"": 1, "K": 1024, "M": 1024 * 1024}[unit]
    if n < 200 or n > 20 * 1024 * 1024:
        raise argparse.ArgumentTypeError("size must be 200 B .. 20 MiB")
    return n


def human_size(n):
    if n % (1024 * 1024) == 0:
        return "%d MiB" % (n // (1024 * 1024))
    if n % 1024 == 0:
        return "%d KiB" % (n // 1024)
    return "%d B" % n


def git_version(binary):
    """`git describe` of the checkout the binary was built in (its
    build/'s parent), or the binary's path when that is no checkout."""
    root = Path(binary).resolve().parent
    if root.name == "sanitize":
        root = root.parent
    try:
        r = subprocess.run(["git", "-C", str(root.parent), "describe",
                            "--always", "--dirty"], capture_output=True,
                           text=True, timeout=10)
    except OSError:
        r = None
    if r is not None and r.returncode == 0 and r.stdout.strip():
        return r.stdout.strip()
    return str(Path(binary).resolve())


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def proc_cpu(pid):
    """(own utime+stime, reaped children's cutime+cstime) in seconds, or
    None when the process is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    # fields[0] is state (field 3); utime is field 14 -> index 11.
    ut, st, cut, cst = (int(x) for x in fields[11:15])
    return (ut + st) / CLK_TCK, (cut + cst) / CLK_TCK


def proc_user_sys(pid):
    """(utime, stime) in seconds, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def proc_ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    return int(data[data.rindex(")") + 2:].split()[1])


def machine_busy_seconds():
    """Non-idle CPU seconds of the whole machine (all cores)."""
    with open("/proc/stat") as f:
        parts = f.readline().split()
    vals = [int(x) for x in parts[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)   # idle + iowait
    return (sum(vals[:8]) - idle) / CLK_TCK


def disk_of(path):
    st = os.stat(path)
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    with open("/proc/diskstats") as f:
        for line in f:
            p = line.split()
            if int(p[0]) == major and int(p[1]) == minor:
                return p[2]
    return None


def disk_counters(dev):
    """(write requests, MiB written, flush requests, discard requests) of
    a block device (Documentation/admin-guide/iostats.rst)."""
    if dev is None:
        return (0, 0.0, 0, 0)
    with open("/proc/diskstats") as f:
        for line in f:
            p = line.split()
            if p[2] == dev:
                discards = int(p[14]) if len(p) > 14 else 0
                flushes = int(p[18]) if len(p) > 18 else 0
                return (int(p[7]), int(p[9]) * 512 / (1024 * 1024), flushes,
                        discards)
    return (0, 0.0, 0, 0)


def port_answers(port, timeout=2.0):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError:
        return False
    try:
        s.settimeout(timeout)
        return s.recv(4).startswith(b"220")
    except OSError:
        return False
    finally:
        s.close()


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def make_message(index, size, rcpt, tag):
    """Bytes of about `size` with CRLF line ends, no line starting with a
    dot, and a unique Message-ID."""
    head = ("From: Bench Sender <%s>\r\n"
            "To: <%s>\r\n"
            "Subject: bench %s message %d\r\n"
            "Date: %s\r\n"
            "Message-ID: <bench-%s-%d@client.example>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n" % (SENDER, rcpt, tag, index,
                      time.strftime("%a, %d %b %Y %H:%M:%S +0000",
                                    time.gmtime()),
                      tag, index)).encode()
    line = (b"The quick brown fox jumps over the lazy dog; "
            b"0123456789 abcdefghijklmnopqrstuvwx\r\n")   # 80 bytes
    need = max(0, size - len(head))
    body = line * (need // len(line))
    rest = need - len(body)
    if rest >= 3:
        body += b"x" * (rest - 2) + b"\r\n"
    return head + body


# ---------------------------------------------------------------- targets

class Target:
    name = "?"
    port = 0

    def maildirs(self):
        raise NotImplementedError

    def cpu_detail(self):
        """CPU seconds used so far, by process name."""
        return None

    def cpu_seconds(self):
        d = self.cpu_detail()
        return None if d is None else sum(d.values())

    def settle(self, deadline):
        pass

    def count_new(self):
        n = 0
        for d in self.maildirs():
            try:
                n += sum(1 for e in os.scandir(d / "new")
                         if not e.name.startswith("."))
            except FileNotFoundError:
                pass
        return n

    def clear(self):
        """Removes every message file from the mailboxes (not the dirs)."""
        for d in self.maildirs():
            for sub in ("new", "cur", "tmp"):
                try:
                    entries = list(os.scandir(d / sub))
                except FileNotFoundError:
                    continue
                for e in entries:
                    if e.is_file(follow_symlinks=False):
                        try:
                            os.unlink(e.path)
                        except FileNotFoundError:
                            pass


class FacteurTarget(Target):
    name = "facteur"
    START_TIMEOUT = 15.0
    STOP_TIMEOUT = 20.0

    def __init__(self, binary, nboxes, concurrency, port_offset, log_level,
                 keep, settings=()):
        self.nboxes = nboxes
        self.keep = keep
        self.data_dir = Path(tempfile.mkdtemp(prefix="facteur-bench.",
                                              dir="/tmp"))
        os.chmod(self.data_dir, 0o755)
        # A private copy: a `make` elsewhere must not swap the binary
        # under a running benchmark.
        self.binary = str(self.data_dir / "facteur")
        shutil.copy2(binary, self.binary)
        self.config = self.data_dir / "facteur.conf"
        self.log_path = self.data_dir / "facteur.log"
        top = {"hostname": "facteur-bench.localdomain",
               "log_level": log_level,
               "max_connections_per_ip": str(max(20, concurrency + 10))}
        top.update(settings)
        self.config.write_text(
            "# written by bench/smtp_inbound.py\n" +
            "".join("%s = %s\n" % kv for kv in top.items()) +
            "\n[smtp]\naddress = 127.0.0.1\n")
        self.proc = None
        self._log = None
        self.port_offset = port_offset
        self._boxes = [self.data_dir / "mail" / DOMAIN / ("u%d" % i)
                       for i in range(1, nboxes + 1)]

    def maildirs(self):
        return self._boxes

    def cli(self, *args, input=None):
        r = subprocess.run([self.binary, *args, "--data-dir",
                            str(self.data_dir), "--config", str(self.config)],
                           input=input, capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise RuntimeError("facteur %s: exit %d: %s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr))
        return r.stdout

    def start(self):
        self.cli("domain", "add", DOMAIN)
        for i in range(1, self.nboxes + 1):
            self.cli("mailbox", "add", "u%d@%s" % (i, DOMAIN),
                     "--password-stdin", input="bench-password-%d\n" % i)
        if self.port_offset is None:
            base = 20000 + (os.getpid() % 200) * 50
            for off in range(base, base + 50):
                if port_free(25 + off):
                    self.port_offset = off
                    break
            else:
                raise RuntimeError("no free port near 25+%d" % base)
        self.port = 25 + self.port_offset
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--config", str(self.config),
             "--data-dir", str(self.data_dir),
             "--port-offset", str(self.port_offset)],
            stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("facteur serve exited with %s:\n%s" % (
                    self.proc.returncode, self.log_text()[-2000:]))
            if port_answers(self.port, 1.0):
                return
            time.sleep(0.05)
        raise RuntimeError("facteur not ready after %ss:\n%s" % (
            self.START_TIMEOUT, self.log_text()[-2000:]))

    def cpu_detail(self):
        if self.proc is None:
            return None
        c = proc_user_sys(self.proc.pid)
        return None if c is None else {"user": c[0], "system": c[1]}

    def rss_kib(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, AttributeError, ValueError):
            pass
        return None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        """SIGTERM, bounded wait, SIGKILL. Returns the exit status."""
        rc = None
        self.stopped_by_us = False
        if self.proc is not None:
            rc = self.proc.poll()
            if rc is None:
                self.stopped_by_us = True
                self.proc.send_signal(signal.SIGTERM)
                try:
                    rc = self.proc.wait(timeout=self.STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    log("facteur: no exit %ss after SIGTERM, SIGKILL"
                        % self.STOP_TIMEOUT)
                    self.proc.kill()
                    rc = self.proc.wait(timeout=self.STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None
        return rc

    def cleanup(self):
        if self.keep:
            log("kept %s" % self.data_dir)
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class PostfixTarget(Target):
    name = "postfix"

    def __init__(self, port, nboxes):
        self.port = port
        base = self._postconf("virtual_mailbox_base")
        maps = self._postconf("virtual_mailbox_maps")
        if not base or not maps.startswith("hash:"):
            raise RuntimeError("postfix is not configured by "
                               "bench/setup-postfix.sh (virtual_mailbox_base "
                               "%r, virtual_mailbox_maps %r)" % (base, maps))
        boxes = {}
        with open(maps[len("hash:"):]) as f:
            for line in f:
                p = line.split()
                if len(p) == 2 and p[1].endswith("/"):
                    boxes[p[0].lower()] = Path(base) / p[1].rstrip("/")
        self._boxes = []
        for i in range(1, nboxes + 1):
            addr = "u%d@%s" % (i, DOMAIN)
            if addr not in boxes:
                raise RuntimeError("postfix has no mailbox %s: run "
                                   "BENCH_MAILBOXES=%d bench/setup-postfix.sh"
                                   % (addr, nboxes))
            self._boxes.append(boxes[addr])

    @staticmethod
    def _postconf(key):
        r = subprocess.run(["postconf", "-h", key], capture_output=True,
                           text=True, timeout=30)
        return r.stdout.strip() if r.returncode == 0 else ""

    def maildirs(self):
        return self._boxes

    @staticmethod
    def master_pid():
        try:
            return int(Path(POSTFIX_PID_FILE).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def cpu_detail(self):
        """CPU seconds by process name: the master, its live children, and
        "(exited)" for the children it has reaped (its cutime/cstime), so
        processes that exit during a run are counted."""
        master = self.master_pid()
        if master is None:
            return None
        m = proc_cpu(master)
        if m is None:
            return None
        detail = {"master": m[0], "(exited)": m[1]}
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == master:
                continue
            pid = int(entry)
            if proc_ppid(pid) != master:
                continue
            c = proc_cpu(pid)
            try:
                name = Path("/proc/%d/comm" % pid).read_text().strip()
            except OSError:
                continue
            if c is not None:
                detail[name] = detail.get(name, 0.0) + c[0] + c[1]
        return detail

    def queue_size(self):
        n = 0
        for sub in ("maildrop", "incoming", "active", "deferred"):
            for _root, _dirs, files in os.walk(os.path.join(POSTFIX_QUEUE,
                                                            sub)):
                n += len(files)
        return n

    def settle(self, deadline):
        # qmgr removes a queue file after virtual(8) reports the delivery:
        # wait for that bookkeeping so its CPU is counted.
        while time.monotonic() < deadline and self.queue_size() > 0:
            time.sleep(0.05)


# ---------------------------------------------------------------- one run

class Sender:
    """C threads; each takes the next message index, keeps a connection for
    up to P messages, then QUIT and reconnect."""

    def __init__(self, port, messages, payloads, nboxes, concurrency,
                 per_conn, rset, deadline):
        self.port = port
        self.messages = messages
        self.payloads = payloads
        self.nboxes = nboxes
        self.concurrency = concurrency
        self.per_conn = per_conn
        self.rset = rset
        self.deadline = deadline
        self.lock = threading.Lock()
        self.next_index = 0
        self.accepted = 0
        self.last_250 = 0.0
        self.errors = {}
        self.connections = 0
        self.latencies = []

    def _take(self):
        with self.lock:
            if self.next_index >= self.messages:
                return None
            i = self.next_index
            self.next_index += 1
            return i

    def _error(self, what):
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1

    def _done(self):
        with self.lock:
            return self.next_index >= self.messages

    def _worker(self, t0):
        pending = None      # a message to retry after a lost connection
        failures = 0
        while failures < 20 and time.monotonic() < self.deadline:
            if pending is None and self._done():
                return
            try:
                s = smtplib.SMTP("127.0.0.1", self.port, timeout=IO_TIMEOUT,
                                 local_hostname="client.bench.example")
            except (OSError, smtplib.SMTPException) as e:
                self._error("connect: %s" % type(e).__name__)
                failures += 1
                time.sleep(0.05)
                continue
            with self.lock:
                self.connections += 1
            try:
                s.ehlo()
                for n in range(self.per_conn):
                    if time.monotonic() >= self.deadline:
                        break
                    i = pending if pending is not None else self._take()
                    if i is None:
                        break
                    pending = i
                    if n > 0 and self.rset:
                        s.rset()
                    rcpt = "u%d@%s" % (i % self.nboxes + 1, DOMAIN)
                    data = self.payloads[i % len(self.payloads)]
                    t1 = time.monotonic()
                    try:
                        s.sendmail(SENDER, [rcpt], data)
                    except smtplib.SMTPResponseException as e:
                        pending = None
                        self._error("%d %s" % (
                            e.smtp_code, bytes(e.smtp_error[:60]).decode(
                                errors="replace")))
                        continue
                    except smtplib.SMTPRecipientsRefused as e:
                        pending = None
                        code = list(e.recipients.values())[0][0]
                        self._error("RCPT %d" % code)
                        continue
                    pending = None
                    t2 = time.monotonic()
                    with self.lock:
                        self.accepted += 1
                        self.last_250 = max(self.last_250, t2 - t0)
                        self.latencies.append(t2 - t1)
            except (OSError, smtplib.SMTPException) as e:
                # Lost mid-transaction: the message in flight (pending) is
                # sent again on a new connection. If the server had stored
                # it, the file count shows one extra.
                self._error("session: %s %s" % (type(e).__name__,
                                                str(e)[:60]))
                failures += 1
                try:
                    s.close()
                except OSError:
                    pass
                continue
            try:
                s.quit()
            except (OSError, smtplib.SMTPException) as e:
                self._error("quit: %s" % type(e).__name__)
                try:
                    s.close()
                except OSError:
                    pass

    def run(self):
        t0 = time.monotonic()
        threads = [threading.Thread(target=self._worker, args=(t0,),
                                    daemon=True)
                   for _ in range(self.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.1, self.deadline - time.monotonic() + 5))
        return t0


def background_busy(seconds=0.5):
    """Percent of all cores busy while this benchmark does nothing: other
    work on the machine that would skew the run."""
    b0, t0 = machine_busy_seconds(), time.monotonic()
    time.sleep(seconds)
    b1, t1 = machine_busy_seconds(), time.monotonic()
    return 100 * (b1 - b0) / ((t1 - t0) * (os.cpu_count() or 1))


def run_one(target, args, size, payloads, dev, tag):
    target.clear()
    os.sync()
    # ext4 without a journal (this machine's) skips, when it allocates an
    # inode, every inode freed in the last 60 s (360 s while its inode
    # table block is dirty: hence the sync): the files clear() just
    # deleted slow the run down. A pause of 60 s or more avoids that.
    time.sleep(args.pause)
    # Let the previous run's after-effects (writeback, deletions, lazy
    # process exits) die down: up to 10 s for the machine to be quiet.
    for _ in range(20):
        idle = background_busy()
        if idle < 5:
            break
    if idle >= 5 and tag != "warmup":
        log("     warning: the machine is %.0f%% busy before the run: "
            "something else runs, the numbers will be low" % idle)
    machine0 = machine_busy_seconds()
    cpu0 = target.cpu_detail()
    disk0 = disk_counters(dev)
    client0 = os.times()
    deadline = time.monotonic() + args.send_timeout
    sender = Sender(target.port, args.messages, payloads, args.mailboxes,
                    args.concurrency, args.per_connection, args.rset,
                    deadline)
    t0 = sender.run()
    # End to end: poll the Maildirs until every accepted message is there.
    wait_until = time.monotonic() + args.delivery_timeout
    present = target.count_new()
    polled = False
    while present < sender.accepted and time.monotonic() < wait_until:
        polled = True
        time.sleep(0.01)
        present = target.count_new()
    t_all = time.monotonic() - t0
    if present < sender.accepted:
        t_e2e = None
    elif polled:
        t_e2e = t_all
    else:
        # Complete at the first look after the last 250 (Facteur stores
        # before it answers): end to end is the acceptance time.
        t_e2e = sender.last_250
    target.settle(time.monotonic() + 30)
    client1 = os.times()
    cpu1 = target.cpu_detail()
    machine1 = machine_busy_seconds()
    os.sync()
    disk1 = disk_counters(dev)
    cpu = detail = None
    if cpu0 is not None and cpu1 is not None:
        cpu = sum(cpu1.values()) - sum(cpu0.values())
        # By name; a process that exited moves from its name to "(exited)".
        detail = {k: round(cpu1.get(k, 0.0) - cpu0.get(k, 0.0), 3)
                  for k in set(cpu0) | set(cpu1)}
    lat = sorted(sender.latencies)
    res = {
        "target": target.name, "tag": tag, "size": size,
        "background_busy_pct": round(idle, 1),
        "messages": args.messages, "concurrency": args.concurrency,
        "per_connection": args.per_connection,
        "accepted": sender.accepted, "stored": present,
        "errors": sender.errors, "connections": sender.connections,
        "accept_seconds": sender.last_250,
        "e2e_seconds": t_e2e,
        "accept_rate": (sender.accepted / sender.last_250
                        if sender.last_250 > 0 else None),
        "e2e_rate": (present / t_e2e if t_e2e else None),
        "latency_p50_ms": (lat[len(lat) // 2] * 1000 if lat else None),
        "latency_p99_ms": (lat[min(len(lat) - 1, int(len(lat) * 0.99))]
                           * 1000 if lat else None),
        "server_cpu_seconds": cpu,
        "server_cpu_by_process": detail,
        "server_cpu_ms_per_msg": (cpu * 1000 / present
                                  if cpu is not None and present else None),
        "client_cpu_seconds": ((client1.user - client0.user) +
                               (client1.system - client0.system)),
        "machine_busy_seconds": machine1 - machine0,
        "disk_writes": disk1[0] - disk0[0],
        "disk_mib_written": disk1[1] - disk0[1],
        "disk_flushes": disk1[2] - disk0[2],
        "disk_discards": disk1[3] - disk0[3],
    }
    rss = getattr(target, "rss_kib", None)
    res["server_rss_kib"] = rss() if rss else None
    target.clear()
    return res


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def print_results(results, out=sys.stdout):
    cols = ("target", "size", "conc", "stored", "err", "accept/s", "e2e/s",
            "p50 ms", "p99 ms", "srv cpu s", "cpu ms/msg", "cli cpu s",
            "busy %",
            "disk MiB", "flushes", "discards")
    fmt_h = ("%-8s %-8s %4s %9s %4s %8s %8s %7s %7s %9s %10s %9s %6s %8s "
             "%7s %8s")
    hdr = fmt_h % cols
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for r in results:
        busy = None
        if r["e2e_seconds"]:
            busy = (100 * r["machine_busy_seconds"] /
                    (r["e2e_seconds"] * (os.cpu_count() or 1)))
        print(fmt_h % (
            r["target"], human_size(r["size"]), r["concurrency"],
            "%d/%d" % (r["stored"], r["messages"]),
            sum(r["errors"].values()),
            fmt(r["accept_rate"], ".0f"), fmt(r["e2e_rate"], ".0f"),
            fmt(r["latency_p50_ms"], ".1f"), fmt(r["latency_p99_ms"], ".1f"),
            fmt(r["server_cpu_seconds"], ".2f"),
            fmt(r["server_cpu_ms_per_msg"], ".3f"),
            fmt(r["client_cpu_seconds"], ".2f"), fmt(busy, ".0f"),
            fmt(r["disk_mib_written"], ".0f"), r["disk_flushes"],
            r["disk_discards"]), file=out)
        for k, v in sorted(r["errors"].items()):
            print("         error x%d: %s" % (v, k), file=out)
        d = r.get("server_cpu_by_process") or {}
        if len(d) > 1:
            print("         cpu s: " + ", ".join(
                "%s %.2f" % (k, v) for k, v in
                sorted(d.items(), key=lambda kv: -kv[1]) if abs(v) >= 0.005),
                file=out)


def median_of(runs, key):
    vals = [r[key] for r in runs if r[key] is not None]
    return statistics.median(vals) if vals else None


def print_ratios(results, out=sys.stdout):
    sizes = sorted({r["size"] for r in results})
    lines = []
    for size in sizes:
        f = [r for r in results if r["size"] == size
             and r["target"] == "facteur"]
        p = [r for r in results if r["size"] == size
             and r["target"] == "postfix"]
        if not f or not p:
            continue
        row = [human_size(size)]
        for key, better in (("accept_rate", "higher"), ("e2e_rate", "higher"),
                            ("server_cpu_ms_per_msg", "lower")):
            fv, pv = median_of(f, key), median_of(p, key)
            row.append("-" if not fv or not pv else "%.2f" % (fv / pv))
        lines.append(row)
    if not lines:
        return
    print("\nfacteur/postfix (median of %d run(s) each; >1 is better for "
          "rates, <1 is better for CPU):" % max(
              1, len([r for r in results if r["target"] == "facteur"])
              // max(1, len(sizes))), file=out)
    print("%-8s %10s %10s %12s" % ("size", "accept/s", "e2e/s",
                                   "cpu per msg"), file=out)
    for row in lines:
        print("%-8s %10s %10s %12s" % tuple(row), file=out)


def facteur_log_summary(text, limit=15):
    bad = [l for l in text.splitlines()
           if "level=warn" in l or "level=error" in l or "level=fatal" in l
           or "AddressSanitizer" in l or "runtime error" in l]
    return len(bad), bad[:limit]


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(
        description="Inbound SMTP to Maildir: Facteur vs Debian's Postfix "
                    "(run by hand; see bench/README.md).")
    ap.add_argument("--messages", type=int, default=2000,
                    help="messages per run (default 2000)")
    ap.add_argument("--size", type=parse_size, nargs="+",
                    default=[4096, 100 * 1024],
                    help="message sizes, one run each (default 4K 100K)")
    ap.add_argument("--concurrency", type=int, default=10,
                    help="concurrent SMTP connections (default 10)")
    ap.add_argument("--per-connection", type=int, default=10,
                    help="messages per connection before QUIT (default 10)")
    ap.add_argument("--rset", action="store_true",
                    help="send RSET between the messages of a connection")
    ap.add_argument("--mailboxes", type=int, default=10,
                    help="mailboxes u1..uN@bench.example (default 10)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per size and target, alternating the order; "
                         "ratios use medians (default 3)")
    ap.add_argument("--warmup", type=int, default=50,
                    help="untimed messages sent to each target first")
    ap.add_argument("--pause", type=float, default=6.0,
                    help="seconds between clearing the Maildirs and a run "
                         "(default 6; 65 takes this machine's ext4 out of "
                         "the picture, see README)")
    ap.add_argument("--skip-postfix", action="store_true")
    ap.add_argument("--postfix-port", type=int, default=2525)
    ap.add_argument("--facteur", default=str(REPO / "build" / "facteur"),
                    help="binary (default build/facteur)")
    ap.add_argument("--port-offset", type=int, default=None,
                    help="Facteur's port offset (default: a free one)")
    ap.add_argument("--facteur-log-level", default="warn",
                    choices=["debug", "info", "warn", "error"])
    ap.add_argument("--facteur-set", action="append", default=[],
                    metavar="KEY=VALUE",
                    help="a top-level key of Facteur's configuration, e.g. "
                         "worker_threads=8 (repeatable)")
    ap.add_argument("--send-timeout", type=float, default=600.0,
                    help="bound on the sending phase of a run (s)")
    ap.add_argument("--delivery-timeout", type=float, default=300.0,
                    help="bound on the wait for the Maildir files (s)")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--keep", action="store_true",
                    help="keep Facteur's data dir (and log)")
    args = ap.parse_args()

    for name in ("messages", "concurrency", "per_connection", "mailboxes",
                 "repeat"):
        if getattr(args, name) < 1:
            ap.error("--%s must be >= 1" % name.replace("_", "-"))
    if args.messages > 1_000_000 or args.concurrency > 500:
        ap.error("--messages <= 1000000 and --concurrency <= 500")
    if not 0 <= args.pause <= 600:
        ap.error("--pause must be 0..600")
    if args.warmup < 0:
        ap.error("--warmup must be >= 0")
    if not os.access(args.facteur, os.X_OK):
        ap.error("%s is not executable: run make first" % args.facteur)

    # SIGTERM/SIGHUP become KeyboardInterrupt so the finally blocks run.
    def _interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)

    settings = {}
    for item in args.facteur_set:
        key, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[a-z_]+", key.strip()):
            ap.error("--facteur-set wants KEY=VALUE, not %r" % item)
        settings[key.strip()] = value.strip()
    facteur = FacteurTarget(args.facteur, args.mailboxes, args.concurrency,
                            args.port_offset, args.facteur_log_level,
                            args.keep, settings)
    targets = []
    results = []
    rc = 0
    try:
        facteur.start()
        targets.append(facteur)
        log("facteur: pid %d, 127.0.0.1:%d, data dir %s" % (
            facteur.proc.pid, facteur.port, facteur.data_dir))
        if not args.skip_postfix:
            if port_answers(args.postfix_port):
                pf = PostfixTarget(args.postfix_port, args.mailboxes)
                targets.append(pf)
                log("postfix: 127.0.0.1:%d, master pid %s, Maildirs under "
                    "%s" % (pf.port, pf.master_pid(), pf.maildirs()[0].parent))
            else:
                log("postfix: nothing answers on 127.0.0.1:%d (run "
                    "bench/setup-postfix.sh): facteur only"
                    % args.postfix_port)
        dev = disk_of("/tmp")
        log("machine: %d cores, /tmp on %s" % (os.cpu_count(), dev))

        for size in args.size:
            payloads = [make_message(i, size, "u%d@%s" % (i % args.mailboxes
                                                          + 1, DOMAIN),
                                     "s%d" % size)
                        for i in range(min(args.messages, 200))]
            # The recipient header only matches for i < 200; no server
            # cares.
            for t in targets:
                if args.warmup:
                    w = argparse.Namespace(**vars(args))
                    w.messages = args.warmup
                    run_one(t, w, size, payloads, dev, "warmup")
            for rep in range(args.repeat):
                # Alternate the order so neither always runs on a disk
                # still busy with the other's writeback.
                order = targets if rep % 2 == 0 else list(reversed(targets))
                for t in order:
                    log("run: %s %s x%d, %d connections (rep %d)" % (
                        t.name, human_size(size), args.messages,
                        args.concurrency, rep + 1))
                    r = run_one(t, args, size, payloads, dev,
                                "rep%d" % (rep + 1))
                    results.append(r)
                    log("     accept %s/s, e2e %s/s, stored %d/%d, "
                        "server cpu %s s, errors %d%s" % (
                            fmt(r["accept_rate"], ".0f"),
                            fmt(r["e2e_rate"], ".0f"), r["stored"],
                            r["messages"],
                            fmt(r["server_cpu_seconds"], ".2f"),
                            sum(r["errors"].values()),
                            "" if r["server_rss_kib"] is None else
                            ", rss %d KiB" % r["server_rss_kib"]))
                    if r["stored"] < r["messages"]:
                        rc = 1
                    if t is facteur and not facteur.alive():
                        raise RuntimeError(
                            "facteur exited during the run with status %s "
                            "(0: it was stopped by a SIGTERM or SIGINT "
                            "that this script did not send); log tail:\n%s"
                            % (facteur.proc.returncode,
                               facteur.log_text()[-1500:]))
    except KeyboardInterrupt:
        log("interrupted")
        rc = 130
    except RuntimeError as e:
        log("error: %s" % e)
        rc = 1
    finally:
        status = facteur.stop()
        text = facteur.log_text()
        nbad, bad = facteur_log_summary(text)
        if facteur.proc is not None:
            log("facteur: exit status %s %s; %d warn/error line(s) in its "
                "log" % (status, "after our SIGTERM" if facteur.stopped_by_us
                         else "(it had already exited)", nbad))
            for line in bad:
                log("  " + line[:300])
            if status not in (0, None):
                rc = rc or 1
        facteur.cleanup()
        for t in targets:
            if t is not facteur:
                t.clear()

    if results:
        print("Inbound SMTP to Maildir, %s, %d cores, facteur %s, "
              "%d messages/run, %d per connection%s" % (
                  time.strftime("%Y-%m-%d"), os.cpu_count(),
                  git_version(args.facteur),
                  args.messages, args.per_connection,
                  ", RSET between" if args.rset else ""))
        print_results(results)
        print_ratios(results)
        if args.json:
            Path(args.json).write_text(json.dumps(
                {"date": time.strftime("%Y-%m-%dT%H:%M:%S"),
                 "cores": os.cpu_count(),
                 "facteur": git_version(args.facteur),
                 "args": {
                     k: v for k, v in vars(args).items()},
                 "facteur_log_problems": nbad,
                 "results": results}, indent=1) + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
