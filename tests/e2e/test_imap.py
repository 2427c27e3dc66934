"""IMAP end to end: imaplib (IMAP4_SSL on 993, IMAP4 + starttls() on
143), curl's imap:// and imaps:// URLs, and raw sockets for the exact
bytes: authentication, every command of RFC 3501 with its failure
cases, two sessions seeing each other's changes, folders, SEARCH, and
the Maildir read back by another Maildir reader (Python's mailbox)."""

import imaplib
import mailbox
import os
import re
import socket
import ssl
import subprocess
import time

import pytest

from conftest import IO_TIMEOUT, client_tls_context, make_message

PASSWORD = "imap-secret-1"


# ---- helpers ----

def new_box(facteur):
    return facteur.add_mailbox(password=PASSWORD)


def deliver(facteur, rcpt, msg):
    s = facteur.smtplib()
    try:
        s.sendmail("sender@example.org", [rcpt], msg)
    finally:
        s.quit()


def login(facteur, address, tls=True):
    m = facteur.imaplib(tls=tls)
    if not tls:
        m.starttls(ssl_context=client_tls_context())
    m.login(address, PASSWORD)
    return m


def ok(result):
    typ, data = result
    assert typ == "OK", "expected OK, got %r %r" % (typ, data)
    return data


def fetch_one(m, which, items, uid=False):
    """The parts of one FETCH response as a dict of item -> value (bytes
    for literals), parsed loosely but enough for the tests."""
    data = ok(m.uid("FETCH", which, items) if uid else
              m.fetch(which, items))
    return data


def literal_of(data):
    for part in data:
        if isinstance(part, tuple):
            return part[1]
    raise AssertionError("no literal in %r" % (data,))


