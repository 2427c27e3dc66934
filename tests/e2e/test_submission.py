"""Submission on 587 (STARTTLS) and 465 (implicit TLS), RFC 6409 and
RFC 8314: AUTH only over TLS, the sender must belong to the user, Date
and Message-ID completed, local recipients delivered, other domains
accepted for the outbound queue (test_queue.py follows them)."""

import smtplib
import ssl
import time

import pytest

PASSWORD = "correct horse battery"


def _ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _port(facteur, name):
    return {"submission": 587, "submissions": 465}[name] + facteur.port_offset


def _submit(facteur, implicit=True):
    if implicit:
        s = smtplib.SMTP_SSL("127.0.0.1", _port(facteur, "submissions"),
                             context=_ctx(), timeout=10)
    else:
        s = smtplib.SMTP("127.0.0.1", _port(facteur, "submission"),
                         timeout=10)
        s.starttls(context=_ctx())
    s.ehlo("client.example")
    return s


@pytest.fixture(scope="module")
def user(facteur):
    return facteur.add_mailbox(password=PASSWORD)


def test_auth_not_offered_before_starttls(facteur, user):
    s = smtplib.SMTP("127.0.0.1", _port(facteur, "submission"), timeout=10)
    code, text = s.ehlo("client.example")
    assert code == 250
    assert b"STARTTLS" in text and b"AUTH" not in text
    # RFC 4954 6: credentials need TLS first
    code, text = s.docmd("AUTH", "PLAIN AGZvbwBiYXI=")
    assert code == 538 and b"5.7.11" in text
    code, _ = s.docmd("MAIL FROM:<%s>" % user)
    assert code == 530
    s.starttls(context=_ctx())
    code, text = s.ehlo("client.example")
    assert b"AUTH PLAIN LOGIN" in text and b"STARTTLS" not in text
    s.quit()


@pytest.mark.parametrize("implicit", [True, False],
                         ids=["465-tls", "587-starttls"])
def test_send_to_local_mailbox(facteur, user, implicit):
    rcpt = facteur.add_mailbox()
    s = _submit(facteur, implicit)
    s.login(user, PASSWORD)
    refused = s.sendmail(user, [rcpt], b"Subject: hello\r\n\r\nbody\r\n")
    assert refused == {}
    s.quit()
    files = facteur.maildir_files(rcpt)
    assert len(files) == 1
    data = files[0].read_bytes()
    assert data.startswith(b"Return-Path: <%s>\nDelivered-To: %s\n"
                           % (user.encode(), rcpt.encode()))
    assert b" with ESMTPSA id " in data
    # RFC 6409 8.2, 8.3: Date and Message-ID are added when missing
    assert b"\nDate: " in data
    assert b"\nMessage-ID: <" in data
    assert data.endswith(b"Subject: hello\n\nbody\n")


def test_existing_date_and_message_id_kept(facteur, user):
    rcpt = facteur.add_mailbox()
    s = _submit(facteur)
    s.login(user, PASSWORD)
    msg = (b"Message-ID: <mine@client.example>\r\n"
           b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
           b"Subject: kept\r\n\r\nbody\r\n")
    s.sendmail(user, [rcpt], msg)
    s.quit()
    data = facteur.maildir_files(rcpt)[0].read_bytes()
    assert data.count(b"Message-ID:") == 1
    assert data.count(b"\nDate:") == 1
    assert b"<mine@client.example>" in data


def test_login_methods_and_bad_password(facteur, user):
    s = _submit(facteur)
    # AUTH LOGIN with continuations
    s.user, s.password = user, PASSWORD
    code, text = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
    assert code == 235
    code, _ = s.docmd("AUTH", "PLAIN")
    assert code == 503          # already authenticated
    s.quit()
    s = _submit(facteur)
    t0 = time.monotonic()
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        s.login(user, "wrong password")
    assert e.value.smtp_code == 535
    assert b"5.7.8" in e.value.smtp_error
    # a failure is answered after a delay (auth.h)
    assert time.monotonic() - t0 >= 0.4
    # cancelling an exchange
    code, text = s.docmd("AUTH", "LOGIN")
    assert code == 334
    code, _ = s.docmd("*")
    assert code == 501
    code, _ = s.docmd("AUTH", "CRAM-MD5")
    assert code == 504
    s.quit()


