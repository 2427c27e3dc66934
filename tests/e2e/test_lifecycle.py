"""The daemon's life: durability across kill -9, graceful stop, connection
limits, idle timeout. Each test has a daemon of its own."""
import os
import signal
import socket
import ssl
import subprocess
import threading
import time

from conftest import (SANITIZED, STOP_TIMEOUT, SMTPClient, make_message,
                      stored_equals)


def test_kill9_after_250_keeps_message(facteur_factory):
    fx = facteur_factory()
    box = fx.add_mailbox()
    msg = make_message("durable", body_lines=["line %04d" % i
                                              for i in range(2000)])
    c = fx.connect()
    c.ehlo()
    c.cmd("MAIL FROM:<s@example.org>").expect(250)
    c.cmd("RCPT TO:<%s>" % box).expect(250)
    c.cmd("DATA").expect(354)
    c.send(msg + b".\r\n")
    r = c.reply()
    # Kill before anything else can happen.
    os.kill(fx.pid, signal.SIGKILL)
    r.expect(250, "queued as")
    fx.proc.wait(timeout=STOP_TIMEOUT)
    assert fx.proc.returncode == -signal.SIGKILL
    c.close()
    files = fx.maildir_files(box)
    assert len(files) == 1
    stored_equals(files[0], msg)
    assert fx.maildir_files(box, "tmp") == []
    assert list((fx.data_dir / "tmp").iterdir()) == []
    # The data directory still works after the crash.
    fx.start()
    msg2 = make_message("after restart")
    fx.connect().send_message("s@example.org", [box], msg2).expect(250)
    assert len(fx.maildir_files(box)) == 2
    assert fx.stop() == 0


def test_kill9_during_data_stores_nothing(facteur_factory):
    fx = facteur_factory()
    box = fx.add_mailbox()
    c = fx.connect()
    c.ehlo()
    c.cmd("MAIL FROM:<s@example.org>").expect(250)
    c.cmd("RCPT TO:<%s>" % box).expect(250)
    c.cmd("DATA").expect(354)
    c.send(make_message("half")[:200])
    fx.kill9()
    c.close()
    assert fx.maildir_files(box) == []
    assert fx.maildir_files(box, "tmp") == []
    # The spool file had no name: nothing is left behind.
    assert list((fx.data_dir / "tmp").iterdir()) == []


def test_sigterm_graceful_stop(facteur_factory):
    fx = facteur_factory()
    box = fx.add_mailbox()
    idle = fx.connect()
    idle.ehlo()
    busy = fx.connect()
    busy.ehlo()
    busy.cmd("MAIL FROM:<s@example.org>").expect(250)
    busy.cmd("RCPT TO:<%s>" % box).expect(250)
    fx.proc.send_signal(signal.SIGTERM)
    # Open sessions are told, then closed.
    idle.expect(421, "4.3.2")
    assert idle.wait_closed(STOP_TIMEOUT) == b""
    busy.expect(421, "4.3.2")
    assert busy.wait_closed(STOP_TIMEOUT) == b""
    fx.proc.wait(timeout=STOP_TIMEOUT)
    assert fx.proc.returncode == 0, fx.log_text()[-3000:]
    assert "event=stopped" in fx.log_text()
    assert fx.maildir_files(box) == []
    # The listener is gone.
    s = socket.socket()
    s.settimeout(2)
    try:
        assert s.connect_ex(("127.0.0.1", fx.smtp_port)) != 0
    finally:
        s.close()


def test_sigterm_during_starttls_handshake(facteur_factory):
    """A session waiting for its TLS handshake when the stop comes is told
    to go once the handshake is done; it does not hold up the stop."""
    fx = facteur_factory()
    c = fx.connect()
    c.ehlo()
    c.cmd("STARTTLS").expect(220)
    fx.proc.send_signal(signal.SIGTERM)
    fx.wait_log(r"event=stopping")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c.sock = ctx.wrap_socket(c.sock)
    c.sock.settimeout(c.timeout)
    c.expect(421, "4.3.2")
    assert c.wait_closed(5) == b""
    fx.proc.wait(timeout=STOP_TIMEOUT)
    assert fx.proc.returncode == 0


def _peer_cert(fx):
    c = fx.connect()
    c.ehlo()
    c.starttls()
    der = c.sock.getpeercert(binary_form=True)
    c.ehlo()
    c.cmd("QUIT").expect(221)
    return der


def test_sighup_reloads_certificate(facteur_factory):
    fx = facteur_factory()
    tls = fx.data_dir / "tls"
    old = _peer_cert(fx)
    assert old == ssl.PEM_cert_to_DER_cert((tls / "cert.pem").read_text())
    # A new pair, written into the files the daemon reads.
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
         "-subj", "/CN=reloaded.test.example",
         "-keyout", str(fx.data_dir / "new-key.pem"),
         "-out", str(fx.data_dir / "new-cert.pem")],
        capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    # A session open across the reload keeps working.
    c = fx.connect()
    c.ehlo()
    (tls / "cert.pem").write_bytes((fx.data_dir / "new-cert.pem")
                                   .read_bytes())
    (tls / "key.pem").write_bytes((fx.data_dir / "new-key.pem")
                                  .read_bytes())
    fx.proc.send_signal(signal.SIGHUP)
    fx.wait_log(r"event=tls_reload result=ok")
    new = _peer_cert(fx)
    assert new != old
    assert new == ssl.PEM_cert_to_DER_cert(
        (fx.data_dir / "new-cert.pem").read_text())
    c.starttls()
    c.ehlo()
    # A broken file: the reload fails and the certificate in use stays.
    (tls / "key.pem").write_text("not a key\n")
    fx.proc.send_signal(signal.SIGHUP)
    fx.wait_log(r"event=tls_reload result=failed")
    assert _peer_cert(fx) == new
    c.cmd("QUIT").expect(221)
    assert fx.running()