class Raw:
    """A raw IMAP client: exact bytes out, lines in."""

    def __init__(self, port, tls=False, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        if tls:
            self.sock = client_tls_context().wrap_socket(self.sock)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.timeout = timeout

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def readline(self):
        deadline = time.monotonic() + self.timeout
        while b"\r\n" not in self.buf:
            if time.monotonic() > deadline:
                raise socket.timeout("no line: %r" % self.buf[:200])
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed; pending %r" % self.buf[:200])
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def until_tagged(self, tag):
        """Lines up to and including the tagged one; literals inline."""
        lines = []
        while True:
            line = self.readline()
            m = re.search(r"\{(\d+)\}$", line)
            if m:
                line += "\r\n" + self.read_exact(int(m.group(1))).decode(
                    "utf-8", "replace")
                line += self.readline()
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def cmd(self, tag, line):
        self.send("%s %s\r\n" % (tag, line))
        return self.until_tagged(tag)

    def starttls(self):
        self.send("s1 STARTTLS\r\n")
        assert self.readline().startswith("s1 OK")
        self.sock = client_tls_context().wrap_socket(self.sock)
        self.sock.settimeout(self.timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def raw_login(facteur, address, tls=True):
    r = Raw(facteur.imaps_port if tls else facteur.imap_port, tls=tls)
    assert r.readline().startswith("* OK")
    if not tls:
        r.starttls()
    lines = r.cmd("l1", 'LOGIN "%s" "%s"' % (address, PASSWORD))
    assert lines[-1].startswith("l1 OK"), lines
    return r


MULTIPART = (
    "From: Alice Example <alice@example.org>\r\n"
    "To: Bob <bob@example.com>, carol@example.com\r\n"
    "Cc: dave@example.net\r\n"
    "Subject: =?UTF-8?B?Q2Fmw6kgbWVudQ==?=\r\n"
    "Date: Tue, 10 Nov 2026 14:30:00 +0100\r\n"
    "Message-ID: <multi.1@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--outer\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "The menu of the caf=C3=A9 is attached.\r\n"
    "--outer\r\n"
    "Content-Type: application/pdf; name=\"menu.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"menu.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0xLjQKJcfsj6IK\r\n"
    "--outer--\r\n"
).encode()


# ---- connection, TLS and authentication ----

def test_plaintext_port_offers_starttls_and_disables_login(facteur):
    address = new_box(facteur)
    r = Raw(facteur.imap_port)
    greeting = r.readline()
    assert greeting.startswith("* OK [CAPABILITY IMAP4rev1")
    assert "STARTTLS" in greeting and "LOGINDISABLED" in greeting
    assert "AUTH=PLAIN" not in greeting
    lines = r.cmd("a1", 'LOGIN "%s" "%s"' % (address, PASSWORD))
    assert lines[-1].startswith("a1 NO [PRIVACYREQUIRED]")
    lines = r.cmd("a2", "AUTHENTICATE PLAIN")
    assert lines[-1].startswith("a2 NO [PRIVACYREQUIRED]")
    r.starttls()
    lines = r.cmd("a3", "CAPABILITY")
    assert "AUTH=PLAIN" in lines[0] and "LOGINDISABLED" not in lines[0]
    assert "STARTTLS" not in lines[0]
    lines = r.cmd("a4", 'LOGIN "%s" "%s"' % (address, PASSWORD))
    assert lines[-1].startswith("a4 OK [CAPABILITY")
    r.close()


def test_imaplib_starttls_and_ssl(facteur):
    address = new_box(facteur)
    for tls in (False, True):
        m = login(facteur, address, tls=tls)
        assert "IMAP4REV1" in m.capabilities
        ok(m.noop())
        assert m.logout()[0] == "BYE"


def test_starttls_discards_pipelined_plaintext(facteur):
    r = Raw(facteur.imap_port)
    r.readline()
    # CVE-2011-0411: a command injected after STARTTLS must not run.
    r.send("s1 STARTTLS\r\ninj CAPABILITY\r\n")
    assert r.readline().startswith("s1 OK")
    r.sock = client_tls_context().wrap_socket(r.sock)
    lines = r.cmd("t1", "NOOP")
    assert lines == ["t1 OK NOOP completed"], lines
    r.close()
    assert "starttls_injection" in facteur.log_text()


def test_bad_password_fails_after_delay(facteur):
    address = new_box(facteur)
    m = facteur.imaplib()
    t0 = time.monotonic()
    with pytest.raises(imaplib.IMAP4.error) as e:
        m.login(address, "wrong-password")
    assert time.monotonic() - t0 >= 0.4
    assert "AUTHENTICATIONFAILED" in str(e.value)
    m.logout()


def test_authenticate_plain_sasl_ir_and_login(facteur):
    address = new_box(facteur)
    # imaplib sends AUTHENTICATE PLAIN with a continuation.
    m = facteur.imaplib()
    ok(m.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (
        address, PASSWORD)).encode()))
    m.logout()
    # SASL-IR (RFC 4959): the response on the command line.
    import base64
    r = Raw(facteur.imaps_port, tls=True)
    r.readline()
    ir = base64.b64encode(("\0%s\0%s" % (address, PASSWORD)).encode())
    lines = r.cmd("a1", "AUTHENTICATE PLAIN " + ir.decode())
    assert lines[-1].startswith("a1 OK"), lines
    r.close()
    # LOGIN mechanism, and a cancelled exchange gets BAD.
    r = Raw(facteur.imaps_port, tls=True)
    r.readline()
    r.send("a1 AUTHENTICATE LOGIN\r\n")
    assert r.readline().startswith("+ ")
    r.send(base64.b64encode(address.encode()) + b"\r\n")
    assert r.readline().startswith("+ ")
    r.send(base64.b64encode(PASSWORD.encode()) + b"\r\n")
    assert r.readline().startswith("a1 OK")
    r.close()
    r = Raw(facteur.imaps_port, tls=True)
    r.readline()
    r.send("a1 AUTHENTICATE PLAIN\r\n")
    assert r.readline().startswith("+")
    r.send("*\r\n")
    assert r.readline().startswith("a1 BAD")
    r.close()


def test_state_errors_and_syntax(facteur):
    address = new_box(facteur)
    r = Raw(facteur.imaps_port, tls=True)
    r.readline()
    assert r.cmd("a1", "SELECT INBOX")[-1].startswith("a1 BAD")
    assert r.cmd("a2", "FROBNICATE")[-1].startswith("a2 BAD")
    assert r.cmd("a3", 'LOGIN "unterminated')[-1].startswith("a3 BAD")
    r.send("\r\n")  # an empty line is ignored
    assert r.cmd("a4", "NOOP")[-1] == "a4 OK NOOP completed"
    assert r.cmd("a5", 'LOGIN "%s" "%s"' % (address, PASSWORD))[-1] \
        .startswith("a5 OK")
    assert r.cmd("a6", "FETCH 1 FLAGS")[-1].startswith("a6 BAD")
    assert r.cmd("a7", "LOGIN x y")[-1].startswith("a7 BAD")
    ok_lines = r.cmd("a8", "SELECT INBOX")
    assert ok_lines[-1].startswith("a8 OK [READ-WRITE]")
    # A sequence number beyond the mailbox, a bad set, an unknown item.
    assert r.cmd("a9", "FETCH 5 FLAGS")[-1].startswith("a9 BAD")
    assert r.cmd("b1", "FETCH 1:x FLAGS")[-1].startswith("b1 BAD")
    assert r.cmd("b2", "UID FETCH 1:* (FLAGS FOO)")[-1].startswith("b2 BAD")
    assert r.cmd("b3", "STORE 1 +FLAGS (\\Bogus)")[-1].startswith("b3 BAD")
    # Unbalanced parenthesis, then the session still works.
    assert r.cmd("b4", "UID FETCH 1 (FLAGS")[-1].startswith("b4 BAD")
    assert r.cmd("b5", "NOOP")[-1].startswith("b5 OK")
    assert r.cmd("b6", "LOGOUT")[-1].startswith("b6 OK")
    r.close()


