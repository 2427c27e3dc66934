#!/usr/bin/python3
"""Reading a large IMAP folder: Facteur side by side with Debian's Dovecot.

Run by hand, as root, with Debian's interpreter (never from `make test`):

    make
    sudo bench/setup-dovecot.sh          # the Dovecot reference, 127.0.0.1:21993
    sudo /usr/bin/python3 bench/imap_read.py
    sudo bench/setup-dovecot.sh stop

It starts its own Facteur (temporary data dir, free port offset, every
listener on 127.0.0.1, mailboxes u1..uR@bench.example), generates
--messages messages (mixed sizes 2-50 KiB, a third multipart, seeded so
every run makes the same bytes) and, for every repeat r, writes them as
Maildir files straight into new/ of the fresh mailbox u<r> of both
servers (the same bytes and names; not measured). Then, step by step,
alternating which server goes first from one repeat to the next, it
measures with imaplib over implicit TLS (the same client for both):

  first SELECT (the server indexes the new files), SELECT again,
  FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE), FETCH 1:* (ENVELOPE)
  twice (cold, then cached), FETCH 1:* (BODY.PEEK[HEADER.FIELDS (FROM TO
  SUBJECT DATE)]), FETCH 1:1000 (BODY.PEEK[]), SEARCH TEXT, STORE +FLAGS
  then -FLAGS (\\Seen) 1:*, 10 clients fetching the header fields at once,
  APPEND of --append messages.

For each step: wall time of the timed commands (logins, SELECTs that are
not the subject and LOGOUTs are outside), CPU time of the server
processes (Facteur: its process; Dovecot: the master, its live children
and the children it reaped, so imap, imap-login, auth, log... count)
from just before the timed commands until the sessions have logged out
and Dovecot's processes for them have exited, and Python's own CPU.
It checks that both servers report the same number of messages, the same
RFC822.SIZE sum and header-field bytes, the same BODY[] bytes and SEARCH
result, and that these match what was written. See bench/README.md.

All traffic goes to 127.0.0.1; every socket has a timeout. Facteur is
stopped with SIGTERM (SIGKILL after a grace period) and its data directory
removed; the Maildirs written into Dovecot's homes are removed at the end
(Dovecot itself is left as setup-dovecot.sh put it).
"""
import argparse
import imaplib
import json
import math
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOMAIN = "bench.example"
CLK_TCK = os.sysconf("SC_CLK_TCK")
IO_TIMEOUT = 600.0
RARE_WORD = "zanzibar"
LISTENERS = {"smtp": 25, "submission": 587, "submissions": 465, "imap": 143,
             "imaps": 993, "pop3": 110, "pop3s": 995, "https": 443,
             "http": 80}
HEADER_ITEMS = "(BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)])"
SYNC_ITEMS = "(FLAGS UID RFC822.SIZE INTERNALDATE)"

# --facteur-tcp-shim: an LD_PRELOAD library for Facteur only, to show what
# its numbers would be with TCP_NODELAY on accepted sockets and
# TCP_QUICKACK after every read (see bench/README.md: without them a
# response written in several pieces waits for the client's delayed ACK,
# and so does the CRLF a client sends after an APPEND literal).
TCP_SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
static void nd(int fd) { int one = 1; if (fd >= 0)
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); }
static void qa(int fd) { int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one)); }
int accept(int s, struct sockaddr *a, socklen_t *l) {
    static int (*f)(int, struct sockaddr *, socklen_t *);
    if (!f) f = dlsym(RTLD_NEXT, "accept");
    int fd = f(s, a, l); nd(fd); return fd; }
int accept4(int s, struct sockaddr *a, socklen_t *l, int fl) {
    static int (*f)(int, struct sockaddr *, socklen_t *, int);
    if (!f) f = dlsym(RTLD_NEXT, "accept4");
    int fd = f(s, a, l, fl); nd(fd); return fd; }
ssize_t read(int fd, void *b, size_t n) {
    static ssize_t (*f)(int, void *, size_t);
    if (!f) f = dlsym(RTLD_NEXT, "read");
    ssize_t r = f(fd, b, n); if (r > 0) qa(fd); return r; }
ssize_t recv(int fd, void *b, size_t n, int fl) {
    static ssize_t (*f)(int, void *, size_t, int);
    if (!f) f = dlsym(RTLD_NEXT, "recv");
    ssize_t r = f(fd, b, n, fl); if (r > 0) qa(fd); return r; }
ssize_t readv(int fd, const struct iovec *v, int c) {
    static ssize_t (*f)(int, const struct iovec *, int);
    if (!f) f = dlsym(RTLD_NEXT, "readv");
    ssize_t r = f(fd, v, c); if (r > 0) qa(fd); return r; }
"""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def password(user):
    return "bench-password-%s" % user[1:]


# ---------------------------------------------------------------- /proc

def proc_stat(pid):
    """(ppid, utime+stime, cutime+cstime) in seconds, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    ut, st, cut, cst = (int(x) for x in fields[11:15])
    return int(fields[1]), (ut + st) / CLK_TCK, (cut + cst) / CLK_TCK


def proc_status_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def proc_comm(pid):
    try:
        return Path("/proc/%d/comm" % pid).read_text().strip()
    except OSError:
        return None


