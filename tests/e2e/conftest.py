"""End-to-end harness: starts the real daemon on 127.0.0.1 with a port
offset and a temporary data directory, and talks to it with real clients.

Run with Debian's interpreter:  /usr/bin/python3 -m pytest -q tests/e2e
FACTEUR_BIN selects the binary (make test-e2e sets it); the default is
build/facteur of this checkout.

Every wait is bounded: sockets carry timeouts, polling loops deadlines.
"""
import itertools
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FACTEUR_BIN = os.environ.get("FACTEUR_BIN") or str(REPO / "build" / "facteur")


def _sanitized(path):
    """True for a build with AddressSanitizer (make SANITIZE=...), whose
    memory use says nothing about the daemon's own."""
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


SANITIZED = _sanitized(FACTEUR_BIN)
HOSTNAME = "mx.test.example"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0
IO_TIMEOUT = 10.0

DEFAULT_CONFIG = {
    "hostname": HOSTNAME,
    "max_message_size": "100K",
    "max_recipients": "5",
    "timeout_idle": "30",
    "loop_threads": "2",
    "worker_threads": "2",
    "log_level": "debug",
}

# Instances alive in this process, for teardown and log dumps.
_LIVE = []
_offsets = itertools.count()


def _port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# The services the daemon listens on, by default port (before the
# offset). Each gets a section with address = 127.0.0.1 in the config,
# and _pick_offset checks all their ports.
LISTENERS = {"smtp": 25, "submission": 587, "submissions": 465, "imap": 143,
             "imaps": 993, "pop3": 110, "pop3s": 995, "https": 443,
             "http": 80}


def _pick_offset():
    """A port offset unlikely to collide with a parallel run: a block of
    40 per process id, walked by a counter, checked by binding every
    listener's port."""
    base = 30000 + (os.getpid() % 500) * 40
    for _ in range(40):
        off = base + next(_offsets) % 40
        if all(_port_free(p + off) for p in LISTENERS.values()):
            return off
    raise RuntimeError("no free port in this process's block")


def make_tempdir(prefix="facteur-e2e-"):
    # Under /tmp with 0755: the daemon drops to user facteur and must be
    # able to reach the data dir (pytest's tmp_path parent is 0700).
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return Path(d)


