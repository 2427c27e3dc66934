"""Delivery into Maildir: content byte for byte, added headers, aliases,
catch-alls, plus addresses, de-duplication, refusals."""
import re
import subprocess

import pytest

from conftest import HOSTNAME, make_message, stored_equals


def test_delivery_byte_exact_and_added_headers(facteur):
    rcpt = facteur.add_mailbox()
    msg = make_message("exact", body_lines=[
        "Line one", "", "\tindented with a tab", "trailing space ",
        "8bit: caf\u00e9", "x" * 998, "last line"])
    with facteur.smtplib() as s:
        s.ehlo()
        refused = s.sendmail("sender@example.org", [rcpt], msg,
                             mail_options=["BODY=8BITMIME"])
        assert refused == {}
    files = facteur.maildir_files(rcpt)
    assert len(files) == 1
    added = stored_equals(files[0], msg)
    assert added["Return-Path"] == "<sender@example.org>"
    assert added["Delivered-To"] == rcpt
    rec = added["Received"]
    assert rec.startswith("from client.example ([127.0.0.1])"), rec
    assert re.search(r"\bby %s \(Facteur\) with ESMTP id [0-9a-f]{12}\.1\b"
                     % re.escape(HOSTNAME), rec), rec
    assert "for <%s>" % rcpt in rec
    assert "using" not in rec
    # Maildir name: S= is the file size, W= the size with CRLF.
    data = files[0].read_bytes()
    m = re.search(r",S=(\d+),W=(\d+)$", files[0].name)
    assert m, files[0].name
    assert int(m.group(1)) == len(data)
    assert int(m.group(2)) == len(data) + data.count(b"\n")


def test_delivery_null_sender_and_helo(facteur):
    rcpt = facteur.add_mailbox()
    msg = make_message("bounce")
    c = facteur.connect()
    c.cmd("HELO old.client.example").expect(250)
    c.cmd("MAIL FROM:<>").expect(250)
    c.cmd("RCPT TO:<%s>" % rcpt).expect(250)
    c.cmd("DATA").expect(354)
    c.send(msg + b".\r\n")
    c.expect(250)
    c.cmd("QUIT").expect(221)
    files = facteur.maildir_files(rcpt)
    assert len(files) == 1
    added = stored_equals(files[0], msg)
    assert added["Return-Path"] == "<>"
    assert " with SMTP id " in added["Received"]
    assert added["Received"].startswith("from old.client.example ")


def test_delivery_after_starttls_has_tls_info(facteur):
    rcpt = facteur.add_mailbox()
    msg = make_message("over tls")
    with facteur.smtplib() as s:
        s.ehlo()
        s.starttls()
        s.ehlo()
        assert s.sendmail("sender@example.org", [rcpt], msg) == {}
    files = facteur.maildir_files(rcpt)
    assert len(files) == 1
    rec = stored_equals(files[0], msg)["Received"]
    assert " with ESMTPS id " in rec, rec
    assert re.search(r"\(using TLSv1\.[23] with cipher [A-Z0-9_-]+\)", rec), \
        rec


def _swaks(facteur, rcpt, *extra):
    return subprocess.run(
        ["swaks", "--server", "127.0.0.1:%d" % facteur.smtp_port,
         "--helo", "swaks.example", "--from", "sender@example.org",
         "--to", rcpt, "--header", "Subject: swaks e2e",
         "--body", "Hello from swaks", *extra],
        capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "starttls"])
def test_swaks_pipelining(facteur, tls):
    if tls and subprocess.run(["perl", "-MNet::SSLeay", "-e1"],
                              capture_output=True).returncode != 0:
        pytest.skip("swaks has no TLS here (Net::SSLeay is missing)")
    rcpt = facteur.add_mailbox()
    r = _swaks(facteur, rcpt, "--pipeline", *(["--tls"] if tls else []))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250 2.0.0 OK: queued as" in r.stdout
    files = facteur.maildir_files(rcpt)
    assert len(files) == 1
    data = files[0].read_text()
    assert data.startswith("Return-Path: <sender@example.org>\n"
                           "Delivered-To: %s\nReceived: from swaks.example "
                           "([127.0.0.1])\n" % rcpt), data
    assert "Subject: swaks e2e\n" in data
    assert "\nHello from swaks\n" in data
    assert (" with ESMTPS id " if tls else " with ESMTP id ") in data
    assert "\r" not in data