def children_of(ppid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            s = proc_stat(int(entry))
            if s is not None and s[0] == ppid:
                out.append(int(entry))
    return out


def machine_busy_seconds():
    with open("/proc/stat") as f:
        parts = f.readline().split()
    vals = [int(x) for x in parts[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return (sum(vals[:8]) - idle) / CLK_TCK


def background_busy(seconds=0.5):
    b0, t0 = machine_busy_seconds(), time.monotonic()
    time.sleep(seconds)
    b1, t1 = machine_busy_seconds(), time.monotonic()
    return 100 * (b1 - b0) / ((t1 - t0) * (os.cpu_count() or 1))


def wait_quiet(limit=10.0):
    """Waits up to `limit` s for the machine to be < 5% busy; returns the
    last reading."""
    deadline = time.monotonic() + limit
    busy = background_busy(0.3)
    while busy >= 5 and time.monotonic() < deadline:
        busy = background_busy(0.3)
    return busy


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


def git_version(binary):
    root = Path(binary).resolve().parent.parent
    try:
        r = subprocess.run(["git", "-C", str(root), "describe", "--always",
                            "--dirty"], capture_output=True, text=True,
                           timeout=10)
    except OSError:
        r = None
    if r is not None and r.returncode == 0 and r.stdout.strip():
        return r.stdout.strip()
    return str(Path(binary).resolve())


# ---------------------------------------------------------------- messages

WORDS = ("the of and to in is that for it as was with be by on not he this "
         "are or his from at which but have an they you were her she there "
         "been one all we their has would when if so no will more about "
         "can out up them some could what into than other time only new "
         "these two may first then do any like my now over such our man "
         "me even most made after also did many before must through back "
         "years where much your way well down should because each just "
         "those people how too little state good very make world still own "
         "see men work long get here between both life being under never "
         "day same another know while last might us great old year off "
         "come since against go came right used take three meeting budget "
         "report invoice project schedule review draft release server "
         "account customer shipment quarter agenda deadline proposal "
         "contract minutes feedback").split()
NAMES = ("Alice Martin", "Bob Durand", "Chloé Bernard", "David Petit",
         "Émile Robert", "Fatima Richard", "Georges Moreau", "Hélène Simon",
         "Ivan Laurent", "Julie Lefèvre", "Karim Michel", "Léa Garcia")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec")


def rfc2822_date(ts):
    t = time.gmtime(ts)
    return "%s, %02d %s %04d %02d:%02d:%02d +0000" % (
        DAYS[t.tm_wday], t.tm_mday, MONTHS[t.tm_mon - 1], t.tm_year,
        t.tm_hour, t.tm_min, t.tm_sec)


def addr_of(name):
    local = name.split()[0].lower()
    for a, b in (("é", "e"), ("è", "e"), ("ç", "c")):
        local = local.replace(a, b)
    return local + "@example.org"


def encoded_word(text):
    import base64
    return "=?UTF-8?B?%s?=" % base64.b64encode(text.encode()).decode()


def text_lines(rng, nbytes, rare):
    """LF-ended lines of words, about nbytes long; RARE_WORD once if
    rare."""
    out = []
    total = 0
    line = []
    llen = 0
    while total < nbytes:
        w = rng.choice(WORDS)
        if llen + len(w) + 1 > 72:
            s = " ".join(line)
            out.append(s)
            total += len(s) + 1
            line, llen = [], 0
            if rng.random() < 0.08:
                out.append("")
                total += 1
        line.append(w)
        llen += len(w) + 1
    if line:
        out.append(" ".join(line))
    if rare:
        k = rng.randrange(len(out))
        out[k] = out[k] + " " + RARE_WORD
    return "\n".join(out) + "\n"


def b64_lines(rng, nbytes):
    import base64
    raw = rng.randbytes(max(1, nbytes * 3 // 4))
    enc = base64.b64encode(raw).decode()
    return "\n".join(enc[i:i + 76] for i in range(0, len(enc), 76)) + "\n"


def make_message(rng, i, rcpt, date_ts):
    """One message as bytes with LF line ends (as both servers store
    mail). Returns (bytes, has_rare_word)."""
    target = int(math.exp(rng.uniform(math.log(2048), math.log(51200))))
    sender = rng.choice(NAMES)
    subj_words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8)))
    if rng.random() < 0.15:
        subject = encoded_word("Réunion: " + subj_words)
    elif rng.random() < 0.2:
        subject = "Re: " + subj_words
    else:
        subject = subj_words.capitalize()
    msgid = "<%d.%08x@example.org>" % (i, rng.getrandbits(32))
    hops = [
        "Received: from mx%d.example.org (mx%d.example.org [192.0.2.%d])\n"
        "\tby mail.bench.example with ESMTPS id %08X\n"
        "\tfor <%s>; %s" % (n, n, rng.randint(1, 254), rng.getrandbits(32),
                            rcpt, rfc2822_date(date_ts + 5 - n))
        for n in range(rng.randint(1, 3))]
    head = ["Return-Path: <%s>" % addr_of(sender),
            "Delivered-To: %s" % rcpt] + hops + [
            "From: %s <%s>" % (
                encoded_word(sender) if not sender.isascii() else
                '"%s"' % sender, addr_of(sender)),
            "To: %s" % rcpt]
    if rng.random() < 0.3:
        cc = rng.sample(NAMES, rng.randint(1, 3))
        head.append("Cc: " + ",\n ".join(
            "%s <%s>" % (encoded_word(n) if not n.isascii() else n,
                         addr_of(n)) for n in cc))
    head += ["Subject: " + subject,
             "Date: " + rfc2822_date(date_ts),
             "Message-ID: " + msgid]
    if subject.startswith("Re:"):
        ref = "<%d.%08x@example.org>" % (max(0, i - rng.randint(1, 50)),
                                        rng.getrandbits(32))
        head += ["In-Reply-To: " + ref, "References: " + ref]
    head.append("MIME-Version: 1.0")
    rare = rng.random() < 0.02
    kind = rng.random()
    hlen = sum(len(h) + 1 for h in head)
    need = max(200, target - hlen - 200)
    boundary = "=_bench_%08x" % rng.getrandbits(32)
    if kind < 0.65:
        head += ["Content-Type: text/plain; charset=us-ascii",
                 "Content-Transfer-Encoding: 7bit"]
        body = text_lines(rng, need, rare)
    elif kind < 0.85:
        text = text_lines(rng, need // 2, rare)
        html = ("<html><body>\n" + "".join(
            "<p>%s</p>\n" % p for p in text.split("\n\n") if p) +
            "</body></html>\n")
        head.append('Content-Type: multipart/alternative; boundary="%s"'
                    % boundary)
        body = ("This is a multi-part message in MIME format.\n\n"
                "--%s\nContent-Type: text/plain; charset=us-ascii\n"
                "Content-Transfer-Encoding: 7bit\n\n%s\n"
                "--%s\nContent-Type: text/html; charset=us-ascii\n"
                "Content-Transfer-Encoding: 7bit\n\n%s\n--%s--\n" % (
                    boundary, text, boundary, html, boundary))
    else:
        tlen = min(need, rng.randint(300, 3000))
        text = text_lines(rng, tlen, rare)
        att = b64_lines(rng, max(100, need - tlen))
        name = "document-%d.%s" % (i, rng.choice(("pdf", "png", "zip")))
        ctype = {"pdf": "application/pdf", "png": "image/png",
                 "zip": "application/zip"}[name.rsplit(".", 1)[1]]
        head.append('Content-Type: multipart/mixed; boundary="%s"'
                    % boundary)
        body = ("--%s\nContent-Type: text/plain; charset=us-ascii\n"
                "Content-Transfer-Encoding: 7bit\n\n%s\n"
                "--%s\nContent-Type: %s; name=\"%s\"\n"
                "Content-Disposition: attachment; filename=\"%s\"\n"
                "Content-Transfer-Encoding: base64\n\n%s\n--%s--\n" % (
                    boundary, text, boundary, ctype, name, name, att,
                    boundary))
    data = ("\n".join(head) + "\n\n" + body).encode()
    return data, rare


def make_corpus(n, seed):
    rng = random.Random(seed)
    t_end = 1_780_000_000
    msgs = []
    for i in range(n):
        date_ts = t_end - (n - i) * 2400 - rng.randint(0, 600)
        data, rare = make_message(rng, i, "u1@" + DOMAIN, date_ts)
        msgs.append((data, rare))
    return msgs


def header_fields_bytes(data):
    """What BODY[HEADER.FIELDS (FROM TO SUBJECT DATE)] returns: those
    fields (with continuations) with CRLF ends, and a blank line."""
    head = data.split(b"\n\n", 1)[0].split(b"\n")
    out = 0
    keep = False
    for line in head:
        if line[:1] in (b" ", b"\t"):
            if keep:
                out += len(line) + 2
            continue
        name = line.split(b":", 1)[0].strip().lower()
        keep = name in (b"from", b"to", b"subject", b"date")
        if keep:
            out += len(line) + 2
    return out + 2


# ---------------------------------------------------------------- servers

class Server:
    name = "?"
    port = 0

    def maildir(self, user):
        raise NotImplementedError

    def owner(self):
        raise NotImplementedError

    def cpu_detail(self):
        raise NotImplementedError

    def settle(self, deadline):
        """Waits until the sessions that logged out are gone."""

    def memory(self):
        return {}

    def fill(self, user, corpus, plain_names, t0):
        """Writes the corpus into the user's INBOX new/ (a fresh
        Maildir), with increasing mtimes and names in the same order."""
        md = self.maildir(user)
        uid, gid = self.owner()
        self.reset(user)
        for sub in ("tmp", "new", "cur"):
            (md / sub).mkdir(parents=True, exist_ok=True)
            os.chown(md / sub, uid, gid)
            os.chmod(md / sub, 0o700)
        os.chown(md, uid, gid)
        new = md / "new"
        for i, (data, _rare) in enumerate(corpus):
            ts = t0 + i
            name = "%d.M%06dP%dQ%d.bench.localdomain" % (ts, i % 1000000,
                                                         4242, i + 1)
            if not plain_names:
                name += ",S=%d,W=%d" % (len(data),
                                        len(data) + data.count(b"\n"))
            path = new / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, data)
                os.fchown(fd, uid, gid)
            finally:
                os.close(fd)
            os.utime(path, (ts, ts))

    def reset(self, user):
        raise NotImplementedError


class FacteurServer(Server):
    name = "facteur"
    START_TIMEOUT = 15.0
    STOP_TIMEOUT = 20.0

    def __init__(self, binary, users, port_offset, log_level, keep,
                 tcp_shim=False):
        self.users = users
        self.keep = keep
        self.data_dir = Path(tempfile.mkdtemp(prefix="facteur-bench-imap.",
                                              dir="/tmp"))
        os.chmod(self.data_dir, 0o755)
        self.binary = str(self.data_dir / "facteur")
        shutil.copy2(binary, self.binary)
        self.config = self.data_dir / "facteur.conf"
        self.log_path = self.data_dir / "facteur.log"
        lines = ["# written by bench/imap_read.py",
                 "hostname = facteur-bench.localdomain",
                 "log_level = %s" % log_level,
                 "max_connections_per_ip = 50"]
        for svc in LISTENERS:
            lines += ["", "[%s]" % svc, "address = 127.0.0.1"]
        self.config.write_text("\n".join(lines) + "\n")
        self.proc = None
        self._log = None
        self.port_offset = port_offset
        self.env = None
        if tcp_shim:
            src = self.data_dir / "tcp-shim.c"
            so = self.data_dir / "tcp-shim.so"
            src.write_text(TCP_SHIM_C)
            subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(so),
                            str(src), "-ldl"], check=True, timeout=120)
            self.env = dict(os.environ, LD_PRELOAD=str(so))

    def maildir(self, user):
        return self.data_dir / "mail" / DOMAIN / user

    def owner(self):
        st = os.stat(self.maildir(self.users[0]))
        return st.st_uid, st.st_gid

    def reset(self, user):
        md = self.maildir(user)
        for sub in ("new", "cur", "tmp"):
            d = md / sub
            if d.is_dir():
                for e in os.scandir(d):
                    os.unlink(e.path)

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
        for u in self.users:
            self.cli("mailbox", "add", "%s@%s" % (u, DOMAIN),
                     "--password-stdin", input=password(u) + "\n")
        if self.port_offset is None:
            base = 20000 + (os.getpid() % 200) * 50
            for off in range(base, base + 50):
                if all(port_free(p + off) for p in LISTENERS.values()):
                    self.port_offset = off
                    break
            else:
                raise RuntimeError("no free port offset near %d" % base)
        self.port = LISTENERS["imaps"] + self.port_offset
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--config", str(self.config),
             "--data-dir", str(self.data_dir),
             "--port-offset", str(self.port_offset)],
            stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("facteur serve exited with %s:\n%s" % (
                    self.proc.returncode, self.log_text()[-2000:]))
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("facteur not ready after %ss:\n%s" % (
            self.START_TIMEOUT, self.log_text()[-2000:]))

    def cpu_detail(self):
        s = proc_stat(self.proc.pid)
        return None if s is None else {"facteur": s[1]}

    def memory(self):
        return {"rss_kib": proc_status_kib(self.proc.pid, "VmRSS"),
                "hwm_kib": proc_status_kib(self.proc.pid, "VmHWM")}

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        rc = None
        if self.proc is not None:
            rc = self.proc.poll()
            if rc is None:
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