def test_literal_too_big_refused_before_sending(facteur_factory):
    f = facteur_factory({"max_message_size": "10000"})
    address = f.add_mailbox(password=PASSWORD)
    r = raw_login(f, address)
    r.send("a1 APPEND INBOX {20000}\r\n")
    line = r.readline()
    assert line.startswith("a1 NO [TOOBIG]"), line
    # No continuation was sent; the session goes on.
    assert r.cmd("a2", "NOOP")[-1].startswith("a2 OK")
    # A non-synchronizing literal over the limit cannot be skipped.
    r.send("a3 APPEND INBOX {20000+}\r\n")
    assert r.readline().startswith("* BYE")
    r.close()


def test_long_line_and_many_errors(facteur):
    r = Raw(facteur.imaps_port, tls=True)
    r.readline()
    r.send("a1 NOOP " + "x" * 70000 + "\r\n")
    line = r.readline()
    assert line.startswith("* BYE") or line.startswith("a1 BAD"), line
    r.close()


# ---- reading mail ----

def test_smtp_delivery_read_byte_for_byte(facteur):
    address = new_box(facteur)
    msg = make_message("byte for byte", ["line one", "", ".dot", "end"])
    deliver(facteur, address, msg)
    stored = facteur.maildir_files(address)[0].read_bytes()
    for tls in (True, False):
        m = login(facteur, address, tls=tls)
        data = ok(m.select("INBOX"))
        assert data == [b"1"]
        body = literal_of(fetch_one(m, "1", "(BODY.PEEK[])"))
        assert body == stored.replace(b"\n", b"\r\n")
        assert body.endswith(msg)
        size = fetch_one(m, "1", "(RFC822.SIZE)")[0]
        assert b"RFC822.SIZE %d" % len(body) in size
        m.logout()


def test_fetch_items_and_sections(facteur):
    address = new_box(facteur)
    deliver(facteur, address, MULTIPART)
    m = login(facteur, address)
    ok(m.select("INBOX"))
    data = fetch_one(m, "1", "(ENVELOPE BODYSTRUCTURE UID FLAGS "
                     "INTERNALDATE)")[0].decode()
    assert '"=?UTF-8?B?Q2Fmw6kgbWVudQ==?="' in data
    assert '(("Alice Example" NIL "alice" "example.org"))' in data
    assert '(("Bob" NIL "bob" "example.com")(NIL NIL "carol" ' \
        '"example.com"))' in data
    assert '"<multi.1@example.org>"' in data
    assert '"Tue, 10 Nov 2026 14:30:00 +0100"' in data
    assert '("text" "plain" ("charset" "utf-8") NIL NIL ' \
        '"quoted-printable"' in data
    assert '"mixed" ("boundary" "outer")' in data
    assert '("attachment" ("filename" "menu.pdf"))' in data
    assert re.search(r'INTERNALDATE "\d\d-[A-Z][a-z]{2}-\d{4} '
                     r'\d\d:\d\d:\d\d [+-]\d{4}"', data)
    assert "\\Seen" not in data
    part1 = literal_of(fetch_one(m, "1", "(BODY.PEEK[1])"))
    assert part1 == b"The menu of the caf=C3=A9 is attached."
    mime2 = literal_of(fetch_one(m, "1", "(BODY.PEEK[2.MIME])"))
    assert mime2.startswith(b"Content-Type: application/pdf")
    assert mime2.endswith(b"\r\n\r\n")
    hdr = literal_of(fetch_one(m, "1", "(BODY.PEEK[HEADER.FIELDS "
                                       "(FROM SUBJECT)])"))
    assert hdr == (b"From: Alice Example <alice@example.org>\r\n"
                   b"Subject: =?UTF-8?B?Q2Fmw6kgbWVudQ==?=\r\n\r\n")
    notf = literal_of(fetch_one(m, "1", "(BODY.PEEK[HEADER.FIELDS.NOT "
                                        "(FROM SUBJECT DATE)])"))
    assert b"From:" not in notf and b"To: Bob" in notf
    text = literal_of(fetch_one(m, "1", "(BODY.PEEK[TEXT]<0.8>)"))
    assert text == b"preamble"
    whole = literal_of(fetch_one(m, "1", "(BODY.PEEK[])"))
    partial = fetch_one(m, "1", "(BODY.PEEK[]<10.20>)")
    assert literal_of(partial) == whole[10:30]
    assert b"BODY[]<10>" in partial[0][0]
    # RFC822.HEADER and RFC822.TEXT
    header = literal_of(fetch_one(m, "1", "(RFC822.HEADER)"))
    assert header.endswith(b"\r\n\r\n") and b"MIME-Version" in header
    flags = fetch_one(m, "1", "(FLAGS)")[0]
    assert b"\\Seen" not in flags
    # A non-peek fetch sets \Seen and reports it.
    data = fetch_one(m, "1", "(BODY[1])")
    assert b"\\Seen" in b"".join(
        p[0] if isinstance(p, tuple) else p for p in data)
    assert b"\\Seen" in fetch_one(m, "1", "(FLAGS)")[0]
    # Macros
    assert b"ENVELOPE" in fetch_one(m, "1", "ALL")[0]
    assert b"BODY (" in fetch_one(m, "1", "FULL")[0]
    fast = fetch_one(m, "1", "FAST")[0]
    assert b"RFC822.SIZE" in fast and b"ENVELOPE" not in fast
    # A part that does not exist is empty.
    none = fetch_one(m, "1", "(BODY.PEEK[7])")
    assert b'BODY[7] ""' in none[0] or literal_of(none) == b""
    m.logout()


