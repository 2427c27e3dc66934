"""STARTTLS with smtplib, openssl s_client and raw sockets, including the
plaintext command injection of CVE-2011-0411."""
import smtplib
import ssl
import subprocess

from conftest import make_message, stored_equals


def _insecure_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_starttls_smtplib(facteur):
    box = facteur.add_mailbox()
    msg = make_message("smtplib tls")
    with facteur.smtplib() as s:
        code, _ = s.ehlo()
        assert code == 250
        assert s.has_extn("starttls")
        code, resp = s.starttls(context=_insecure_context())
        assert code == 220, resp
        assert isinstance(s.sock, ssl.SSLSocket)
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
        # The session starts over: EHLO again; no STARTTLS any more.
        code, _ = s.ehlo()
        assert code == 250
        assert not s.has_extn("starttls")
        assert s.has_extn("pipelining") and s.has_extn("chunking")
        code, resp = s.docmd("STARTTLS")
        assert code == 503, resp
        assert s.sendmail("sender@example.org", [box], msg) == {}
        code, _ = s.noop()
        assert code == 250
    files = facteur.maildir_files(box)
    assert len(files) == 1
    rec = stored_equals(files[0], msg)["Received"]
    assert " with ESMTPS " in rec and "(using TLSv1." in rec


def test_starttls_forgets_the_transaction(facteur):
    box = facteur.add_mailbox()
    c = facteur.connect()
    c.ehlo()
    c.cmd("MAIL FROM:<s@example.org>").expect(250)
    # STARTTLS is refused inside a transaction.
    c.cmd("STARTTLS").expect(503)
    c.cmd("RSET").expect(250)
    c.starttls()
    # RFC 3207 4.2: no EHLO yet, so no MAIL.
    c.cmd("MAIL FROM:<s@example.org>").expect(503)
    r = c.ehlo()
    assert "STARTTLS" not in r.text
    c.cmd("STARTTLS").expect(503)
    c.cmd("STARTTLS").expect(503)
    msg = make_message("raw tls")
    c.send_message("s@example.org", [box], msg, ehlo=False).expect(250)
    c.cmd("QUIT").expect(221)
    stored_equals(facteur.maildir_files(box)[0], msg)


def test_starttls_openssl_s_client(facteur):
    box = facteur.add_mailbox()
    # s_client sends its own EHLO and STARTTLS; -quiet then relays stdin
    # (with -crlf turning LF into CRLF) and exits when the server closes.
    script = ("EHLO s-client.example\n"
              "STARTTLS\n"
              "MAIL FROM:<sender@example.org>\n"
              "RCPT TO:<%s>\n"
              "DATA\n"
              "Subject: via s_client\n"
              "\n"
              "sent over TLS by openssl\n"
              ".\n"
              "QUIT\n" % box)
    r = subprocess.run(
        ["openssl", "s_client", "-starttls", "smtp", "-crlf", "-quiet",
         "-connect", "127.0.0.1:%d" % facteur.smtp_port,
         "-servername", "mx.test.example"],
        input=script, capture_output=True, text=True, timeout=30)
    out = r.stdout.replace("\r\n", "\n")
    assert r.returncode == 0, out + r.stderr
    lines = out.splitlines()
    # The EHLO over TLS: its keywords no longer include STARTTLS.
    assert lines[0].startswith("250-mx.test.example Hello s-client.example"), \
        out
    ehlo = []
    for line in lines:
        ehlo.append(line)
        if line.startswith("250 "):
            break
    assert "250 CHUNKING" in ehlo and "250-PIPELINING" in ehlo, out
    assert not any("STARTTLS" in line for line in ehlo), out
    rest = lines[len(ehlo):]
    codes = [line[:3] for line in rest]
    assert codes == ["503", "250", "250", "354", "250", "221"], out
    files = facteur.maildir_files(box)
    assert len(files) == 1
    data = files[0].read_text()
    assert " with ESMTPS " in data
    assert data.endswith("\nSubject: via s_client\n\nsent over TLS by "
                         "openssl\n")


def test_starttls_plaintext_injection_discarded(facteur):
    """CVE-2011-0411: commands pipelined after STARTTLS in clear text must
    not be executed over TLS."""
    box = facteur.add_mailbox()
    c = facteur.connect()
    c.ehlo()
    c.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<injected@example.org>\r\n")
    c.expect(220)
    assert c.buf == b""
    c.sock = _insecure_context().wrap_socket(c.sock)
    c.sock.settimeout(c.timeout)
    c.send(b"EHLO client.example\r\n")
    # The first reply over TLS is the EHLO's, not one for RSET or MAIL.
    r = c.reply().expect(250)
    assert len(r.lines) > 1 and r.lines[0].startswith(
        "250-mx.test.example Hello client.example"), r
    # Nor did an injected MAIL leave a transaction behind.
    c.cmd("RCPT TO:<%s>" % box).expect(503)
    c.cmd("NOOP").expect(250)
    c.cmd("QUIT").expect(221)
    facteur.wait_log(r"event=starttls_injection bytes=\d+", 1)


def test_starttls_handshake_garbage_closes(facteur):
    c = facteur.connect()
    c.ehlo()
    c.cmd("STARTTLS").expect(220)
    c.send(b"this is not a TLS client hello\r\n" * 4)
    c.wait_closed(10)
    # The server is unharmed.
    c = facteur.connect()
    c.ehlo()
    c.cmd("QUIT").expect(221)


def test_smtplib_starttls_required_flow(facteur):
    """smtplib refuses to STARTTLS twice; the server tells a second
    STARTTLS apart from the first even when pipelined with EHLO."""
    c = facteur.connect()
    c.ehlo()
    c.starttls()
    c.send(b"EHLO client.example\r\nSTARTTLS\r\nNOOP\r\n")
    c.expect(250)
    c.expect(503)
    c.expect(250)
    try:
        with facteur.smtplib() as s:
            s.starttls(context=_insecure_context())
            s.ehlo()
            s.starttls(context=_insecure_context())
    except smtplib.SMTPNotSupportedError:
        pass
    else:
        raise AssertionError("the second STARTTLS was offered")