def test_sigterm_without_sessions(facteur_factory):
    fx = facteur_factory()
    fx.stop(check=True)


def test_connection_limit_per_ip(facteur_factory):
    fx = facteur_factory({"max_connections_per_ip": "2"})
    # The readiness probe's session must be gone before counting.
    fx.wait_sessions(0)
    c1 = fx.connect()
    c2 = fx.connect()
    c3 = fx.connect(greet=False)
    c3.expect(421, "4.7.0")
    assert c3.wait_closed(5) == b""
    # The first two are unaffected.
    c1.cmd("NOOP").expect(250)
    c2.cmd("NOOP").expect(250)
    c1.cmd("QUIT").expect(221)
    c1.wait_closed(5)
    fx.wait_sessions(1)
    c4 = fx.connect()
    c4.cmd("NOOP").expect(250)
    for c in (c2, c4):
        c.cmd("QUIT").expect(221)


def test_idle_timeout(facteur_factory):
    fx = facteur_factory({"timeout_idle": "2"})
    start = time.monotonic()
    # Idle after EHLO; in the middle of a command line; after STARTTLS
    # without a handshake. All three wait at the same time.
    idle = fx.connect(timeout=10)
    idle.ehlo()
    partial = fx.connect(timeout=10)
    partial.send(b"NOO")
    silent_tls = fx.connect(timeout=10)
    silent_tls.cmd("STARTTLS").expect(220)
    idle.expect(421, "4.4.2")
    assert idle.wait_closed(10) == b""
    partial.expect(421, "4.4.2")
    assert partial.wait_closed(10) == b""
    # No TLS was set up, so nothing readable comes before the close.
    silent_tls.wait_closed(12)
    assert time.monotonic() - start < 15
    fx.wait_sessions(0)
    # A fresh session is fine.
    c = fx.connect()
    c.cmd("NOOP").expect(250)


def _rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def test_pipelining_client_that_does_not_read(facteur_factory):
    """A client that pipelines commands without reading the replies must
    not make the server buffer them without bound: the server stops
    reading, and TCP pushes back on the client."""
    fx = facteur_factory({"log_level": "info"})
    # More commands than every socket buffer on the way can hold.
    n = (_tcp_mem_max("tcp_rmem") + _tcp_mem_max("tcp_wmem") +
         4 * 1024 * 1024) // len(b"NOOP\r\n")
    c = SMTPClient(sock=_small_buffer_socket(fx.smtp_port), timeout=30)
    c.expect(220)
    c.ehlo()
    base = _rss_kib(fx.pid)
    peak = base
    done = threading.Event()
    errors = []

    def flood():
        try:
            c.sock.sendall(b"NOOP\r\n" * n)
        except Exception as e:  # reported below
            errors.append(e)
        done.set()

    t = threading.Thread(target=flood)
    t.start()
    try:
        # Not reading for a while: a bounded server stalls the sender
        # long before the whole batch is in.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and not done.is_set():
            peak = max(peak, _rss_kib(fx.pid))
            time.sleep(0.02)
        peak = max(peak, _rss_kib(fx.pid))
        early = done.is_set()
        # Now read every reply: none is lost.
        got = 0
        reads = 0
        while got < n:
            c._fill(time.monotonic() + 30)
            end = c.buf.rfind(b"\r\n") + 2
            if end < 2:
                continue
            k = c.buf.count(b"\r\n", 0, end)
            assert c.buf.count(b"250 2.0.0 OK\r\n", 0, end) == k, \
                c.buf[:200]
            got += k
            c.buf = c.buf[end:]
            reads += 1
            if reads % 100 == 0:
                peak = max(peak, _rss_kib(fx.pid))
        assert got == n
        assert c.buf == b""
    finally:
        t.join(30)
    assert not t.is_alive()
    assert not errors, errors
    c.cmd("QUIT").expect(221)
    grown = peak - base
    if not SANITIZED:
        assert grown < 8 * 1024, "server RSS grew by %d KiB" % grown
    # More than the socket buffers hold cannot have been sent before the
    # replies were read.
    assert not early, "the server read everything without replying"


def _tcp_mem_max(name):
    with open("/proc/sys/net/ipv4/" + name) as f:
        return int(f.read().split()[2])


def _small_buffer_socket(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def test_database_newer_than_binary_is_refused(facteur_factory):
    import sqlite3

    from conftest import FACTEUR_BIN
    fx = facteur_factory(start=False)
    fx.cli_ok("domain", "list")        # creates and migrates the database
    db = sqlite3.connect(str(fx.data_dir / "facteur.db"))
    db.execute("PRAGMA user_version = 999")
    db.commit()
    db.close()
    r = subprocess.run([FACTEUR_BIN, "serve", "--config", str(fx.config_path),
                        "--data-dir", str(fx.data_dir), "--port-offset",
                        "20"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "newer than this binary" in r.stderr, r.stderr
    r = fx.cli("domain", "list")
    assert r.returncode != 0 and "newer than this binary" in r.stderr