def test_alias_to_two_mailboxes(facteur):
    a = facteur.add_mailbox()
    b = facteur.add_mailbox()
    alias = "%s@example.com" % facteur.unique("team")
    facteur.cli_ok("alias", "add", alias, "%s,%s" % (a, b))
    msg = make_message("to the alias")
    c = facteur.connect()
    c.send_message("sender@example.org", [alias], msg).expect(250)
    for box in (a, b):
        files = facteur.maildir_files(box)
        assert len(files) == 1, box
        added = stored_equals(files[0], msg)
        assert added["Delivered-To"] == box
        # One recipient command: the Received header names it.
        assert "for <%s>" % alias in added["Received"]


def test_alias_and_member_stored_once(facteur):
    a = facteur.add_mailbox()
    b = facteur.add_mailbox()
    alias = "%s@example.com" % facteur.unique("list")
    facteur.cli_ok("alias", "add", alias, "%s,%s" % (a, b))
    msg = make_message("alias and member")
    c = facteur.connect()
    c.send_message("sender@example.org", [alias, a, b], msg).expect(250)
    for box in (a, b):
        files = facteur.maildir_files(box)
        assert len(files) == 1, box
        rec = stored_equals(files[0], msg)["Received"]
        assert "for <" not in rec  # several recipients: not named


def test_catch_all(facteur):
    dom = facteur.add_domain()
    catcher = facteur.add_mailbox(domain=dom)
    own = facteur.add_mailbox(domain=dom)
    facteur.cli_ok("alias", "add", "@" + dom, catcher)
    c = facteur.connect()
    c.ehlo()
    m1 = make_message("for anyone")
    c.send_message("s@example.org", ["nobody-in-particular@" + dom], m1,
                   ehlo=False).expect(250)
    m2 = make_message("for own")
    c.send_message("s@example.org", [own], m2, ehlo=False).expect(250)
    c.cmd("QUIT").expect(221)
    files = facteur.maildir_files(catcher)
    assert len(files) == 1
    assert stored_equals(files[0], m1)["Delivered-To"] == catcher
    files = facteur.maildir_files(own)
    assert len(files) == 1
    stored_equals(files[0], m2)
    # The catch-all covers its own domain only.
    c = facteur.connect()
    c.ehlo()
    c.cmd("MAIL FROM:<s@example.org>").expect(250)
    c.cmd("RCPT TO:<nobody-in-particular@example.com>").expect(550, "5.1.1")


def test_plus_address(facteur):
    box = facteur.add_mailbox()
    local, dom = box.split("@")
    tagged = "%s+newsletter@%s" % (local, dom)
    msg = make_message("plus")
    c = facteur.connect()
    c.send_message("sender@example.org", [tagged], msg).expect(250)
    files = facteur.maildir_files(box)
    assert len(files) == 1
    added = stored_equals(files[0], msg)
    assert added["Delivered-To"] == box
    assert "for <%s>" % tagged in added["Received"]
    # No Maildir was made for the tagged address.
    assert not facteur.maildir(tagged).exists()


def test_same_mailbox_several_recipients_stored_once(facteur):
    box = facteur.add_mailbox()
    local, dom = box.split("@")
    rcpts = [box, box.upper(), "%s+a@%s" % (local, dom),
             "%s+b@%s" % (local.capitalize(), dom.upper())]
    msg = make_message("dedup")
    c = facteur.connect()
    c.send_message("sender@example.org", rcpts, msg).expect(250)
    files = facteur.maildir_files(box)
    assert len(files) == 1, files
    stored_equals(files[0], msg)


def test_mixed_case_recipient(facteur):
    box = facteur.add_mailbox("mixedcase@example.com")
    msg = make_message("case")
    c = facteur.connect()
    c.send_message("Sender@Example.ORG", ["MiXeDCaSe@ExAmPlE.CoM"],
                   msg).expect(250)
    files = facteur.maildir_files(box)
    assert len(files) == 1
    added = stored_equals(files[0], msg)
    assert added["Delivered-To"] == "mixedcase@example.com"
    # The return path is kept as the client sent it.
    assert added["Return-Path"] == "<Sender@Example.ORG>"