def test_store_flags_keywords_mirrored_in_file_names(facteur):
    address = new_box(facteur)
    deliver(facteur, address, make_message("flags"))
    m = login(facteur, address)
    ok(m.select("INBOX"))
    data = ok(m.store("1", "+FLAGS", r"(\Flagged \Answered)"))
    assert b"\\Flagged" in data[0] and b"\\Answered" in data[0]
    data = ok(m.store("1", "-FLAGS", r"(\Answered)"))
    assert b"\\Answered" not in data[0]
    data = ok(m.store("1", "+FLAGS.SILENT", r"(\Seen $Work)"))
    assert data == [None]
    data = ok(m.uid("STORE", "1", "FLAGS", r"(\Seen \Flagged $Label1)"))
    assert b"UID 1" in data[0] and b"$Label1" in data[0]
    assert b"$Work" not in data[0]
    files = facteur.maildir_files(address, "cur")
    assert len(files) == 1 and files[0].name.endswith(":2,FS")
    # A new session sees the stored flags and keyword.
    m2 = login(facteur, address)
    ok(m2.select("INBOX"))
    flags = fetch_one(m2, "1", "(FLAGS)")[0]
    assert b"\\Flagged" in flags and b"$Label1" in flags
    m2.logout()
    m.logout()


def test_examine_is_read_only(facteur):
    address = new_box(facteur)
    deliver(facteur, address, make_message("ro"))
    r = raw_login(facteur, address)
    lines = r.cmd("a1", "EXAMINE INBOX")
    assert lines[-1].startswith("a1 OK [READ-ONLY]")
    assert r.cmd("a2", "STORE 1 +FLAGS (\\Seen)")[-1].startswith("a2 NO")
    lines = r.cmd("a3", "FETCH 1 BODY[]")
    assert "\\Seen" not in "".join(lines)
    assert r.cmd("a4", "EXPUNGE")[-1].startswith("a4 NO")
    r.close()


def test_select_responses_and_recent(facteur):
    address = new_box(facteur)
    deliver(facteur, address, make_message("one"))
    deliver(facteur, address, make_message("two"))
    r = raw_login(facteur, address)
    lines = r.cmd("a1", "SELECT INBOX")
    text = "\n".join(lines)
    assert "* 2 EXISTS" in text and "* 2 RECENT" in text
    assert "[UNSEEN 1]" in text and "[UIDNEXT 3]" in text
    assert re.search(r"\[UIDVALIDITY \d+\]", text)
    assert "[PERMANENTFLAGS (" in text and "\\*" in text
    # \Recent belongs to the first session only.
    r2 = raw_login(facteur, address)
    text2 = "\n".join(r2.cmd("b1", "SELECT INBOX"))
    assert "* 0 RECENT" in text2
    r.close()
    r2.close()