def client_tls_context():
    """A TLS client context that does not verify (the daemon's
    certificate is self-signed)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _enabled(keys):
    return str(keys.get("enabled", "yes")).lower() not in (
        "no", "false", "off", "0")


def write_config(path, settings=None, sections=None, extra=""):
    """Writes an INI file: top-level keys, then a section per listener
    of LISTENERS ([smtp], [pop3], ...) with address=127.0.0.1, and any
    other sections. Returns the sections written."""
    top = dict(DEFAULT_CONFIG)
    top.update(settings or {})
    # Every listener on 127.0.0.1, never on all interfaces.
    secs = {name: {"address": "127.0.0.1"} for name in LISTENERS}
    for name, keys in (sections or {}).items():
        secs.setdefault(name, {}).update(keys)
    lines = ["# written by tests/e2e/conftest.py"]
    lines += ["%s = %s" % (k, v) for k, v in top.items() if v is not None]
    for name, keys in secs.items():
        lines.append("")
        lines.append("[%s]" % name)
        lines += ["%s = %s" % (k, v) for k, v in keys.items()]
    Path(path).write_text("\n".join(lines) + "\n" + extra)
    return secs


class Facteur:
    """One daemon instance with its own data directory and port."""

    def __init__(self, settings=None, sections=None):
        self.data_dir = make_tempdir()
        self.config_path = self.data_dir / "facteur.conf"
        self.log_path = self.data_dir / "facteur.log"
        secs = write_config(self.config_path, settings, sections)
        self.pop3_enabled = _enabled(secs["pop3"])
        self.proc = None
        self.port_offset = None
        self._log = None
        self._names = itertools.count(1)
        _LIVE.append(self)

    # ---- lifecycle ----

    @property
    def smtp_port(self):
        return LISTENERS["smtp"] + self.port_offset

    @property
    def pop3_port(self):
        """POP3 with STLS (110 + offset)."""
        return LISTENERS["pop3"] + self.port_offset

    @property
    def pop3s_port(self):
        """POP3 with implicit TLS (995 + offset)."""
        return LISTENERS["pop3s"] + self.port_offset

    @property
    def imap_port(self):
        """IMAP with STARTTLS (143 + offset)."""
        return LISTENERS["imap"] + self.port_offset

    @property
    def imaps_port(self):
        """IMAP with implicit TLS (993 + offset)."""
        return LISTENERS["imaps"] + self.port_offset

    @property
    def api_port(self):
        """The admin JSON API over HTTPS (443 + offset)."""
        return LISTENERS["https"] + self.port_offset

    @property
    def http_port(self):
        """HTTP, redirecting to HTTPS (80 + offset)."""
        return LISTENERS["http"] + self.port_offset

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        last_error = None
        for _attempt in range(5):
            self.port_offset = _pick_offset()
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [FACTEUR_BIN, "serve", "--config", str(self.config_path),
                 "--data-dir", str(self.data_dir),
                 "--port-offset", str(self.port_offset)],
                stdin=subprocess.DEVNULL, stdout=self._log,
                stderr=subprocess.STDOUT)
            try:
                self._wait_ready()
                return self
            except _BindRace as e:
                # Someone took the port between the check and the bind.
                last_error = e
                self._reap()
        raise RuntimeError("daemon could not bind: %s" % last_error)

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log_text()
                if "cannot listen" in log:
                    raise _BindRace(log[-500:])
                raise RuntimeError("facteur serve exited with %s:\n%s" %
                                   (self.proc.returncode, log))
            try:
                s = socket.create_connection(("127.0.0.1", self.smtp_port),
                                             timeout=1.0)
            except OSError:
                time.sleep(0.05)
                continue
            try:
                c = SMTPClient(sock=s, timeout=5)
                c.expect(220)
                c.cmd("QUIT").expect(221)
                c.wait_closed(5)
            finally:
                s.close()
            # All listeners are bound before any is served; the POP3 one
            # greets too (the implicit-TLS one needs no handshake here).
            if self.pop3_enabled:
                p = POP3Client(self.pop3_port, timeout=5)
                try:
                    p.cmd("QUIT").expect_ok()
                    p.wait_closed(5)
                finally:
                    p.close()
            return
        self.kill9()
        raise RuntimeError("facteur serve not ready after %ss:\n%s" %
                           (START_TIMEOUT, self.log_text()))

    def _reap(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, check=False):
        """SIGTERM, wait (bounded), then SIGKILL. With check, asserts the
        daemon exited by itself with status 0. Returns the exit status."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        killed = False
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait(timeout=STOP_TIMEOUT)
                killed = True
        self._reap()
        if check:
            assert not killed, ("facteur did not stop within %ss of "
                                "SIGTERM" % STOP_TIMEOUT)
            assert rc == 0, "facteur exited with status %s" % rc
        return rc

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)
        self._reap()

    def cleanup(self):
        self.kill9()
        if self in _LIVE:
            _LIVE.remove(self)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    # ---- logs ----

    def log_text(self):
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_size(self):
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def wait_log(self, pattern, count=1, timeout=10.0):
        """Polls the log until pattern (regex) occurs count times."""
        deadline = time.monotonic() + timeout
        while True:
            n = len(re.findall(pattern, self.log_text()))
            if n >= count:
                return n
            if time.monotonic() >= deadline:
                raise AssertionError("log: %r seen %d times, wanted %d" %
                                     (pattern, n, count))
            time.sleep(0.05)

    def wait_sessions(self, count=0, timeout=10.0):
        """Waits until count logged sessions are open (connected and not
        yet torn down, which is when their slot is released)."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log_text()
            opened = len(re.findall(r"event=connect\b", log))
            closed = len(re.findall(r"event=disconnect\b", log))
            if opened - closed == count:
                return
            if time.monotonic() >= deadline:
                raise AssertionError("%d sessions open, wanted %d" %
                                     (opened - closed, count))
            time.sleep(0.05)

    # ---- CLI ----

    def cli(self, *args, input=None, config=True):
        cmd = [FACTEUR_BIN, *args, "--data-dir", str(self.data_dir)]
        if config:
            cmd += ["--config", str(self.config_path)]
        return subprocess.run(cmd, input=input, capture_output=True,
                              text=True, encoding="utf-8", timeout=30)

    def cli_ok(self, *args, input=None):
        r = self.cli(*args, input=input)
        assert r.returncode == 0, "facteur %s: %s%s" % (
            " ".join(args), r.stdout, r.stderr)
        return r

    def unique(self, prefix="u"):
        """A fresh local part or label for this test."""
        return "%s%d" % (prefix, next(self._names))

    def add_domain(self, name=None):
        name = name or self.unique("d") + ".example"
        self.cli_ok("domain", "add", name)
        return name

    def add_mailbox(self, address=None, quota=None, domain="example.com",
                    password=None):
        """Adds a mailbox; with password (8 characters or more), sets it
        with --password-stdin (else one is generated and not kept)."""
        address = address or "%s@%s" % (self.unique("box"), domain)
        args = ["mailbox", "add", address]
        if quota is not None:
            args += ["--quota", quota]
        if password is not None:
            args.append("--password-stdin")
            self.cli_ok(*args, input=password + "\n")
        else:
            self.cli_ok(*args)
        return address

    # ---- Maildir ----

    def maildir(self, address):
        local, domain = address.rsplit("@", 1)
        return self.data_dir / "mail" / domain / local

    def maildir_files(self, address, sub="new"):
        d = self.maildir(address) / sub
        if not d.is_dir():
            return []
        return sorted(p for p in d.iterdir() if p.is_file())

    def all_stored(self):
        """Every file under mail/*/*/{new,cur,tmp}."""
        root = self.data_dir / "mail"
        if not root.is_dir():
            return []
        return sorted(p for p in root.glob("*/*/*/*") if p.is_file())

    # ---- clients ----

    def connect(self, timeout=IO_TIMEOUT, greet=True):
        c = SMTPClient(port=self.smtp_port, timeout=timeout)
        if greet:
            c.expect(220)
        return c

    def smtplib(self, timeout=IO_TIMEOUT):
        import smtplib
        return smtplib.SMTP("127.0.0.1", self.smtp_port,
                            local_hostname="client.example", timeout=timeout)

    def pop3(self, tls=True, timeout=IO_TIMEOUT, greet=True):
        """A raw POP3 client: on the implicit-TLS port with tls, else on
        the STLS port in clear text."""
        return POP3Client(self.pop3s_port if tls else self.pop3_port,
                          tls=tls, timeout=timeout, greet=greet)

    def poplib(self, tls=True, timeout=IO_TIMEOUT):
        """poplib.POP3_SSL on the implicit-TLS port, or poplib.POP3 on
        the STLS port after stls() (with tls=False: left in clear)."""
        import poplib
        if tls:
            return poplib.POP3_SSL("127.0.0.1", self.pop3s_port,
                                   context=client_tls_context(),
                                   timeout=timeout)
        return poplib.POP3("127.0.0.1", self.pop3_port, timeout=timeout)


    def imaplib(self, tls=True, timeout=IO_TIMEOUT):
        """imaplib.IMAP4_SSL on the implicit-TLS port, or imaplib.IMAP4
        on the STARTTLS port after starttls() (tls=False: left in
        clear)."""
        import imaplib
        if tls:
            return imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port,
                                     ssl_context=client_tls_context(),
                                     timeout=timeout)
        return imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=timeout)


class _BindRace(Exception):
    pass


class Reply:
    def __init__(self, lines):
        self.lines = lines
        self.code = int(lines[-1][:3])

    @property
    def text(self):
        return "\n".join(self.lines)

    def expect(self, code, contains=None):
        assert self.code == code, "expected %s, got:\n%s" % (code, self.text)
        if contains is not None:
            assert contains in self.text, "expected %r in:\n%s" % (
                contains, self.text)
        return self

    def __repr__(self):
        return "Reply(%r)" % self.text


class SMTPClient:
    """A raw SMTP client: exact bytes out, replies parsed in order."""

    def __init__(self, port=None, sock=None, timeout=IO_TIMEOUT):
        self.timeout = timeout
        self.sock = sock or socket.create_connection(("127.0.0.1", port),
                                                     timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _fill(self, deadline):
        if time.monotonic() >= deadline:
            raise socket.timeout("no complete reply within %ss" %
                                 self.timeout)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed; pending: %r" % self.buf)
        self.buf += chunk

    def readline(self):
        deadline = time.monotonic() + self.timeout
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            line = self.readline()
            assert re.match(r"^\d{3}[ -]", line) or re.match(r"^\d{3}$",
                                                             line), \
                "malformed reply line %r" % line
            lines.append(line)
            if line[3:4] != "-":
                return Reply(lines)

    def expect(self, code, contains=None):
        return self.reply().expect(code, contains)

    def cmd(self, line):
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.reply()

    def ehlo(self, name="client.example"):
        return self.cmd("EHLO " + name).expect(250)

    def starttls(self):
        self.cmd("STARTTLS").expect(220)
        assert self.buf == b"", "bytes after the 220: %r" % self.buf
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock)
        self.sock.settimeout(self.timeout)

    def wait_closed(self, timeout=IO_TIMEOUT):
        """Reads until the server closes; returns what came before."""
        deadline = time.monotonic() + timeout
        got = b""
        self.sock.settimeout(timeout)
        while True:
            if time.monotonic() >= deadline:
                raise AssertionError("server did not close; got %r" % got)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return got
            if not chunk:
                return got
            got += chunk

    def send_message(self, mail_from, rcpts, body, ehlo=True):
        """EHLO, MAIL, RCPT..., DATA; body is sent as given followed by
        CRLF.CRLF (so it must end with CRLF). Returns the final reply."""
        if ehlo:
            self.ehlo()
        self.cmd("MAIL FROM:<%s>" % mail_from).expect(250)
        for r in rcpts:
            self.cmd("RCPT TO:<%s>" % r).expect(250)
        self.cmd("DATA").expect(354)
        self.send(body + b".\r\n")
        return self.reply()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class POP3Status:
    """A POP3 status line ("+OK ...", "-ERR ...", "+ challenge")."""

    def __init__(self, line):
        self.line = line

    @property
    def ok(self):
        return self.line.startswith("+OK")

    def expect_ok(self, contains=None):
        assert self.ok, "expected +OK, got %r" % self.line
        if contains is not None:
            assert contains in self.line, "expected %r in %r" % (
                contains, self.line)
        return self

    def expect_err(self, contains=None):
        assert self.line.startswith("-ERR"), \
            "expected -ERR, got %r" % self.line
        if contains is not None:
            assert contains in self.line, "expected %r in %r" % (
                contains, self.line)
        return self

    def expect_cont(self):
        assert self.line.startswith("+ ") or self.line == "+", \
            "expected a continuation, got %r" % self.line
        return self.line[2:]

    def __repr__(self):
        return "POP3Status(%r)" % self.line


class POP3Client:
    """A raw POP3 client: exact bytes out, status lines and multi-line
    responses read in order, bytes as they came (no dot un-stuffing)."""

    def __init__(self, port, tls=False, timeout=IO_TIMEOUT, greet=True):
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        if tls:
            self.sock = client_tls_context().wrap_socket(self.sock)
        self.sock.settimeout(timeout)
        self.buf = b""
        if greet:
            self.status().expect_ok()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _fill(self, deadline, size=65536):
        if time.monotonic() >= deadline:
            raise socket.timeout("no complete reply within %ss" %
                                 self.timeout)
        chunk = self.sock.recv(size)
        if not chunk:
            raise EOFError("connection closed; pending: %r" %
                           self.buf[:200])
        self.buf += chunk

    def readline(self):
        """One line without its CRLF, as bytes."""
        deadline = time.monotonic() + self.timeout
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                break
            self._fill(deadline)
        line, self.buf = self.buf[:i], self.buf[i + 2:]
        return line

    def status(self):
        return POP3Status(self.readline().decode("utf-8", "replace"))

    def cmd(self, line):
        """Sends one command line; returns its status line."""
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.status()

    def multiline(self):
        """The lines of a multi-line response up to the ".", raw."""
        lines = []
        while True:
            line = self.readline()
            if line == b".":
                return lines
            lines.append(line)

    def cmd_multi(self, line):
        """A command with a multi-line answer: (status, raw lines); the
        lines are read only after +OK."""
        st = self.cmd(line)
        return st, (self.multiline() if st.ok else None)

    def read_body(self, progress=None):
        """The raw bytes of a multi-line response body with its last
        CRLF, without the terminating ".CRLF" (an empty body comes back
        as b""). progress(n) is called with the bytes held so far after
        each read. The whole body must come within the timeout."""
        deadline = time.monotonic() + self.timeout
        if self.buf.startswith(b".\r\n"):
            self.buf = self.buf[3:]
            return b""
        buf = bytearray(self.buf)
        self.buf = b""
        start = 0
        while True:
            i = buf.find(b"\r\n.\r\n", start)
            if i >= 0:
                break
            start = max(0, len(buf) - 4)
            if time.monotonic() >= deadline:
                raise socket.timeout("body not complete within %ss (%d "
                                     "bytes)" % (self.timeout, len(buf)))
            chunk = self.sock.recv(262144)
            if not chunk:
                raise EOFError("connection closed after %d bytes of body"
                               % len(buf))
            buf += chunk
            if progress is not None:
                progress(len(buf))
        body, self.buf = bytes(buf[:i + 2]), bytes(buf[i + 5:])
        return body

    def stls(self):
        """STLS: +OK, nothing after it in clear text, then the
        handshake."""
        self.cmd("STLS").expect_ok()
        assert self.buf == b"", "bytes after the STLS reply: %r" % self.buf
        self.sock = client_tls_context().wrap_socket(self.sock)
        self.sock.settimeout(self.timeout)

    def login(self, user, password):
        self.cmd("USER " + user).expect_ok()
        return self.cmd("PASS " + password).expect_ok()

    def wait_closed(self, timeout=IO_TIMEOUT):
        """Reads until the server closes; returns what came before
        (with anything already buffered)."""
        deadline = time.monotonic() + timeout
        got, self.buf = self.buf, b""
        self.sock.settimeout(timeout)
        while True:
            if time.monotonic() >= deadline:
                raise AssertionError("server did not close; got %r" % got)
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLEOFError):
                return got
            if not chunk:
                return got
            got += chunk

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---- message helpers ----

def make_message(subject="test", body_lines=None, extra_headers=()):
    """A message with CRLF line ends, ending with CRLF."""
    lines = ["From: Sender <sender@example.org>",
             "To: someone@example.com",
             "Subject: %s" % subject,
             "Message-ID: <%s.%d@client.example>" % (
                 subject.replace(" ", "-"), time.monotonic_ns()),
             *extra_headers,
             ""]
    lines += body_lines if body_lines is not None else [
        "Hello,", "", "this is a test message.", "-- ", "Sender"]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def split_stored(data):
    """Splits a stored file into (added headers as {name: value-with-
    continuations}, the rest). The added headers are Return-Path,
    Delivered-To and Received, in that order, at the top."""
    lines = data.split(b"\n")
    added = {}
    i = 0
    for name in (b"Return-Path", b"Delivered-To", b"Received"):
        assert lines[i].startswith(name + b": "), \
            "line %d is %r, expected %s" % (i, lines[i], name)
        value = lines[i][len(name) + 2:]
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            value += b"\n" + lines[i]
            i += 1
        added[name.decode()] = value.decode("utf-8", "replace")
    return added, b"\n".join(lines[i:])


def stored_equals(path, sent):
    """Asserts the stored file is the sent message (CRLF -> LF) after the
    added headers; returns the added headers."""
    data = Path(path).read_bytes()
    assert b"\r" not in data, "stored file contains CR"
    added, rest = split_stored(data)
    assert rest == sent.replace(b"\r\n", b"\n"), \
        "stored content differs:\n--- stored\n%r\n--- sent\n%r" % (
            rest, sent)
    return added


# ---- fixtures ----

@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call"):
        marks = getattr(item, "_facteur_log_marks", {})
        for inst in list(_LIVE):
            start = marks.get(id(inst), 0)
            try:
                with open(inst.log_path, "rb") as f:
                    f.seek(start)
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            if len(text) > 20000:
                text = "[...]\n" + text[-20000:]
            rep.sections.append(("facteur log %s (port %s)" % (
                inst.data_dir, inst.port_offset and inst.smtp_port), text))


@pytest.fixture(autouse=True)
def _facteur_log_mark(request):
    # Remember where each live log stood, so a failure dumps this test's
    # part only.
    request.node._facteur_log_marks = {id(i): i.log_size() for i in _LIVE}
    yield


def _module_instance():
    inst = Facteur()
    try:
        inst.start()
        inst.cli_ok("domain", "add", "example.com")
    except BaseException:
        inst.cleanup()
        raise
    return inst


@pytest.fixture(scope="module")
def facteur():
    """One daemon per test module, with the domain example.com."""
    inst = _module_instance()
    try:
        yield inst
        rc = inst.stop()
        log = inst.log_text()
        assert rc == 0, "facteur exited with status %s at the end of " \
            "the module:\n%s" % (rc, log[-5000:])
        errors = [line for line in log.splitlines()
                  if "level=error" in line or "runtime error" in line]
        assert not errors, "errors in the log:\n" + "\n".join(errors)
    finally:
        inst.cleanup()


@pytest.fixture
def facteur_factory():
    """Starts fresh daemons (config variations, kill -9); all are
    stopped and removed at teardown."""
    made = []

    def make(settings=None, sections=None, start=True, domain=True):
        inst = Facteur(settings, sections)
        made.append(inst)
        if start:
            inst.start()
            if domain:
                inst.cli_ok("domain", "add", "example.com")
        return inst

    try:
        yield make
    finally:
        for inst in made:
            try:
                inst.stop()
            finally:
                inst.cleanup()