class DovecotServer(Server):
    name = "dovecot"

    def __init__(self, base, port, users, keep):
        self.base = Path(base)
        self.port = port
        self.users = users
        self.keep = keep
        self.conf = self.base / "dovecot.conf"
        known = {}
        with open(self.base / "users") as f:
            for line in f:
                p = line.rstrip("\n").split(":")
                if len(p) >= 6:
                    known[p[0]] = (int(p[2]), int(p[3]), Path(p[5]))
        self._homes = {}
        for u in users:
            addr = "%s@%s" % (u, DOMAIN)
            if addr not in known:
                raise RuntimeError("dovecot has no user %s: run "
                                   "BENCH_MAILBOXES=%d bench/setup-dovecot.sh"
                                   % (addr, len(users)))
            self._uid, self._gid, home = known[addr]
            self._homes[u] = home
        if self.master_pid() is None:
            raise RuntimeError("no dovecot master for %s (run "
                               "bench/setup-dovecot.sh)" % self.conf)

    def master_pid(self):
        try:
            pid = int((self.base / "run" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            cmd = Path("/proc/%d/cmdline" % pid).read_bytes()
        except OSError:
            return None
        return pid if str(self.conf).encode() in cmd else None

    def maildir(self, user):
        return self._homes[user] / "Maildir"

    def owner(self):
        return self._uid, self._gid

    def reset(self, user):
        shutil.rmtree(self.maildir(user), ignore_errors=True)

    def cpu_detail(self):
        master = self.master_pid()
        if master is None:
            return None
        m = proc_stat(master)
        if m is None:
            return None
        detail = {"master": m[1], "(exited)": m[2]}
        for pid in children_of(master):
            s = proc_stat(pid)
            name = proc_comm(pid)
            if s is not None and name is not None:
                detail[name] = detail.get(name, 0.0) + s[1] + s[2]
        return detail

    def sessions(self):
        master = self.master_pid()
        if master is None:
            return []
        return [p for p in children_of(master)
                if proc_comm(p) in ("imap", "imap-login")]

    def settle(self, deadline):
        while time.monotonic() < deadline and self.sessions():
            time.sleep(0.02)

    def memory(self):
        hwm = [proc_status_kib(p, "VmHWM") for p in self.sessions()
               if proc_comm(p) == "imap"]
        hwm = [h for h in hwm if h is not None]
        return {"imap_hwm_kib": max(hwm) if hwm else None}

    def cleanup(self):
        if self.keep:
            log("kept the Maildirs under %s" % (self.base / "home"))
            return
        for u in self.users:
            self.reset(u)


# ---------------------------------------------------------------- client

def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect(server, user, select=True):
    m = imaplib.IMAP4_SSL("127.0.0.1", server.port, ssl_context=tls_context(),
                          timeout=IO_TIMEOUT)
    typ, data = m.login("%s@%s" % (user, DOMAIN), password(user))
    if typ != "OK":
        raise RuntimeError("%s: LOGIN %s %s" % (server.name, typ, data))
    if select:
        check(server, "SELECT", m.select("INBOX"))
    return m


def check(server, what, res):
    typ, data = res
    if typ != "OK":
        raise RuntimeError("%s: %s answered %s %r" % (server.name, what, typ,
                                                      data[:3]))
    return data


def logout(m):
    try:
        m.logout()
    except (OSError, imaplib.IMAP4.error):
        try:
            m.shutdown()
        except OSError:
            pass


SIZE_RE = re.compile(rb"RFC822\.SIZE (\d+)")
FETCH_RE = re.compile(rb"^\d+ \(")


def fetch_parts(data):
    """imaplib FETCH data -> (responses, literal bytes, the non-literal
    lines joined)."""
    n = 0
    lit = 0
    lines = []
    for item in data:
        if isinstance(item, tuple):
            n += 1
            lit += len(item[1])
            lines.append(item[0])
        elif item is not None and item != b")":
            if FETCH_RE.match(item):
                n += 1
            lines.append(item)
    return n, lit, lines


def concurrent_worker(port, user, items, barrier, queue):
    """A client process: log in, SELECT, wait for the others, FETCH."""
    class S:
        name = "client"
    S.port = port
    m = None
    try:
        m = connect(S, user)
        barrier.wait(timeout=120)
        t0 = time.monotonic()
        data = check(S, "FETCH", m.fetch("1:*", items))
        t1 = time.monotonic()
        n, lit, _ = fetch_parts(data)
        queue.put(("ok", n, lit, t1 - t0))
    except Exception as e:     # reported by the parent
        try:
            barrier.abort()
        except Exception:
            pass
        queue.put(("error", repr(e)[:300], 0, 0))
    finally:
        if m is not None:
            logout(m)


# ---------------------------------------------------------------- steps

class Step:
    """Measures one step on one server: wall time of the parts inside
    timed(), server CPU from the first timed() until finish()."""

    def __init__(self, server):
        self.server = server
        self.wall = []
        self.cpu0 = None
        self.cpu_total = {}
        self.client0 = None
        self.info = {}
        self.conns = []

    def _cpu_open(self):
        if self.cpu0 is None:
            self.cpu0 = self.server.cpu_detail()
            self.client0 = os.times()
            self.machine0 = machine_busy_seconds()

    def _cpu_close(self):
        """After the sessions logged out and are gone."""
        if self.cpu0 is None:
            return
        self.server.settle(time.monotonic() + 10)
        cpu1 = self.server.cpu_detail()
        c1 = os.times()
        if cpu1 is not None:
            for k in set(self.cpu0) | set(cpu1):
                self.cpu_total[k] = (self.cpu_total.get(k, 0.0) +
                                     cpu1.get(k, 0.0) - self.cpu0.get(k, 0.0))
        self.info["client_cpu"] = self.info.get("client_cpu", 0.0) + (
            (c1.user - self.client0.user) + (c1.system - self.client0.system)
            + (c1.children_user - self.client0.children_user)
            + (c1.children_system - self.client0.children_system))
        self.info["machine_busy"] = self.info.get("machine_busy", 0.0) + (
            machine_busy_seconds() - self.machine0)
        self.cpu0 = None

    class _Timed:
        def __init__(self, step):
            self.step = step

        def __enter__(self):
            self.step._cpu_open()
            self.t0 = time.perf_counter()

        def __exit__(self, *exc):
            self.step.wall.append(time.perf_counter() - self.t0)
            self.step.mem = self.step.server.memory()
            return False

    def timed(self):
        return self._Timed(self)

    def connect(self, user, select=True):
        m = connect(self.server, user, select)
        self.conns.append(m)
        return m

    def close(self):
        for m in self.conns:
            logout(m)
        self.conns = []
        self._cpu_close()

    def result(self):
        cpu = sum(self.cpu_total.values()) if self.cpu_total else None
        return {"wall": self.wall, "seconds": sum(self.wall),
                "cpu": cpu,
                "cpu_by_process": {k: round(v, 3) for k, v in
                                   self.cpu_total.items() if abs(v) >= 0.001},
                "memory": getattr(self, "mem", {}), **self.info}


def step_first_select(st, user, ctx):
    m = st.connect(user, select=False)
    with st.timed():
        data = check(st.server, "SELECT", m.select("INBOX"))
    st.info["count"] = int(data[0])
    st.close()


def step_select(st, user, ctx):
    # Both servers rescan cur/ while its mtime is too recent to trust
    # (Facteur: 2 s; Dovecot: its maildir sync window): measure the
    # settled state, after the first SELECT's renames.
    time.sleep(3)
    counts = []
    for _ in range(ctx["select_times"]):
        m = st.connect(user, select=False)
        with st.timed():
            data = check(st.server, "SELECT", m.select("INBOX"))
        counts.append(int(data[0]))
        st.close()
    st.info["count"] = counts[-1]
    # One SELECT is the unit: the median of the times.
    st.info["per_op"] = statistics.median(st.wall)


def step_fetch_sync(st, user, ctx):
    m = st.connect(user)
    with st.timed():
        data = check(st.server, "FETCH", m.fetch("1:*", SYNC_ITEMS))
    n, _lit, lines = fetch_parts(data)
    sizes = [int(x) for line in lines for x in SIZE_RE.findall(line)]
    st.info["count"] = n
    st.info["size_sum"] = sum(sizes)
    st.close()


def _fetch_envelope(st, user, ctx):
    m = st.connect(user)
    with st.timed():
        data = check(st.server, "FETCH", m.fetch("1:*", "(ENVELOPE)"))
    n, lit, lines = fetch_parts(data)
    st.info["count"] = n
    st.info["bytes"] = lit + sum(len(x) for x in lines)
    st.close()


def step_envelope_cold(st, user, ctx):
    _fetch_envelope(st, user, ctx)


def step_envelope_warm(st, user, ctx):
    _fetch_envelope(st, user, ctx)


def step_headers(st, user, ctx):
    m = st.connect(user)
    with st.timed():
        data = check(st.server, "FETCH", m.fetch("1:*", HEADER_ITEMS))
    n, lit, _ = fetch_parts(data)
    st.info["count"] = n
    st.info["literal_bytes"] = lit
    st.close()


def step_bodies(st, user, ctx):
    m = st.connect(user)
    k = ctx["bodies"]
    with st.timed():
        data = check(st.server, "FETCH", m.fetch("1:%d" % k,
                                                 "(BODY.PEEK[])"))
    n, lit, _ = fetch_parts(data)
    st.info["count"] = n
    st.info["literal_bytes"] = lit
    st.info["mb_per_s"] = lit / 1e6 / st.wall[-1]
    st.close()


def step_search(st, user, ctx):
    m = st.connect(user)
    with st.timed():
        data = check(st.server, "SEARCH", m.search(None, "TEXT", RARE_WORD))
    st.info["count"] = len(data[0].split()) if data and data[0] else 0
    st.close()


def step_store(st, user, ctx):
    m = st.connect(user)
    with st.timed():
        d1 = check(st.server, "STORE +", m.store("1:*", "+FLAGS", "(\\Seen)"))
    with st.timed():
        d2 = check(st.server, "STORE -", m.store("1:*", "-FLAGS", "(\\Seen)"))
    st.info["count"] = min(len([x for x in d1 if x]),
                           len([x for x in d2 if x]))
    st.info["plus_s"], st.info["minus_s"] = st.wall
    st.close()


def step_concurrent(st, user, ctx):
    n = ctx["clients"]
    mp = multiprocessing.get_context("fork")
    barrier = mp.Barrier(n + 1)
    queue = mp.Queue()
    procs = [mp.Process(target=concurrent_worker,
                        args=(st.server.port, user, HEADER_ITEMS, barrier,
                              queue), daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    results = []
    try:
        # Everyone is logged in and has selected: start the clock.
        barrier.wait(timeout=180)
        with st.timed():
            while len(results) < n:
                results.append(queue.get(timeout=IO_TIMEOUT))
    except Exception as e:
        for p in procs:
            if p.is_alive():
                p.kill()
        raise RuntimeError("%s: concurrent clients failed: %r %r" % (
            st.server.name, e, results[:3]))
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
                p.join(5)
    bad = [r for r in results if r[0] != "ok"]
    if bad:
        raise RuntimeError("%s: concurrent client: %s" % (st.server.name,
                                                         bad[0][1]))
    st.info["count"] = min(r[1] for r in results)
    st.info["literal_bytes"] = sum(r[2] for r in results)
    st.info["client_max_s"] = max(r[3] for r in results)
    st._cpu_close()


def step_append(st, user, ctx):
    m = st.connect(user, select=False)
    msgs = ctx["append_msgs"]
    with st.timed():
        for data in msgs:
            check(st.server, "APPEND", m.append("INBOX", None, None, data))
    st.info["count"] = len(msgs)
    st.info["msgs_per_s"] = len(msgs) / st.wall[-1]
    st.close()


STEPS = [
    ("first_select", "first SELECT (indexing)", step_first_select),
    ("select", "SELECT (indexed), median of 5", step_select),
    ("fetch_sync", "FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE)",
     step_fetch_sync),
    ("envelope_cold", "FETCH 1:* (ENVELOPE), first", step_envelope_cold),
    ("envelope_warm", "FETCH 1:* (ENVELOPE), again", step_envelope_warm),
    ("headers", "FETCH 1:* BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)]",
     step_headers),
    ("bodies", "FETCH 1:1000 BODY.PEEK[]", step_bodies),
    ("search", "SEARCH TEXT %s" % RARE_WORD, step_search),
    ("store", "STORE 1:* +FLAGS (\\Seen), then -FLAGS", step_store),
    ("concurrent", "10 clients FETCH 1:* header fields at once",
     step_concurrent),
    ("append", "APPEND 500 messages", step_append),
]


# ---------------------------------------------------------------- report

def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def median_of(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def step_time(r, key):
    """The step's time: per SELECT for 'select', else the timed total."""
    return r["per_op"] if key == "select" else r["seconds"]


def step_cpu(r, key, ctx):
    if r["cpu"] is None:
        return None
    return r["cpu"] / ctx["select_times"] if key == "select" else r["cpu"]


def rate_of(r, key):
    if key == "bodies":
        return "%.0f MB/s" % r["mb_per_s"]
    if key == "append":
        return "%.0f msg/s" % r["msgs_per_s"]
    if key in ("fetch_sync", "envelope_cold", "envelope_warm", "headers",
               "concurrent"):
        n = r["count"] * (10 if key == "concurrent" else 1)
        return "%.0f msg/s" % (n / r["seconds"]) if r["seconds"] else "-"
    return ""


def print_runs(results, out=sys.stdout):
    hdr = "%-13s %-8s %4s %9s %8s %9s %9s %8s %6s %7s  %s" % (
        "step", "server", "rep", "time s", "count", "rate", "srv cpu s",
        "cli cpu", "busy%", "rss MiB", "cpu by process")
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for r in results:
        busy = None
        if r["seconds"]:
            busy = 100 * r.get("machine_busy", 0) / (
                max(r["seconds"], 1e-6) * (os.cpu_count() or 1))
        by = r.get("cpu_by_process") or {}
        detail = ""
        if len(by) > 1:
            detail = ", ".join("%s %.2f" % kv for kv in sorted(
                by.items(), key=lambda kv: -kv[1]) if kv[1] >= 0.005)
        mem = r.get("memory") or {}
        rss = mem.get("rss_kib") or mem.get("imap_hwm_kib")
        print("%-13s %-8s %4d %9.3f %8s %9s %9s %8s %6s %7s  %s" % (
            r["step"], r["server"], r["rep"], r["seconds"],
            r.get("count", "-"), rate_of(r, r["step"]).replace(" msg/s", "/s"),
            fmt(r["cpu"], ".3f"), fmt(r.get("client_cpu"), ".2f"),
            fmt(busy, ".0f"), fmt(rss / 1024 if rss else None, ".1f"),
            detail), file=out)


def print_summary(results, ctx, out=sys.stdout):
    nrep = max(r["rep"] for r in results)
    print("\nMedians of %d repeat(s); ratio = facteur/dovecot (<1: Facteur "
          "is faster / uses less CPU):" % nrep, file=out)
    hdr = "%-58s %10s %10s %6s %9s %9s %6s  %-11s %-11s" % (
        "step", "facteur s", "dovecot s", "ratio", "f cpu s", "d cpu s",
        "ratio", "facteur", "dovecot")
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    rows = []
    for key, label, _fn in STEPS:
        f = [r for r in results if r["step"] == key and
             r["server"] == "facteur"]
        d = [r for r in results if r["step"] == key and
             r["server"] == "dovecot"]
        if not f:
            continue
        ft = median_of([step_time(r, key) for r in f])
        dt = median_of([step_time(r, key) for r in d]) if d else None
        fc = median_of([step_cpu(r, key, ctx) for r in f])
        dc = median_of([step_cpu(r, key, ctx) for r in d]) if d else None
        fr = sorted(f, key=lambda r: step_time(r, key))[len(f) // 2]
        dr = sorted(d, key=lambda r: step_time(r, key))[len(d) // 2] \
            if d else None
        row = {"step": key, "label": label, "facteur_s": ft,
               "dovecot_s": dt,
               "time_ratio": ft / dt if ft and dt else None,
               "facteur_cpu": fc, "dovecot_cpu": dc,
               "cpu_ratio": fc / dc if fc and dc else None,
               "facteur_rate": rate_of(fr, key),
               "dovecot_rate": rate_of(dr, key) if dr else ""}
        rows.append(row)
        print("%-58s %10s %10s %6s %9s %9s %6s  %-11s %-11s" % (
            label[:58], fmt(ft, ".3f"), fmt(dt, ".3f"),
            fmt(row["time_ratio"], ".2f"), fmt(fc, ".3f"), fmt(dc, ".3f"),
            fmt(row["cpu_ratio"], ".2f"), row["facteur_rate"],
            row["dovecot_rate"]), file=out)
    return rows


def correctness(results, corpus, ctx):
    """Compares what each server answered with the corpus and with each
    other. Returns a list of problems (strings)."""
    n = len(corpus)
    k = ctx["bodies"]
    expect = {
        "count": n,
        "size_sum": sum(len(d) + d.count(b"\n") for d, _ in corpus),
        "header_bytes": sum(header_fields_bytes(d) for d, _ in corpus),
        "body_bytes": sum(len(d) + d.count(b"\n") for d, _ in corpus[:k]),
        "search": sum(1 for _, rare in corpus if rare),
    }
    problems = []
    for r in results:
        who = "%s rep %d %s" % (r["server"], r["rep"], r["step"])
        key = r["step"]
        want = {"first_select": ("count", n), "select": ("count", n),
                "fetch_sync": ("count", n), "envelope_cold": ("count", n),
                "envelope_warm": ("count", n), "headers": ("count", n),
                "bodies": ("count", min(k, n)),
                "search": ("count", expect["search"]),
                "store": ("count", n), "concurrent": ("count", n),
                "append": ("count", ctx["append"])}[key]
        if r.get(want[0]) != want[1]:
            problems.append("%s: %s %s, expected %s" % (
                who, want[0], r.get(want[0]), want[1]))
        if key == "fetch_sync" and r["size_sum"] != expect["size_sum"]:
            problems.append("%s: RFC822.SIZE sum %d, expected %d (CRLF "
                            "octets)" % (who, r["size_sum"],
                                         expect["size_sum"]))
        if key == "headers" and r["literal_bytes"] != expect["header_bytes"]:
            problems.append("%s: HEADER.FIELDS bytes %d, expected %d" % (
                who, r["literal_bytes"], expect["header_bytes"]))
        if key == "bodies" and r["literal_bytes"] != expect["body_bytes"]:
            problems.append("%s: BODY[] bytes %d, expected %d" % (
                who, r["literal_bytes"], expect["body_bytes"]))
    for key in ("envelope_cold", "envelope_warm"):
        by = {}
        for r in results:
            if r["step"] == key:
                by.setdefault(r["server"], set()).add(r["bytes"])
        if len(by) == 2 and by["facteur"] != by["dovecot"]:
            problems.append("%s: ENVELOPE response bytes differ: facteur "
                            "%s, dovecot %s" % (key, sorted(by["facteur"]),
                                                sorted(by["dovecot"])))
    return problems, expect


def facteur_log_summary(text, limit=15):
    bad = [l for l in text.splitlines()
           if "level=warn" in l or "level=error" in l or "level=fatal" in l]
    return len(bad), bad[:limit]


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(
        description="IMAP reading of a large folder: Facteur vs Debian's "
                    "Dovecot (run by hand; see bench/README.md).")
    ap.add_argument("--messages", type=int, default=10000,
                    help="messages in the INBOX (default 10000)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="repeats, alternating the order (default 3)")
    ap.add_argument("--bodies", type=int, default=1000,
                    help="messages whose BODY[] is fetched (default 1000)")
    ap.add_argument("--append", type=int, default=500,
                    help="messages APPENDed (default 500)")
    ap.add_argument("--clients", type=int, default=10,
                    help="concurrent clients (default 10)")
    ap.add_argument("--select-times", type=int, default=5,
                    help="SELECTs of the indexed INBOX (default 5)")
    ap.add_argument("--plain-names", action="store_true",
                    help="Maildir names without ,S=,W= (as Postfix's virtual "
                         "writes them): the servers must read the files for "
                         "sizes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pause", type=float, default=5.0,
                    help="seconds after filling, after a sync (default 5)")
    ap.add_argument("--steps", default=",".join(k for k, _l, _f in STEPS),
                    help="comma-separated subset of the steps (first_select "
                         "always runs)")
    ap.add_argument("--skip-dovecot", action="store_true")
    ap.add_argument("--dovecot-dir", default=os.environ.get(
        "BENCH_DOVECOT_DIR", "/tmp/facteur-bench-dovecot"))
    ap.add_argument("--dovecot-port", type=int, default=int(os.environ.get(
        "BENCH_IMAPS_PORT", "21993")))
    ap.add_argument("--facteur", default=str(REPO / "build" / "facteur"))
    ap.add_argument("--port-offset", type=int, default=None)
    ap.add_argument("--facteur-log-level", default="warn",
                    choices=["debug", "info", "warn", "error"])
    ap.add_argument("--facteur-tcp-shim", action="store_true",
                    help="run Facteur with an LD_PRELOAD shim that sets "
                         "TCP_NODELAY and TCP_QUICKACK (a diagnosis: what "
                         "Facteur would do with them; needs cc)")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--keep", action="store_true",
                    help="keep Facteur's data dir and Dovecot's Maildirs")
    args = ap.parse_args()

    if not 1 <= args.messages <= 200000:
        ap.error("--messages: 1..200000")
    if not 1 <= args.repeat <= 20:
        ap.error("--repeat: 1..20")
    if args.clients < 1 or args.clients > 40 or args.append < 1 or \
            args.bodies < 1 or args.select_times < 1:
        ap.error("--clients 1..40, --append, --bodies, --select-times >= 1")
    if not os.access(args.facteur, os.X_OK):
        ap.error("%s is not executable: run make first" % args.facteur)
    wanted = set(s.strip() for s in args.steps.split(",") if s.strip())
    unknown = wanted - {k for k, _l, _f in STEPS}
    if unknown:
        ap.error("unknown steps: %s" % ", ".join(sorted(unknown)))
    wanted.add("first_select")

    def _interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)

    users = ["u%d" % (r + 1) for r in range(args.repeat)]
    log("generating %d messages (seed %d)" % (args.messages, args.seed))
    corpus = make_corpus(args.messages, args.seed)
    total = sum(len(d) for d, _ in corpus)
    log("corpus: %.1f MiB, mean %.1f KiB, %d with the search word" % (
        total / 2**20, total / len(corpus) / 1024,
        sum(1 for _, r in corpus if r)))
    ctx = {"bodies": min(args.bodies, args.messages),
           "append": args.append, "clients": args.clients,
           "select_times": args.select_times,
           "append_msgs": [corpus[i % len(corpus)][0]
                           for i in range(args.append)]}

    facteur = FacteurServer(args.facteur, users, args.port_offset,
                            args.facteur_log_level, args.keep,
                            args.facteur_tcp_shim)
    servers = []
    results = []
    rc = 0
    dovecot = None
    try:
        facteur.start()
        servers.append(facteur)
        log("facteur: pid %d, imaps 127.0.0.1:%d, data dir %s" % (
            facteur.proc.pid, facteur.port, facteur.data_dir))
        if not args.skip_dovecot:
            dovecot = DovecotServer(args.dovecot_dir, args.dovecot_port,
                                    users, args.keep)
            servers.append(dovecot)
            log("dovecot: master pid %d, imaps 127.0.0.1:%d, homes under "
                "%s" % (dovecot.master_pid(), dovecot.port,
                        dovecot.base / "home"))
        for s in servers:
            m = connect(s, users[0], select=False)
            log("%s: %s %s" % (s.name, m.sock.version(), m.sock.cipher()[0]))
            logout(m)
            s.settle(time.monotonic() + 5)
        t_base = 1_780_000_000 - args.messages - 86400
        for rep in range(args.repeat):
            user = users[rep]
            for s in servers:
                t0 = time.monotonic()
                s.fill(user, corpus, args.plain_names, t_base)
                log("rep %d: filled %s %s INBOX in %.1f s" % (
                    rep + 1, s.name, user, time.monotonic() - t0))
            os.sync()
            time.sleep(args.pause)
            order = servers if rep % 2 == 0 else list(reversed(servers))
            for key, label, fn in STEPS:
                if key not in wanted:
                    continue
                for s in order:
                    busy = wait_quiet()
                    if busy >= 5:
                        log("     warning: machine %.0f%% busy before %s %s"
                            % (busy, s.name, key))
                    st = Step(s)
                    try:
                        fn(st, user, ctx)
                    finally:
                        for m in st.conns:
                            logout(m)
                    r = st.result()
                    r.update({"step": key, "server": s.name,
                              "rep": rep + 1, "busy_before": round(busy, 1)})
                    results.append(r)
                    log("rep %d %-13s %-8s %8.3f s  cpu %s s  %s%s" % (
                        rep + 1, key, s.name, step_time(r, key),
                        fmt(step_cpu(r, key, ctx), ".3f"),
                        rate_of(r, key),
                        "  count %s" % r.get("count")))
                    if s is facteur and not facteur.alive():
                        raise RuntimeError("facteur exited during %s: %s\n%s"
                                           % (key, facteur.proc.returncode,
                                              facteur.log_text()[-1500:]))
    except KeyboardInterrupt:
        log("interrupted")
        rc = 130
    except (RuntimeError, OSError, imaplib.IMAP4.error) as e:
        log("error: %s: %s" % (type(e).__name__, e))
        rc = 1
    finally:
        mem = facteur.memory() if facteur.alive() else {}
        status = facteur.stop()
        nbad, bad = facteur_log_summary(facteur.log_text())
        if facteur.proc is not None:
            log("facteur: exit status %s, peak RSS %s KiB, %d warn/error "
                "line(s) in its log" % (status, mem.get("hwm_kib"), nbad))
            for line in bad:
                log("  " + line[:300])
            if status not in (0, None):
                rc = rc or 1
        facteur.cleanup()
        if dovecot is not None:
            dovecot.cleanup()

    if results:
        print("IMAP, one INBOX of %d messages (%.1f MiB), %s, %d cores, "
              "facteur %s%s, %s names, implicit TLS" % (
                  args.messages, total / 2**20, time.strftime("%Y-%m-%d"),
                  os.cpu_count(), git_version(args.facteur),
                  " WITH THE TCP SHIM" if args.facteur_tcp_shim else "",
                  "plain" if args.plain_names else "S=/W="))
        print_runs(results)
        rows = print_summary(results, ctx)
        problems, expect = correctness(results, corpus, ctx)
        print("\nFacteur peak RSS (VmHWM): %s KiB; Dovecot imap process peak "
              "RSS (largest seen): %s KiB" % (
                  mem.get("hwm_kib"), max([r["memory"].get("imap_hwm_kib")
                                           or 0 for r in results
                                           if r["server"] == "dovecot"]
                                          or [0]) or "-"))
        print("Expected: %d messages, RFC822.SIZE sum %d, header-field bytes "
              "%d, BODY[] bytes of the first %d %d, SEARCH %d" % (
                  expect["count"], expect["size_sum"],
                  expect["header_bytes"], ctx["bodies"],
                  expect["body_bytes"], expect["search"]))
        if problems:
            print("CORRECTNESS PROBLEMS (%d):" % len(problems))
            for p in problems:
                print("  " + p)
            rc = rc or 1
        else:
            print("Correctness: both servers gave the expected counts, "
                  "sizes and bytes.")
        if args.json:
            clean = dict(ctx)
            del clean["append_msgs"]
            Path(args.json).write_text(json.dumps(
                {"date": time.strftime("%Y-%m-%dT%H:%M:%S"),
                 "cores": os.cpu_count(),
                 "facteur": git_version(args.facteur),
                 "args": vars(args), "ctx": clean, "expect": expect,
                 "summary": rows, "problems": problems,
                 "facteur_peak_rss_kib": mem.get("hwm_kib"),
                 "results": results}, indent=1) + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