def test_two_sessions_see_changes(facteur):
    address = new_box(facteur)
    for i in range(3):
        deliver(facteur, address, make_message("m%d" % i))
    a = raw_login(facteur, address)
    b = raw_login(facteur, address)
    a.cmd("a1", "SELECT INBOX")
    b.cmd("b1", "SELECT INBOX")
    a.cmd("a2", "STORE 2 +FLAGS.SILENT (\\Flagged)")
    lines = b.cmd("b2", "NOOP")
    assert any(re.match(r"\* 2 FETCH \(FLAGS \(\\Flagged", x)
               for x in lines), lines
    a.cmd("a3", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    lines = a.cmd("a4", "EXPUNGE")
    assert "* 1 EXPUNGE" in lines
    # B is told at its next command that may carry EXPUNGE, not during
    # a FETCH.
    lines = b.cmd("b3", "FETCH 1:* (FLAGS)")
    assert not any("EXPUNGE" in x for x in lines)
    lines = b.cmd("b4", "NOOP")
    assert "* 1 EXPUNGE" in lines, lines
    deliver(facteur, address, make_message("late"))
    lines = b.cmd("b5", "NOOP")
    assert "* 3 EXISTS" in lines, lines
    lines = a.cmd("a5", "UID FETCH 1:* (UID)")
    assert "* 3 EXISTS" in lines
    a.close()
    b.close()


def test_idle_announces_new_mail(facteur):
    address = new_box(facteur)
    r = raw_login(facteur, address)
    r.cmd("a1", "SELECT INBOX")
    r.send("a2 IDLE\r\n")
    assert r.readline().startswith("+ ")
    deliver(facteur, address, make_message("while idle"))
    line = r.readline()
    assert line == "* 1 EXISTS", line
    r.send("DONE\r\n")
    lines = r.until_tagged("a2")
    assert lines[-1].startswith("a2 OK")
    r.close()


def test_append_flags_date_and_literal_plus(facteur):
    address = new_box(facteur)
    m = login(facteur, address)
    msg = make_message("appended", ["x" * 100] * 50)
    data = ok(m.append("INBOX", r"(\Seen $Sent)",
                       imaplib.Time2Internaldate(1700000000), msg))
    assert re.match(rb"\[APPENDUID \d+ 1\]", data[0])
    ok(m.select("INBOX"))
    data = fetch_one(m, "1", "(FLAGS INTERNALDATE BODY.PEEK[])")
    assert literal_of(data) == msg
    assert b"\\Seen" in data[0][0] and b"$Sent" in data[0][0]
    assert b'INTERNALDATE "14-Nov-2023 22:13:20 +0000"' in data[0][0]
    # APPEND to a missing mailbox: TRYCREATE.
    typ, data = m.append("Nowhere", None, None, msg)
    assert typ == "NO" and b"TRYCREATE" in data[0]
    m.logout()
    # LITERAL+ (RFC 7888): no continuation needed.
    r = raw_login(facteur, address)
    body = b"Subject: plus\r\n\r\nhi\r\n"
    r.send(b"a1 APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
    assert r.until_tagged("a1")[-1].startswith("a1 OK [APPENDUID")
    r.close()


def test_append_survives_kill9(facteur_factory):
    f = facteur_factory()
    address = f.add_mailbox(password=PASSWORD)
    m = login(f, address)
    msg = make_message("durable")
    ok(m.append("INBOX", None, None, msg))
    f.kill9()
    f.start()
    m = login(f, address)
    ok(m.select("INBOX"))
    assert literal_of(fetch_one(m, "1", "(BODY.PEEK[])")) == msg
    m.logout()


def test_search_keys(facteur):
    address = new_box(facteur)
    deliver(facteur, address, MULTIPART)
    deliver(facteur, address, make_message(
        "Quarterly report", ["numbers inside", "revenue 42"],
        extra_headers=("Date: Mon, 02 Nov 2026 08:00:00 +0000",)))
    deliver(facteur, address, make_message(
        "Lunch", ["see you at noon"] + ["filler"] * 400,
        extra_headers=("Cc: team@example.com",)))
    m = login(facteur, address)
    ok(m.select("INBOX"))
    ok(m.store("2", "+FLAGS", r"(\Flagged)"))

    def search(*keys, uid=False):
        data = ok(m.uid("SEARCH", *keys) if uid else m.search(*keys))
        return data[0].split()

    assert search(None, "ALL") == [b"1", b"2", b"3"]
    assert search(None, "FROM", "alice") == [b"1"]
    assert search(None, "SUBJECT", "report") == [b"2"]
    assert search(None, "SUBJECT", "REPORT") == [b"2"]
    assert search(None, "BODY", "revenue") == [b"2"]
    assert search(None, "TEXT", "noon") == [b"3"]
    assert search(None, "CC", "team@") == [b"3"]
    assert search(None, "HEADER", "Message-ID", "multi.1") == [b"1"]
    assert search(None, "FLAGGED") == [b"2"]
    assert search(None, "UNFLAGGED") == [b"1", b"3"]
    assert search(None, "LARGER", "2000") == [b"3"]
    assert search(None, "SMALLER", "600") == [b"2"]
    assert search(None, "OR", "FROM", "alice", "SUBJECT", "lunch") == \
        [b"1", b"3"]
    assert search(None, "NOT", "FLAGGED", "NOT", "FROM", "alice") == [b"3"]
    assert search(None, "SENTON", "2-Nov-2026") == [b"2"]
    assert search(None, "SENTBEFORE", "5-Nov-2026") == [b"2"]
    assert search(None, "SINCE", "1-Jan-2020") == [b"1", b"2", b"3"]
    assert search(None, "BEFORE", "1-Jan-2020") == []
    assert search(None, "2:*") == [b"2", b"3"]
    assert search(None, "UID", "1,3") == [b"1", b"3"]
    assert search("UID", "2:*", uid=True) == [b"2", b"3"]
    # Decoded RFC 2047 subject and quoted-printable body, in UTF-8.
    m.literal = "café".encode()
    assert search("UTF-8", "SUBJECT") == [b"1"]
    m.literal = "café".encode()
    assert search("UTF-8", "BODY") == [b"1"]
    typ, data = m.search("KOI8-R", "ALL")
    assert typ == "NO" and b"BADCHARSET" in data[0]
    with pytest.raises(imaplib.IMAP4.error):
        m.search(None, "FROBNICATE")
    m.logout()


def test_folders_create_rename_delete_list(facteur):
    address = new_box(facteur)
    m = login(facteur, address)
    names = [x.decode() for x in ok(m.list())]
    for special, name in (("\\Sent", "Sent"), ("\\Drafts", "Drafts"),
                          ("\\Trash", "Trash"), ("\\Junk", "Junk"),
                          ("\\Archive", "Archive")):
        assert any(special in x and x.endswith('"%s"' % name)
                   for x in names), names
    ok(m.create("Work/Projects/2026"))
    ok(m.create("Work/Clients"))
    typ, data = m.create("Work/Clients")
    assert typ == "NO" and b"ALREADYEXISTS" in data[0]
    typ, data = m.create("bad.name")
    assert typ == "NO" and b"CANNOT" in data[0]
    # Not "bad/name" in disguise (Maildir++ uses "." between levels).
    typ, data = m.select("Work.Clients")
    assert typ == "NO" and b"CANNOT" in data[0]
    # "%" stops at the separator; "*" does not.
    top = [x.decode() for x in ok(m.list('""', "%"))]
    assert any(x.endswith('"Work"') and "\\Noselect" in x and
               "\\HasChildren" in x for x in top), top
    assert not any("Projects" in x for x in top)
    deep = [x.decode() for x in ok(m.list('""', "Work/*"))]
    assert len(deep) == 3, deep
    assert ok(m.list('""', "Work/%")) and len(ok(m.list('""', "Work/%"))) == 2
    # Rename with children.
    ok(m.rename("Work/Projects", "Archive/Old"))
    names = b"\n".join(ok(m.list('""', "*"))).decode()
    assert '"Archive/Old/2026"' in names and "Work/Projects" not in names
    # Delete: the folder, then a \Noselect parent with children is refused.
    ok(m.delete("Archive/Old/2026"))
    typ, _ = m.delete("Nowhere")
    assert typ == "NO"
    typ, _ = m.delete("INBOX")
    assert typ == "NO"
    # Modified UTF-7 names round-trip.
    ok(m.create("Entw&APw-rfe"))
    assert any(b'"Entw&APw-rfe"' in x for x in ok(m.list()))
    assert (facteur.maildir(address) / ".Entw&APw-rfe" / "cur").is_dir()
    # STATUS and subscriptions.
    data = ok(m.status("Entw&APw-rfe", "(MESSAGES UIDNEXT UIDVALIDITY "
                                       "UNSEEN RECENT)"))
    assert b"MESSAGES 0" in data[0] and b"UIDNEXT 1" in data[0]
    ok(m.subscribe("Work/Clients"))
    subs = b"\n".join(ok(m.lsub())).decode()
    assert '"Work/Clients"' in subs and '"INBOX"' in subs
    ok(m.unsubscribe("Work/Clients"))
    assert b"Work/Clients" not in b"\n".join(ok(m.lsub()))
    data = ok(m.list('""', '""'))
    assert data[0] == b'(\\Noselect) "/" ""'
    m.logout()


def test_rename_inbox_moves_messages(facteur):
    address = new_box(facteur)
    deliver(facteur, address, make_message("old inbox"))
    m = login(facteur, address)
    ok(m.rename("INBOX", '"Old Inbox"'))
    assert ok(m.select("INBOX")) == [b"0"]
    assert ok(m.select('"Old Inbox"')) == [b"1"]
    m.logout()


def test_copy_flag_expunge_move_workflow(facteur):
    address = new_box(facteur)
    for i in range(4):
        deliver(facteur, address, make_message("wf%d" % i))
    m = login(facteur, address)
    ok(m.select("INBOX"))
    typ, data = m.copy("1:2", "Nope")
    assert typ == "NO" and b"TRYCREATE" in data[0]
    data = ok(m.copy("1:2", "Archive"))
    assert re.match(rb"\[COPYUID \d+ 1:2 1:2\]", data[0]), data
    ok(m.store("1:2", "+FLAGS.SILENT", r"(\Deleted)"))
    data = ok(m.expunge())
    assert data == [b"1", b"1"]
    # MOVE (RFC 6851) and UID EXPUNGE (RFC 4315).
    typ, data = m._simple_command("MOVE", "1", "Trash")
    assert typ == "OK"
    assert ok(m.select("Trash")) == [b"1"]
    ok(m.select("INBOX"))
    ok(m.store("1", "+FLAGS.SILENT", r"(\Deleted)"))
    typ, _ = m.uid("EXPUNGE", "999")
    assert typ == "OK"
    assert ok(m.select("INBOX")) == [b"1"]
    ok(m.close())
    assert ok(m.select("INBOX")) == [b"0"]
    assert ok(m.select("Archive")) == [b"2"]
    subjects = [literal_of(fetch_one(m, str(i), "(BODY.PEEK[HEADER.FIELDS "
                                              "(SUBJECT)])"))
                for i in (1, 2)]
    assert subjects == [b"Subject: wf0\r\n\r\n", b"Subject: wf1\r\n\r\n"]
    m.logout()


def test_thousand_messages_fetch(facteur):
    address = new_box(facteur)
    m = login(facteur, address)
    # Files dropped by another tool into new/ are picked up.
    new = facteur.maildir(address) / "new"
    for i in range(1000):
        body = b"Subject: n%d\n\n%s\n" % (i, b"y" * (i % 50))
        (new / ("%d.M%dP1.test" % (1700000000 + i, i))).write_bytes(body)
    assert ok(m.select("INBOX")) == [b"1000"]
    data = ok(m.fetch("1:*", "(FLAGS UID RFC822.SIZE)"))
    assert len(data) == 1000
    for i, line in enumerate(data):
        mm = re.match(rb"(\d+) \(FLAGS \(\\Recent\) UID (\d+) "
                      rb"RFC822.SIZE (\d+)\)", line)
        assert mm, line
        assert int(mm.group(1)) == i + 1 and int(mm.group(2)) == i + 1
        assert int(mm.group(3)) == len("Subject: n%d\r\n\r\n%s\r\n" % (
            i, "y" * (i % 50)))
    m.logout()


def test_maildir_readable_by_another_tool(facteur):
    address = new_box(facteur)
    deliver(facteur, address, make_message("for mailbox"))
    m = login(facteur, address)
    ok(m.select("INBOX"))
    ok(m.store("1", "+FLAGS", r"(\Seen \Flagged)"))
    ok(m.create("Lists"))
    ok(m.append("Lists", r"(\Answered)", None, make_message("in list")))
    m.logout()
    md = mailbox.Maildir(str(facteur.maildir(address)), create=False)
    msgs = list(md)
    assert len(msgs) == 1 and msgs[0]["Subject"] == "for mailbox"
    assert set(msgs[0].get_flags()) == {"S", "F"}
    assert "Lists" in md.list_folders()
    sub = md.get_folder("Lists")
    (only,) = list(sub)
    assert only["Subject"] == "in list" and only.get_flags() == "R"


def test_curl_imaps_and_starttls(facteur):
    address = new_box(facteur)
    msg = make_message("curl reads")
    deliver(facteur, address, msg)
    user = "%s:%s" % (address, PASSWORD)
    out = subprocess.run(
        ["curl", "-sS", "-k", "--max-time", "20", "--user", user,
         "imaps://127.0.0.1:%d/INBOX;UID=1" % facteur.imaps_port],
        capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.replace(b"\r\n", b"\n").endswith(
        msg.replace(b"\r\n", b"\n"))
    out = subprocess.run(
        ["curl", "-sS", "-k", "--ssl-reqd", "--max-time", "20", "--user",
         user, "imap://127.0.0.1:%d/INBOX?SUBJECT%%20curl" %
         facteur.imap_port], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert b"* SEARCH 1" in out.stdout
    # curl lists mailboxes too.
    out = subprocess.run(
        ["curl", "-sS", "-k", "--max-time", "20", "--user", user,
         "imaps://127.0.0.1:%d/" % facteur.imaps_port],
        capture_output=True, timeout=30)
    assert out.returncode == 0 and b'"Sent"' in out.stdout


def test_reindex_keeps_uids(facteur):
    address = new_box(facteur)
    for i in range(3):
        deliver(facteur, address, make_message("ri%d" % i))
    m = login(facteur, address)
    ok(m.select("INBOX"))
    uids = ok(m.uid("SEARCH", "ALL"))[0]
    m.logout()
    out = facteur.cli_ok("reindex", address).stdout
    assert "INBOX" in out or "folders" in out
    m = login(facteur, address)
    ok(m.select("INBOX"))
    assert ok(m.uid("SEARCH", "ALL"))[0] == uids
    m.logout()
    assert facteur.cli("reindex", "nobody@example.com").returncode != 0


def test_append_and_copy_respect_quota(facteur):
    # Each small message is about 190 octets; the quota holds five.
    address = facteur.add_mailbox(quota="1000", password=PASSWORD)
    m = login(facteur, address)
    small = make_message("small")
    ok(m.append("INBOX", None, None, small))
    typ, data = m.append("INBOX", None, None,
                         make_message("big", ["z" * 70] * 60))
    assert typ == "NO" and b"OVERQUOTA" in data[0]
    ok(m.append("INBOX", None, None, small))
    ok(m.select("INBOX"))
    ok(m.copy("1:2", "Archive"))
    typ, data = m.copy("1:2", "Archive")
    assert typ == "NO" and b"OVERQUOTA" in data[0]
    m.logout()


def test_more_commands_and_failures(facteur):
    address = new_box(facteur)
    deliver(facteur, address, make_message("more", ["body line"]))
    m = login(facteur, address)
    typ, data = m.status("Nowhere", "(MESSAGES)")
    assert typ == "NO" and b"NONEXISTENT" in data[0]
    with pytest.raises(imaplib.IMAP4.error):
        m.status("INBOX", "(BOGUS)")
    typ, data = m.select("Nowhere")
    assert typ == "NO" and m.state == "AUTH"
    ok(m.select("INBOX"))
    data = fetch_one(m, "1", "(RFC822.TEXT)")
    assert literal_of(data) == b"body line\r\n"
    assert b"\\Seen" in fetch_one(m, "1", "(FLAGS)")[0]
    data = fetch_one(m, "1", "(RFC822)")
    assert literal_of(data).endswith(b"\r\n\r\nbody line\r\n")
    ok(m.uid("COPY", "1", "Drafts"))   # imaplib keeps no tagged text
    typ, data = m.uid("COPY", "1", "Nowhere")
    assert typ == "NO" and b"TRYCREATE" in data[0]
    ok(m.check())
    ok(m.noop())
    # A \Noselect parent with children cannot be deleted.
    ok(m.create("P/Child"))
    typ, data = m.delete("P")
    assert typ == "NO"
    ok(m.delete("P/Child"))
    typ, data = m.delete("P/Child")
    assert typ == "NO" and b"NONEXISTENT" in data[0]
    # UNSELECT leaves \Deleted messages in place.
    ok(m.store("1", "+FLAGS.SILENT", r"(\Deleted)"))
    ok(m._simple_command("UNSELECT"))
    assert ok(m.select("INBOX")) == [b"1"]
    # NAMESPACE and ID.
    typ, data = m.namespace()
    assert typ == "OK" and data[0] == b'(("" "/")) NIL NIL'
    m.logout()
    r = raw_login(facteur, address)
    lines = r.cmd("i1", "ID NIL")
    assert lines == ['* ID ("name" "Facteur")', "i1 OK ID completed"]
    r.close()


def test_rename_onto_existing_children_refused(facteur):
    address = new_box(facteur)
    m = login(facteur, address)
    ok(m.create("a/b/c"))
    ok(m.rename("a", "b"))
    ok(m.create("a/b/c"))
    # "b" itself is only a \Noselect parent, but "b/b/c" exists.
    typ, data = m.rename("a", "b")
    assert typ == "NO" and b"ALREADYEXISTS" in data[0], data
    names = b"\n".join(ok(m.list('""', "*")))
    assert b'"a/b/c"' in names and b'"b/b/c"' in names
    m.logout()


def test_keywords_per_message_bounded(facteur):
    address = new_box(facteur)
    deliver(facteur, address, make_message("keywords"))
    m = login(facteur, address)
    ok(m.select("INBOX"))
    refused = None
    for round_ in range(8):
        kws = " ".join("k%d_%03d" % (round_, i) for i in range(100))
        typ, data = m.store("1", "+FLAGS.SILENT", "(%s)" % kws)
        if typ != "OK":
            refused = data
            break
    assert refused is not None and b"LIMIT" in refused[0], refused
    # The message keeps what it had and the session goes on.
    flags = fetch_one(m, "1", "(FLAGS)")[0]
    assert b"k0_000" in flags
    m.logout()
