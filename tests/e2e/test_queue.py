"""The outbound queue: submission and forwarding aliases to other domains,
MX lookup through a test DNS server (dnslib), delivery to a test SMTP
server (aiosmtpd), retries, bounces (RFC 3464), the queue CLI, and a
kill -9 with messages in the queue."""

import socket
import smtplib
import ssl
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from dnslib import A, MX, QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSServer

PASSWORD = "correct horse battery"


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class _Resolver(BaseResolver):
    """remote.test and other.test: MX to 127.0.0.1; nullmx.test: null MX
    (RFC 7505); broken.test: SERVFAIL; everything else: NXDOMAIN."""

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower()
        qtype = QTYPE[request.q.qtype]

        def add(rtype, rdata):
            reply.add_answer(RR(request.q.qname, getattr(QTYPE, rtype),
                                rdata=rdata, ttl=60))
        if name in ("remote.test.", "other.test."):
            if qtype == "MX":
                add("MX", MX("mx." + name, 10))
        elif name in ("mx.remote.test.", "mx.other.test."):
            if qtype == "A":
                add("A", A("127.0.0.1"))
        elif name == "nullmx.test.":
            if qtype == "MX":
                add("MX", MX(".", 0))
        elif name == "broken.test.":
            reply.header.rcode = RCODE.SERVFAIL
        else:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class _Handler:
    """Stores what it receives; some recipients are refused."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        self.tempfail = set()

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if address.startswith("reject@"):
            return "550 5.1.1 no such user here"
        if address in self.tempfail:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.mail_from,
                                  list(envelope.rcpt_tos),
                                  envelope.original_content))
        return "250 2.0.0 stored"

    def wait(self, count, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError("remote server got %d messages, wanted %d"
                             % (len(self.messages), count))


@pytest.fixture(scope="module")
def world():
    """A DNS server and a remote SMTP server on 127.0.0.1."""
    dns_port = _free_port()
    dns = [DNSServer(_Resolver(), address="127.0.0.1", port=dns_port),
           DNSServer(_Resolver(), address="127.0.0.1", port=dns_port,
                     tcp=True)]
    for d in dns:
        d.start_thread()
    handler = _Handler()
    smtp_port = _free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    ctl.start()
    try:
        yield {"dns_port": dns_port, "smtp_port": smtp_port,
               "handler": handler, "controller": ctl}
    finally:
        ctl.stop()
        for d in dns:
            d.stop()


def _settings(world, **extra):
    s = {"resolver": "127.0.0.1@%d" % world["dns_port"],
         "remote_smtp_port": str(world["smtp_port"]),
         "queue_retry_initial": "1", "queue_retry_max": "2",
         "remote_timeout": "5"}
    s.update(extra)
    return s


@pytest.fixture
def fx(world, facteur_factory):
    world["handler"].messages.clear()
    world["handler"].tempfail.clear()
    return facteur_factory(_settings(world))


def _ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _send(fx, sender, rcpts, body=b"Subject: out\r\n\r\nhello world\r\n"):
    s = smtplib.SMTP_SSL("127.0.0.1", 465 + fx.port_offset, context=_ctx(),
                         timeout=10)
    s.login(sender, PASSWORD)
    refused = s.sendmail(sender, rcpts, body)
    s.quit()
    return refused


def _wait_queue_empty(fx, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = fx.cli_ok("queue", "list")
        if "the queue is empty" in r.stdout:
            return
        time.sleep(0.1)
    raise AssertionError("queue not empty:\n" + r.stdout)


def _wait_files(fx, address, count, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = fx.maildir_files(address)
        if len(files) >= count:
            return files
        time.sleep(0.05)
    raise AssertionError("%s has %d messages" % (address,
                                                 len(fx.maildir_files(address))))


def test_submission_delivered_to_other_domain(world, fx):
    user = fx.add_mailbox(password=PASSWORD)
    local = fx.add_mailbox()
    assert _send(fx, user, ["a@remote.test", "b@remote.test",
                            "c@other.test", local]) == {}
    msgs = world["handler"].wait(2)
    time.sleep(0.3)
    assert len(world["handler"].messages) == 2   # one per domain
    by_rcpts = {tuple(sorted(m[1])): m for m in msgs}
    assert ("a@remote.test", "b@remote.test") in by_rcpts
    assert ("c@other.test",) in by_rcpts
    mail_from, _, content = by_rcpts[("a@remote.test", "b@remote.test")]
    assert mail_from == user
    assert b"with ESMTPSA" in content
    assert content.endswith(b"Subject: out\r\n\r\nhello world\r\n")
    assert b"\r\nMessage-ID: <" in content and b"\r\nDate: " in content
    # the local recipient got its copy directly
    assert len(fx.maildir_files(local)) == 1
    _wait_queue_empty(fx)
    assert "event=delivery id=" in fx.log_text()


def test_permanent_failure_bounces_to_sender(world, fx):
    user = fx.add_mailbox(password=PASSWORD)
    assert _send(fx, user, ["reject@remote.test", "ok@remote.test"]) == {}
    world["handler"].wait(1)
    files = _wait_files(fx, user, 1)
    dsn = files[0].read_bytes()
    assert b"Return-Path: <>" in dsn
    assert b"multipart/report; report-type=delivery-status" in dsn
    assert b"Final-Recipient: rfc822; reject@remote.test" in dsn
    assert b"Action: failed" in dsn and b"Status: 5.1.1" in dsn
    assert b"Subject: out" in dsn       # the original header comes back
    assert b"ok@remote.test" not in dsn.split(b"text/rfc822-headers")[0]
    _wait_queue_empty(fx)


def test_null_mx_and_unknown_domain_bounce(world, fx):
    user = fx.add_mailbox(password=PASSWORD)
    assert _send(fx, user, ["x@nullmx.test", "y@missing.test"]) == {}
    # one report, or one per domain when the attempts end apart
    deadline = time.monotonic() + 20
    while True:
        dsn = b"".join(f.read_bytes() for f in fx.maildir_files(user))
        if dsn.count(b"Final-Recipient:") >= 2 or \
                time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert dsn.count(b"Final-Recipient:") == 2
    assert b"Final-Recipient: rfc822; x@nullmx.test" in dsn
    assert b"Status: 5.1.10" in dsn
    assert b"Final-Recipient: rfc822; y@missing.test" in dsn
    _wait_queue_empty(fx)


def test_temporary_failure_is_retried(world, fx):
    user = fx.add_mailbox(password=PASSWORD)
    world["handler"].tempfail.add("later@remote.test")
    assert _send(fx, user, ["later@remote.test"]) == {}
    fx.wait_log(r"event=delivery id=\S+ to=<later@remote.test> "
                r"status=pending attempt=1")
    r = fx.cli_ok("queue", "list")
    assert "<later@remote.test>\tpending\tattempts=" in r.stdout
    qid = r.stdout.split("\t")[0]
    r = fx.cli_ok("queue", "show", qid)
    assert "451 4.3.0 try again later" in r.stdout
    world["handler"].tempfail.clear()
    fx.cli_ok("queue", "retry", qid)
    msgs = world["handler"].wait(1)
    assert msgs[0][1] == ["later@remote.test"]
    _wait_queue_empty(fx)
    # longer than the retry interval: it arrived once
    time.sleep(2.5)
    assert len(world["handler"].messages) == 1
    assert fx.maildir_files(user) == []      # no bounce


def test_retry_happens_by_itself(world, fx):
    user = fx.add_mailbox(password=PASSWORD)
    world["handler"].tempfail.add("soon@remote.test")
    assert _send(fx, user, ["soon@remote.test"]) == {}
    fx.wait_log(r"to=<soon@remote.test> status=pending attempt=1")
    world["handler"].tempfail.clear()
    # queue_retry_initial = 1: the runner tries again on its own
    msgs = world["handler"].wait(1, timeout=15)
    assert msgs[0][1] == ["soon@remote.test"]
    fx.wait_log(r"to=<soon@remote.test> status=sent attempt=2")
    _wait_queue_empty(fx)


def test_dns_failure_is_retried_and_delete(world, fx):
    user = fx.add_mailbox(password=PASSWORD)
    assert _send(fx, user, ["x@broken.test"]) == {}
    fx.wait_log(r"to=<x@broken.test> status=pending attempt=1")
    qid = fx.cli_ok("queue", "list").stdout.split("\t")[0]
    r = fx.cli("queue", "delete", "not-an-id")
    assert r.returncode == 2
    fx.cli_ok("queue", "delete", qid)
    _wait_queue_empty(fx)
    r = fx.cli("queue", "show", qid)
    assert r.returncode != 0 and "no such message" in r.stderr
    assert not (fx.data_dir / "queue" / qid).exists()


def test_alias_forwarding_from_mx(world, fx):
    local = fx.add_mailbox()
    alias = "fwd@example.com"
    fx.cli_ok("alias", "add", alias, "%s,out@remote.test" % local)
    mx = smtplib.SMTP("127.0.0.1", fx.smtp_port, timeout=10)
    mx.ehlo("sender.example")
    assert mx.sendmail("someone@sender.example", [alias],
                       b"Subject: fwd\r\n\r\nforward me\r\n") == {}
    mx.quit()
    msgs = world["handler"].wait(1)
    assert msgs[0][0] == "someone@sender.example"
    assert msgs[0][1] == ["out@remote.test"]
    assert len(fx.maildir_files(local)) == 1
    # port 25 still never relays for a stranger
    mx = smtplib.SMTP("127.0.0.1", fx.smtp_port, timeout=10)
    mx.ehlo("sender.example")
    mx.mail("someone@sender.example")
    assert mx.rcpt("x@remote.test")[0] == 554
    mx.quit()


def test_kill9_with_queued_message_delivers_after_restart(world,
                                                          facteur_factory):
    # The remote server refuses temporarily: the message stays queued.
    world["handler"].messages.clear()
    world["handler"].tempfail = {"late@remote.test"}
    fx = facteur_factory(_settings(world))
    user = fx.add_mailbox(password=PASSWORD)
    assert _send(fx, user, ["late@remote.test"]) == {}
    fx.wait_log(r"to=<late@remote.test> status=pending attempt=1")
    fx.kill9()
    world["handler"].tempfail = set()
    fx.start()
    msgs = world["handler"].wait(1)
    time.sleep(1.5)
    assert len(world["handler"].messages) == 1    # exactly once
    assert msgs[0][1] == ["late@remote.test"]
    _wait_queue_empty(fx)


def _dkim_txt(fx, domain):
    """The TXT record value `facteur domain dkim` prints, joined."""
    out = fx.cli_ok("domain", "dkim", domain).stdout
    assert out.startswith("facteur._domainkey.%s. IN TXT (" % domain), out
    parts = out[out.index("(") + 1:out.rindex(")")].split('"')[1::2]
    assert all(len(p) <= 255 for p in parts)
    return "".join(parts).encode()


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
def test_dkim_signature_verifies(world, facteur_factory, key_type):
    import dkim
    world["handler"].messages.clear()
    fx = facteur_factory(_settings(world, dkim_key_type=key_type),
                         domain=False)
    fx.cli_ok("domain", "add", "example.com")
    txt = _dkim_txt(fx, "example.com")
    assert (b"k=ed25519" in txt) == (key_type == "ed25519")
    user = fx.add_mailbox(password=PASSWORD)
    body = (b"From: Me <%s>\r\nTo: <x@remote.test>\r\nSubject: signed  \r\n"
            b"\tfolded\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
            b"Hello  with\ttabs \r\n.leading dot\r\n\r\n\r\n" % user.encode())
    assert _send(fx, user, ["x@remote.test"], body) == {}
    msg = world["handler"].wait(1)[0][2]
    assert msg.startswith(b"DKIM-Signature: v=1; a=%s-sha256;"
                          % (b"rsa" if key_type == "rsa" else b"ed25519"))

    def dnsfunc(name, timeout=5):
        assert name == b"facteur._domainkey.example.com."
        return txt
    assert dkim.verify(msg, dnsfunc=dnsfunc)
    # a changed body no longer verifies (the check can fail)
    assert not dkim.verify(msg.replace(b"Hello", b"Jello"),
                           dnsfunc=dnsfunc)


def test_relay_host_with_auth(world, facteur_factory, tmp_path):
    """All outbound mail through a smarthost: STARTTLS, then AUTH."""
    import subprocess
    from aiosmtpd.smtp import AuthResult
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-subj", "/CN=localhost", "-keyout", str(key),
                    "-out", str(cert), "-days", "1"], check=True,
                   capture_output=True)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(cert), str(key))
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login == b"relayuser" and
              auth_data.password == b"relay secret")
        logins.append((mechanism, ok))
        return AuthResult(success=ok)

    handler = _Handler()
    port = _free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port,
                     authenticator=authenticator, auth_require_tls=True,
                     tls_context=tls, require_starttls=True)
    ctl.start()
    try:
        fx = facteur_factory(_settings(
            world, relay_host="127.0.0.1", relay_port=str(port),
            relay_tls="starttls", relay_verify="no",
            relay_user="relayuser", relay_password="relay secret"))
        user = fx.add_mailbox(password=PASSWORD)
        # any domain, even one without MX: the relay takes it
        assert _send(fx, user, ["x@missing.test"]) == {}
        msgs = handler.wait(1)
        assert msgs[0][1] == ["x@missing.test"]
        assert logins and logins[-1][1] is True
        _wait_queue_empty(fx)
        # the password never reaches the log or --check-config
        assert "relay secret" not in fx.log_text()
        r = fx.cli_ok("serve", "--check-config")
        assert "relay secret" not in r.stdout
    finally:
        ctl.stop()