def test_sender_must_be_owned(facteur, user):
    rcpt = facteur.add_mailbox()
    alias = "%s@example.com" % facteur.unique("team")
    facteur.cli_ok("alias", "add", alias, "%s,%s" % (user, rcpt))
    other_alias = "%s@example.com" % facteur.unique("other")
    facteur.cli_ok("alias", "add", other_alias, rcpt)
    s = _submit(facteur)
    s.login(user, PASSWORD)
    local, domain = user.split("@")
    # itself, a +tag address, an alias listing it: allowed
    for sender in (user, "%s+news@%s" % (local, domain), alias,
                   user.upper()):
        code, text = s.mail(sender)
        assert code == 250, (sender, text)
        s.rset()
    # someone else, an alias not listing it, another domain, <>: refused
    for sender in (rcpt, other_alias, "ceo@other.example", ""):
        code, text = s.mail(sender)
        assert code == 553, (sender, text)
        assert b"5.7.1" in text
        s.rset()
    s.quit()


def test_relay_only_for_authenticated_users(facteur, user):
    # An authenticated user may send to other domains (the queue delivers:
    # test_queue.py); only the RCPT is checked here.
    s = _submit(facteur)
    s.login(user, PASSWORD)
    s.mail(user)
    code, text = s.rcpt("someone@other.example")
    assert code == 250
    s.rset()
    s.quit()
    # port 25 without authentication never relays
    mx = smtplib.SMTP("127.0.0.1", facteur.smtp_port, timeout=10)
    mx.ehlo("client.example")
    assert b"AUTH" not in mx.ehlo_resp
    mx.mail(user)
    code, text = mx.rcpt("someone@other.example")
    assert code == 554 and b"5.7.1" in text
    code, _ = mx.docmd("AUTH", "PLAIN AGZvbwBiYXI=")
    assert code == 503
    mx.quit()


def test_disabled_user_cannot_log_in(facteur):
    addr = facteur.add_mailbox(password=PASSWORD)
    facteur.cli_ok("mailbox", "disable", addr)
    s = _submit(facteur)
    with pytest.raises(smtplib.SMTPAuthenticationError):
        s.login(addr, PASSWORD)
    s.quit()


def test_sending_limits(facteur):
    sender = facteur.add_mailbox(password=PASSWORD)
    rcpts = [facteur.add_mailbox() for _ in range(3)]
    r = facteur.cli_ok("mailbox", "limits", sender,
                       "--messages-per-hour", "2",
                       "--recipients-per-day", "3")
    assert "messages_per_hour=2" in r.stdout
    s = _submit(facteur)
    s.login(sender, PASSWORD)
    assert s.sendmail(sender, [rcpts[0]], b"Subject: 1\r\n\r\n1\r\n") == {}
    # a second message with 3 recipients would pass 3 per day: the third
    # recipient waits, the two others are delivered
    s.mail(sender)
    assert s.rcpt(rcpts[1])[0] == 250
    assert s.rcpt(rcpts[2])[0] == 250
    code, text = s.rcpt(rcpts[0])
    assert code == 451 and b"4.7.0" in text and b"recipients" in text
    code, _ = s.data(b"Subject: 2\r\n\r\n2\r\n")
    assert code == 250
    # two messages this hour: the next MAIL waits
    code, text = s.mail(sender)
    assert code == 451 and b"messages per hour" in text
    s.quit()
    # nothing accepted was dropped
    assert [len(facteur.maildir_files(r)) for r in rcpts] == [1, 1, 1]
    assert "event=send_limit user=%s" % sender in facteur.log_text()
    # back to the defaults: allowed again
    facteur.cli_ok("mailbox", "limits", sender, "--messages-per-hour",
                   "default", "--recipients-per-day", "default")
    s = _submit(facteur)
    s.login(sender, PASSWORD)
    assert s.sendmail(sender, [rcpts[0]], b"Subject: 3\r\n\r\n3\r\n") == {}
    s.quit()