def test_postmaster_without_domain(facteur):
    facteur.cli_ok("domain", "add", HOSTNAME)
    pm = facteur.add_mailbox("postmaster@" + HOSTNAME)
    msg = make_message("to postmaster")
    c = facteur.connect()
    c.send_message("sender@example.org", ["Postmaster"], msg).expect(250)
    files = facteur.maildir_files(pm)
    assert len(files) == 1
    stored_equals(files[0], msg)


def test_unknown_recipient(facteur):
    before = facteur.all_stored()
    c = facteur.connect()
    c.ehlo()
    c.cmd("MAIL FROM:<sender@example.org>").expect(250)
    c.cmd("RCPT TO:<no-such-user@example.com>").expect(550, "5.1.1")
    r = c.cmd("DATA")
    assert r.code in (503, 554), r
    c.cmd("QUIT").expect(221)
    assert facteur.all_stored() == before


def test_relay_denied(facteur):
    box = facteur.add_mailbox()
    before = facteur.all_stored()
    c = facteur.connect()
    c.ehlo()
    c.cmd("MAIL FROM:<sender@example.com>").expect(250)
    c.cmd("RCPT TO:<victim@elsewhere.example>").expect(554, "5.7.1")
    c.cmd("RCPT TO:<victim@example.com.elsewhere.example>").expect(554,
                                                                   "5.7.1")
    r = c.cmd("DATA")
    assert r.code in (503, 554), r
    # Mixed with a local recipient: only the local one gets a copy.
    c.cmd("RCPT TO:<%s>" % box).expect(250)
    c.cmd("RCPT TO:<other@relay.example>").expect(554, "5.7.1")
    msg = make_message("mixed relay")
    c.cmd("DATA").expect(354)
    c.send(msg + b".\r\n")
    c.expect(250)
    c.cmd("QUIT").expect(221)
    after = facteur.all_stored()
    new = sorted(set(after) - set(before))
    assert new == facteur.maildir_files(box)
    assert len(new) == 1
    assert not (facteur.data_dir / "mail" / "elsewhere.example").exists()
    assert not (facteur.data_dir / "mail" / "relay.example").exists()


def test_alias_to_external_address_is_accepted(facteur):
    # Forwarding goes through the outbound queue (test_queue.py delivers
    # it); here only the RCPT is checked, so nothing is queued.
    alias = "%s@example.com" % facteur.unique("fwd")
    facteur.cli_ok("alias", "add", alias, "someone@external.example")
    c = facteur.connect()
    c.ehlo()
    c.cmd("MAIL FROM:<sender@example.org>").expect(250)
    c.cmd("RCPT TO:<%s>" % alias).expect(250, "2.1.5")
    c.cmd("RSET").expect(250)
    c.cmd("QUIT").expect(221)


def test_disabled_mailbox(facteur):
    rcpt = facteur.add_mailbox()
    facteur.cli_ok("mailbox", "disable", rcpt)
    c = facteur.connect()
    c.ehlo()
    c.cmd("MAIL FROM:<sender@example.org>").expect(250)
    c.cmd("RCPT TO:<%s>" % rcpt).expect(550, "5.2.1")
    # Enabled again: accepted, without a restart.
    facteur.cli_ok("mailbox", "enable", rcpt)
    c.cmd("RCPT TO:<%s>" % rcpt).expect(250)
    c.cmd("QUIT").expect(221)
    assert facteur.maildir_files(rcpt) == []


def test_disabled_domain(facteur):
    domain = facteur.add_domain()
    rcpt = facteur.add_mailbox(domain=domain)
    facteur.cli_ok("domain", "disable", domain)
    c = facteur.connect()
    c.ehlo()
    c.cmd("MAIL FROM:<sender@example.org>").expect(250)
    c.cmd("RCPT TO:<%s>" % rcpt).expect(550, "5.2.1")
    facteur.cli_ok("domain", "enable", domain)
    c.cmd("RCPT TO:<%s>" % rcpt).expect(250)
    c.cmd("QUIT").expect(221)
