"""POP3 (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH RFC 5034) with real
clients: poplib (POP3 with stls(), POP3_SSL), curl's pop3:// and pop3s://
URLs, and raw sockets. Mail is delivered with smtplib.

The module's daemon sees exactly one failed login (test_bad_password_...):
failures are throttled per client IP with a doubling delay, so any other
test that needs a failure runs on a daemon of its own.
"""
import base64
import poplib
import re
import signal
import ssl
import subprocess
import time

import pytest

from conftest import (FACTEUR_BIN, SANITIZED, STOP_TIMEOUT,
                      client_tls_context, make_message, stored_equals)

PASSWORD = "pop3-secret-pw"
UIDL_RE = re.compile(r"^[0-9A-Fa-f]{16}$")
CURL_TIMEOUT = 20


# ---- helpers ----

def new_box(fx):
    return fx.add_mailbox(password=PASSWORD)


def deliver(fx, box, msg):
    with fx.smtplib() as s:
        assert s.sendmail("sender@example.org", [box], msg) == {}


def msg_with(marker, body_lines=None, subject=None):
    """A message whose Subject carries marker, to find its file."""
    return make_message(subject or "pop3 %s" % marker,
                        body_lines=body_lines)


def stored_path(fx, box, marker):
    """The one file of box (new/ or cur/) holding marker."""
    if isinstance(marker, str):
        marker = marker.encode()
    found = [p for sub in ("new", "cur") for p in fx.maildir_files(box, sub)
             if marker in p.read_bytes()]
    assert len(found) == 1, "files with %r: %s" % (marker, found)
    return found[0]


def all_files(fx, box):
    return fx.maildir_files(box, "new") + fx.maildir_files(box, "cur")


def base_of(path):
    """A Maildir file's unique part: the name without ":2,<flags>" (a
    login moves files from new/ to cur/ and renames them)."""
    return path.name.split(":2,")[0]


def present(fx, box, path):
    return any(base_of(p) == base_of(path) for p in all_files(fx, box))


def crlf(data):
    """A stored file (LF line ends) as POP3 sends it before stuffing."""
    assert b"\r" not in data
    return data.replace(b"\n", b"\r\n")


def stuffed(data):
    """Byte-stuffing of a CRLF text (RFC 1939 3)."""
    lines = data.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l
                        for l in lines)


def pop3s_login(fx, box, password=PASSWORD):
    p = fx.poplib(tls=True)
    p.user(box)
    p.pass_(password)
    return p


def stls_login(fx, box, password=PASSWORD):
    p = fx.poplib(tls=False)
    p.stls(context=client_tls_context())
    p.user(box)
    p.pass_(password)
    return p


def raw_login(fx, box, tls=True):
    c = fx.pop3(tls=tls)
    if not tls:
        c.stls()
    c.login(box, PASSWORD)
    return c


def listing(p):
    """poplib LIST as {number: size}."""
    resp, lines, _ = p.list()
    assert resp.startswith(b"+OK"), resp
    out = {}
    for line in lines:
        n, size = line.split()
        out[int(n)] = int(size)
    return out


def uidls(p):
    """poplib UIDL as {number: uidl}."""
    resp, lines, _ = p.uidl()
    assert resp.startswith(b"+OK"), resp
    out = {}
    for line in lines:
        n, uid = line.decode().split()
        out[int(n)] = uid
    return out


def pop_error(fn, *args):
    """Calls a poplib method that must fail; returns the -ERR line."""
    with pytest.raises(poplib.error_proto) as ei:
        fn(*args)
    line = ei.value.args[0]
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    return line


def curl(*args):
    r = subprocess.run(["curl", "-sS", "-k", "--max-time",
                        str(CURL_TIMEOUT), *args],
                       capture_output=True, timeout=CURL_TIMEOUT + 10)
    assert r.returncode == 0, "curl %s: rc=%s %s" % (
        " ".join(args), r.returncode, r.stderr.decode(errors="replace"))
    return r.stdout


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


# ---- login, STLS, CAPA ----

def test_login_pop3s(facteur):
    box = new_box(facteur)
    p = facteur.poplib(tls=True)
    try:
        assert isinstance(p.sock, ssl.SSLSocket)
        assert p.getwelcome().startswith(b"+OK")
        assert p.user(box).startswith(b"+OK")
        assert p.pass_(PASSWORD).startswith(b"+OK")
        assert p.stat() == (0, 0)
        assert p.noop().startswith(b"+OK")
    finally:
        assert p.quit().startswith(b"+OK")


def test_login_stls(facteur):
    box = new_box(facteur)
    p = facteur.poplib(tls=False)
    try:
        assert not isinstance(p.sock, ssl.SSLSocket)
        assert p.stls(context=client_tls_context()).startswith(b"+OK")
        assert isinstance(p.sock, ssl.SSLSocket)
        assert p.sock.version() in ("TLSv1.2", "TLSv1.3")
        p.user(box)
        assert p.pass_(PASSWORD).startswith(b"+OK")
        assert p.stat() == (0, 0)
    finally:
        p.quit()


def test_bad_password_refused_after_delay(facteur):
    """The module's only failed login (the delay doubles per failure)."""
    box = new_box(facteur)
    p = facteur.poplib(tls=True)
    try:
        p.user(box)
        t0 = time.monotonic()
        err = pop_error(p.pass_, PASSWORD + "x")
        elapsed = time.monotonic() - t0
        assert err.startswith("-ERR [AUTH]"), err
        assert elapsed >= 0.4, "failure answered after %.3f s" % elapsed
        # Still in AUTHORIZATION: no maildrop, and a right password works.
        assert pop_error(p.stat).startswith("-ERR")
        p.user(box)
        assert p.pass_(PASSWORD).startswith(b"+OK")
        assert p.stat() == (0, 0)
    finally:
        p.quit()
    facteur.wait_log(r"event=auth_failed user=%s" % re.escape(box))


def test_sasl_failures_delayed_and_doubling(facteur_factory):
    """Failed AUTH exchanges get -ERR [AUTH] after the throttling delay,
    which doubles with each failure from the same client (a daemon of
    its own: the module's is allowed one failure only)."""
    fx = facteur_factory()
    box = new_box(fx)
    c = fx.pop3(tls=True)
    try:
        t0 = time.monotonic()
        c.cmd("AUTH PLAIN " + b64("\0%s\0wrong-password" % box)) \
            .expect_err("[AUTH]")
        first = time.monotonic() - t0
        c.cmd("AUTH LOGIN").expect_cont()
        c.cmd(b64(box)).expect_cont()
        t0 = time.monotonic()
        c.cmd(b64("wrong-password-2")).expect_err("[AUTH]")
        second = time.monotonic() - t0
        assert first >= 0.4, first
        assert second >= 0.9, second
        c.cmd("STAT").expect_err()
        c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (box, PASSWORD))).expect_ok()
        c.cmd("QUIT").expect_ok()
    finally:
        c.close()


def test_credentials_refused_before_stls(facteur):
    box = new_box(facteur)
    c = facteur.pop3(tls=False)
    try:
        c.cmd("USER " + box).expect_err("[AUTH]")
        c.cmd("PASS " + PASSWORD).expect_err("[AUTH]")
        c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (box, PASSWORD))) \
            .expect_err("[AUTH]")
        c.cmd("AUTH LOGIN").expect_err("[AUTH]")
        # Nothing was logged in.
        c.cmd("STAT").expect_err()
        # No mechanisms are offered in clear text.
        st, mechs = c.cmd_multi("AUTH")
        st.expect_ok()
        assert mechs == [], mechs
        c.cmd("QUIT").expect_ok()
        assert c.wait_closed() == b""
    finally:
        c.close()
    # poplib too.
    p = facteur.poplib(tls=False)
    try:
        assert pop_error(p.user, box).startswith("-ERR [AUTH]")
    finally:
        p.quit()
    assert "event=login user=%s " % box not in facteur.log_text()


def test_capa_before_and_after_stls(facteur):
    box = new_box(facteur)
    c = facteur.pop3(tls=False)
    try:
        st, caps = c.cmd_multi("CAPA")
        st.expect_ok()
        assert b"STLS" in caps, caps
        assert b"USER" not in caps, caps
        assert not any(l.startswith(b"SASL") for l in caps), caps
        assert b"UIDL" in caps and b"TOP" in caps, caps
        assert b"RESP-CODES" in caps and b"AUTH-RESP-CODE" in caps, caps
        c.stls()
        st, caps = c.cmd_multi("CAPA")
        st.expect_ok()
        assert b"USER" in caps, caps
        assert b"SASL PLAIN LOGIN" in caps, caps
        assert b"STLS" not in caps, caps
        c.cmd("STLS").expect_err()
        c.login(box, PASSWORD)
        # In TRANSACTION: neither login mechanisms nor STLS.
        st, caps = c.cmd_multi("CAPA")
        st.expect_ok()
        assert b"UIDL" in caps and b"TOP" in caps, caps
        assert b"USER" not in caps and b"STLS" not in caps, caps
        assert not any(l.startswith(b"SASL") for l in caps), caps
        c.cmd("QUIT").expect_ok()
    finally:
        c.close()
    # Implicit TLS: credentials at once, no STLS.
    c = facteur.pop3(tls=True)
    try:
        st, caps = c.cmd_multi("CAPA")
        st.expect_ok()
        assert b"USER" in caps and b"SASL PLAIN LOGIN" in caps, caps
        assert b"STLS" not in caps, caps
        st, mechs = c.cmd_multi("AUTH")
        st.expect_ok()
        assert b"PLAIN" in mechs and b"LOGIN" in mechs, mechs
        c.cmd("STLS").expect_err()
        c.cmd("QUIT").expect_ok()
    finally:
        c.close()
    # poplib parses it the same way.
    p = facteur.poplib(tls=False)
    try:
        caps = p.capa()
        assert "STLS" in caps and "USER" not in caps, caps
        p.stls(context=client_tls_context())
        caps = p.capa()
        assert "STLS" not in caps and "USER" in caps, caps
        assert caps.get("SASL") == ["PLAIN", "LOGIN"], caps
    finally:
        p.quit()


def test_plaintext_auth_networks_allow_clear_login(facteur_factory):
    """With the client's network in plaintext_auth_networks, credentials
    are taken without TLS (STLS is still offered)."""
    fx = facteur_factory({"plaintext_auth_networks": "127.0.0.0/8"})
    box = new_box(fx)
    c = fx.pop3(tls=False)
    try:
        st, caps = c.cmd_multi("CAPA")
        assert b"USER" in caps and b"SASL PLAIN LOGIN" in caps, caps
        assert b"STLS" in caps, caps
        c.login(box, PASSWORD)
        assert c.cmd("STAT").expect_ok().line == "+OK 0 0"
        c.cmd("QUIT").expect_ok()
    finally:
        c.close()


def test_auth_plain(facteur):
    box = new_box(facteur)
    deliver(facteur, box, msg_with("auth plain"))
    # Initial response, on the implicit-TLS port.
    c = facteur.pop3(tls=True)
    try:
        c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (box, PASSWORD))).expect_ok()
        assert c.cmd("STAT").expect_ok().line.split()[1] == "1"
        c.cmd("QUIT").expect_ok()
    finally:
        c.close()
    # Without one, after STLS: an empty challenge, then the response.
    c = facteur.pop3(tls=False)
    try:
        c.stls()
        assert c.cmd("AUTH PLAIN").expect_cont() == ""
        c.cmd(b64("\0%s\0%s" % (box, PASSWORD))).expect_ok()
        assert c.cmd("STAT").line.split()[1] == "1"
        c.cmd("QUIT").expect_ok()
    finally:
        c.close()
    # poplib's _shortcmd, with authzid = authcid.
    p = facteur.poplib(tls=True)
    try:
        resp = p._shortcmd("AUTH PLAIN " + b64("%s\0%s\0%s" % (
            box, box, PASSWORD)))
        assert resp.startswith(b"+OK"), resp
        assert p.stat()[0] == 1
    finally:
        p.quit()


def test_auth_login(facteur):
    box = new_box(facteur)
    c = facteur.pop3(tls=True)
    try:
        # A cancelled exchange leaves the session in AUTHORIZATION.
        c.cmd("AUTH LOGIN").expect_cont()
        c.cmd("*").expect_err()
        c.cmd("STAT").expect_err()
        ch = c.cmd("AUTH LOGIN").expect_cont()
        assert base64.b64decode(ch).lower().startswith(b"user"), ch
        ch = c.cmd(b64(box)).expect_cont()
        assert base64.b64decode(ch).lower().startswith(b"pass"), ch
        c.cmd(b64(PASSWORD)).expect_ok()
        assert c.cmd("STAT").expect_ok().line == "+OK 0 0"
        c.cmd("QUIT").expect_ok()
    finally:
        c.close()
    # The same after STLS, with the user name as an initial response.
    c = facteur.pop3(tls=False)
    try:
        c.stls()
        ch = c.cmd("AUTH LOGIN " + b64(box)).expect_cont()
        assert base64.b64decode(ch).lower().startswith(b"pass"), ch
        c.cmd(b64(PASSWORD)).expect_ok()
        c.cmd("QUIT").expect_ok()
    finally:
        c.close()


# ---- STAT, LIST, UIDL ----

def test_stat_list_uidl_consistent(facteur):
    box = new_box(facteur)
    for i, n in enumerate((3, 40, 400)):
        deliver(facteur, box, msg_with("consistent %d" % i,
                                       ["line %d of %d" % (j, n)
                                        for j in range(n)]))
    p = pop3s_login(facteur, box)
    try:
        count, total = p.stat()
        sizes = listing(p)
        assert count == 3 and sorted(sizes) == [1, 2, 3], sizes
        assert total == sum(sizes.values())
        assert len(set(sizes.values())) == 3, sizes
        ids = uidls(p)
        assert sorted(ids) == [1, 2, 3], ids
        assert all(UIDL_RE.match(u) for u in ids.values()), ids
        assert len(set(ids.values())) == 3, ids
        # The one-message forms agree.
        for n in (1, 2, 3):
            assert p.list(n) == b"+OK %d %d" % (n, sizes[n])
            assert p.uidl(n) == b"+OK %d %s" % (n, ids[n].encode())
        # Sizes match the stored files (CRLF line ends) in UID order.
        for n in (1, 2, 3):
            path = stored_path(facteur, box, "consistent %d" % (n - 1))
            assert sizes[n] == len(crlf(path.read_bytes()))
    finally:
        p.quit()


def test_uidl_stable_across_sessions(facteur):
    box = new_box(facteur)
    deliver(facteur, box, msg_with("stable a"))
    deliver(facteur, box, msg_with("stable b"))
    p = stls_login(facteur, box)
    first = uidls(p)
    p.quit()
    assert len(first) == 2
    p = pop3s_login(facteur, box)
    again = uidls(p)
    p.quit()
    assert again == first
    # A new message: a new UIDL, the old ones unchanged.
    deliver(facteur, box, msg_with("stable c"))
    p = pop3s_login(facteur, box)
    after = uidls(p)
    p.quit()
    assert len(after) == 3
    assert {n: after[n] for n in (1, 2)} == first
    assert after[3] not in first.values()
    assert UIDL_RE.match(after[3])


def test_uidl_stable_across_restart(facteur_factory):
    fx = facteur_factory()
    box = new_box(fx)
    deliver(fx, box, msg_with("restart a"))
    deliver(fx, box, msg_with("restart b"))
    p = pop3s_login(fx, box)
    before = uidls(p)
    sizes = listing(p)
    p.quit()
    assert fx.stop() == 0
    fx.start()
    p = pop3s_login(fx, box)
    try:
        assert uidls(p) == before
        assert listing(p) == sizes
    finally:
        p.quit()
    deliver(fx, box, msg_with("restart c"))
    p = pop3s_login(fx, box)
    try:
        after = uidls(p)
    finally:
        p.quit()
    assert {n: after[n] for n in (1, 2)} == before
    assert after[3] not in before.values()


# ---- RETR, TOP ----

def _tricky_body():
    body = []
    for i in range(900):
        if i % 10 == 3:
            body.append(".dot line %d" % i)
        elif i % 10 == 7:
            body.append("..two dots %d" % i)
        elif i % 10 == 9:
            body.append(".")
        else:
            body.append("body line %04d: %s" % (i, "abcdefghij" * 6))
    return body


def test_retr_byte_for_byte(facteur):
    box = new_box(facteur)
    sent = msg_with("retr exact", _tricky_body())
    assert len(sent) > 40000
    deliver(facteur, box, sent)
    path = stored_path(facteur, box, "retr exact")
    stored_equals(path, sent)
    expected = crlf(path.read_bytes())
    p = pop3s_login(facteur, box)
    try:
        size = listing(p)[1]
        assert size == len(expected)
        resp, lines, octets = p.retr(1)
        assert resp == b"+OK %d octets" % size, resp
        got = b"".join(l + b"\r\n" for l in lines)
        assert got == expected
        # poplib counts each line with its CRLF, after un-stuffing.
        assert octets == sum(len(l) + 2 for l in lines) == size
    finally:
        p.quit()
    # On the wire: every line starting with "." is stuffed.
    c = raw_login(facteur, box, tls=False)
    try:
        c.cmd("RETR 1").expect_ok("%d octets" % size)
        assert c.read_body() == stuffed(expected)
        c.cmd("QUIT").expect_ok()
    finally:
        c.close()


def test_list_size_of_unterminated_foreign_file(facteur):
    """A file copied into the Maildir by another tool, whose last line
    has no LF: RETR must end it with CRLF, and LIST must count it."""
    box = new_box(facteur)
    deliver(facteur, box, msg_with("before foreign"))
    d = facteur.maildir(box) / "new"
    (d / ("%d.M1P1Q1.foreign.example" % int(time.time()))).write_bytes(
        b"Subject: foreign\n\nno newline at the end")
    p = pop3s_login(facteur, box)
    try:
        sizes = listing(p)
        assert len(sizes) == 2
        resp, lines, octets = p.retr(2)
        assert lines == [b"Subject: foreign", b"", b"no newline at the end"]
        assert resp == b"+OK %d octets" % octets, resp
        assert sizes[2] == octets
    finally:
        p.quit()


def test_top(facteur):
    box = new_box(facteur)
    body = ["first", ".second", "third", "", "fifth", "."]
    deliver(facteur, box, msg_with("top lines", body))
    lines = crlf(stored_path(facteur, box, "top lines").read_bytes()) \
        .split(b"\r\n")[:-1]
    blank = lines.index(b"")
    header = lines[:blank]
    assert lines[blank + 1:] == [l.encode() for l in body]
    c = raw_login(facteur, box)
    try:
        for n in (0, 1, 2, 4, 6, 7, 1000):
            c.cmd("TOP 1 %d" % n).expect_ok()
            want = header + [b""] + [l.encode() for l in body[:n]]
            got = c.read_body()
            assert got == stuffed(b"\r\n".join(want) + b"\r\n"), (n, got)
        c.cmd("TOP 1").expect_err()
        c.cmd("TOP 1 x").expect_err()
        c.cmd("TOP 1 -1").expect_err()
        c.cmd("TOP 2 0").expect_err()
        c.cmd("QUIT").expect_ok()
    finally:
        c.close()
    # poplib un-stuffs.
    p = pop3s_login(facteur, box)
    try:
        resp, got, _ = p.top(1, 2)
        assert got == header + [b"", b"first", b".second"]
    finally:
        p.quit()


# ---- DELE, RSET, QUIT, drops ----

def test_dele_quit_removes(facteur):
    box = new_box(facteur)
    deliver(facteur, box, msg_with("dele one"))
    deliver(facteur, box, msg_with("dele two"))
    gone = stored_path(facteur, box, "dele one")
    kept = stored_path(facteur, box, "dele two")
    p = pop3s_login(facteur, box)
    ids = uidls(p)
    assert p.dele(1).startswith(b"+OK")
    assert p.stat() == (1, listing(p)[2])
    # Nothing is removed before QUIT.
    assert present(facteur, box, gone)
    resp = p.quit()
    assert resp.startswith(b"+OK"), resp
    assert not present(facteur, box, gone)
    assert [base_of(f) for f in all_files(facteur, box)] == [base_of(kept)]
    p = pop3s_login(facteur, box)
    try:
        after = uidls(p)
        assert list(after.values()) == [ids[2]]
        assert p.stat()[0] == 1
    finally:
        p.quit()


def test_dele_then_drop_keeps(facteur):
    box = new_box(facteur)
    deliver(facteur, box, msg_with("dele drop"))
    path = stored_path(facteur, box, "dele drop")
    c = raw_login(facteur, box)
    c.cmd("DELE 1").expect_ok()
    c.close()       # no QUIT: no UPDATE state
    facteur.wait_sessions(0)
    assert present(facteur, box, path)
    p = pop3s_login(facteur, box)
    try:
        assert p.stat()[0] == 1
    finally:
        p.quit()
    assert present(facteur, box, path)


def test_rset_undoes_dele(facteur):
    box = new_box(facteur)
    deliver(facteur, box, msg_with("rset a"))
    deliver(facteur, box, msg_with("rset b"))
    p = pop3s_login(facteur, box)
    stat = p.stat()
    p.dele(1)
    p.dele(2)
    assert p.stat() == (0, 0)
    assert p.rset().startswith(b"+OK")
    assert p.stat() == stat
    assert sorted(listing(p)) == [1, 2]
    p.retr(1)
    p.quit()
    assert len(all_files(facteur, box)) == 2
    p = pop3s_login(facteur, box)
    try:
        assert p.stat() == stat
    finally:
        p.quit()


def test_deleted_message_errors(facteur):
    box = new_box(facteur)
    deliver(facteur, box, msg_with("deleted a"))
    deliver(facteur, box, msg_with("deleted b"))
    c = raw_login(facteur, box)
    try:
        c.cmd("DELE 1").expect_ok()
        c.cmd("DELE 1").expect_err()
        c.cmd("RETR 1").expect_err()
        c.cmd("TOP 1 0").expect_err()
        c.cmd("LIST 1").expect_err()
        c.cmd("UIDL 1").expect_err()
        st, lines = c.cmd_multi("LIST")
        st.expect_ok()
        assert [l.split()[0] for l in lines] == [b"2"], lines
        st, lines = c.cmd_multi("UIDL")
        assert [l.split()[0] for l in lines] == [b"2"], lines
        assert c.cmd("STAT").line.split()[1] == "1"
        c.cmd("RETR 2").expect_ok()
        c.read_body()
        c.cmd("RSET").expect_ok()
        c.cmd("RETR 1").expect_ok()
        c.read_body()
        c.cmd("QUIT").expect_ok()
    finally:
        c.close()
    assert len(all_files(facteur, box)) == 2


def test_bad_message_numbers(facteur):
    box = new_box(facteur)
    deliver(facteur, box, msg_with("numbers"))
    c = raw_login(facteur, box)
    try:
        for arg in ("0", "2", "99", "4294967295", "4294967296",
                    "99999999999999999999", "abc", "-1", "+1", "1x",
                    "0x1", " ", ""):
            for verb in ("RETR", "DELE", "LIST", "UIDL"):
                line = ("%s %s" % (verb, arg)).rstrip()
                if verb in ("LIST", "UIDL") and line == verb:
                    continue        # the whole list
                st = c.cmd(line)
                st.expect_err()
            c.cmd("TOP %s 1" % arg if arg.strip() else "TOP").expect_err()
        # The session is still fine and nothing was deleted.
        c.cmd("NOOP").expect_ok()
        assert c.cmd("STAT").line.split()[1] == "1"
        c.cmd("QUIT").expect_ok("Logging out")
    finally:
        c.close()
    assert len(all_files(facteur, box)) == 1


def test_transaction_commands_need_login(facteur):
    c = facteur.pop3(tls=True)
    try:
        for cmd in ("STAT", "LIST", "UIDL", "RETR 1", "DELE 1", "RSET",
                    "TOP 1 1", "NOOP"):
            c.cmd(cmd).expect_err()
        c.cmd("QUIT").expect_ok()
    finally:
        c.close()


# ---- concurrency ----

def test_second_session_in_use(facteur):
    box = new_box(facteur)
    deliver(facteur, box, msg_with("in use"))
    first = pop3s_login(facteur, box)
    try:
        second = facteur.poplib(tls=False)
        try:
            second.stls(context=client_tls_context())
            second.user(box)
            t0 = time.monotonic()
            err = pop_error(second.pass_, PASSWORD)
            assert err.startswith("-ERR [IN-USE]"), err
            # Not a failed login: no throttling delay.
            assert time.monotonic() - t0 < 0.4
        finally:
            second.quit()
        assert first.stat()[0] == 1
        first.dele(1)
    finally:
        first.quit()
    # The lock went with the first session.
    p = pop3s_login(facteur, box)
    try:
        assert p.stat() == (0, 0)
    finally:
        p.quit()


def test_delivery_during_session_not_seen(facteur):
    box = new_box(facteur)
    deliver(facteur, box, msg_with("during a"))
    p = pop3s_login(facteur, box)
    try:
        stat = p.stat()
        ids = uidls(p)
        deliver(facteur, box, msg_with("during b"))
        assert len(all_files(facteur, box)) == 2
        assert p.stat() == stat
        assert uidls(p) == ids
        assert sorted(listing(p)) == [1]
        assert pop_error(p.retr, 2).startswith("-ERR")
    finally:
        p.quit()
    p = pop3s_login(facteur, box)
    try:
        after = uidls(p)
        assert len(after) == 2 and after[1] == ids[1]
        resp, lines, _ = p.retr(2)
        assert any(b"during b" in l for l in lines)
    finally:
        p.quit()


# ---- STLS injection ----

def test_stls_plaintext_injection_discarded(facteur):
    """CVE-2011-0411: a command pipelined after STLS in clear text must
    not be answered over TLS."""
    c = facteur.pop3(tls=False)
    try:
        c.send(b"STLS\r\nCAPA\r\n")
        c.status().expect_ok()
        assert c.buf == b"", c.buf
        c.sock = client_tls_context().wrap_socket(c.sock)
        c.sock.settimeout(c.timeout)
        # The first reply over TLS is QUIT's, and the only one.
        c.send(b"QUIT\r\n")
        got = c.wait_closed()
        assert got == b"+OK Logging out\r\n", got
    finally:
        c.close()
    facteur.wait_log(r"event=starttls_injection bytes=6 ")


def test_stls_pipelined_capa_after_handshake(facteur):
    c = facteur.pop3(tls=False)
    try:
        c.stls()
        c.send(b"CAPA\r\nNOOP\r\nCAPA\r\n")
        c.status().expect_ok("Capability")
        caps = c.multiline()
        assert b"USER" in caps and b"STLS" not in caps
        c.status().expect_err()            # NOOP before login
        c.status().expect_ok()
        assert b"USER" in c.multiline()
        c.cmd("QUIT").expect_ok()
    finally:
        c.close()


# ---- curl ----

def test_curl_pop3s(facteur):
    box = new_box(facteur)
    sent = msg_with("curl implicit", _tricky_body()[:200])
    deliver(facteur, box, sent)
    deliver(facteur, box, msg_with("curl implicit second"))
    expected = crlf(stored_path(facteur, box, "curl implicit\n")
                    .read_bytes())
    url = "pop3s://127.0.0.1:%d/" % facteur.pop3s_port
    out = curl(url, "-u", "%s:%s" % (box, PASSWORD))
    listed = [l.split() for l in out.decode().splitlines()]
    second = stored_path(facteur, box, "curl implicit second")
    assert listed == [["1", str(len(expected))],
                      ["2", str(len(crlf(second.read_bytes())))]], out
    out = curl(url + "1", "-u", "%s:%s" % (box, PASSWORD))
    assert out == expected


def test_curl_pop3_stls(facteur):
    box = new_box(facteur)
    sent = msg_with("curl stls", _tricky_body()[:300])
    deliver(facteur, box, sent)
    expected = crlf(stored_path(facteur, box, "curl stls").read_bytes())
    url = "pop3://127.0.0.1:%d/" % facteur.pop3_port
    out = curl("--ssl-reqd", url, "-u", "%s:%s" % (box, PASSWORD))
    assert out.decode().split() == ["1", str(len(expected))], out
    out = curl("--ssl-reqd", url + "1", "-u", "%s:%s" % (box, PASSWORD))
    assert out == expected
    # Without TLS, curl cannot log in: the server refuses credentials.
    r = subprocess.run(["curl", "-sS", "--max-time", str(CURL_TIMEOUT),
                        url + "1", "-u", "%s:%s" % (box, PASSWORD)],
                       capture_output=True, timeout=CURL_TIMEOUT + 10)
    assert r.returncode != 0 and r.stdout == b"", r


# ---- a large message, streamed ----

def _rss_kib(pid, key="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (key, pid))


def test_large_message_streamed(facteur_factory):
    fx = facteur_factory({"max_message_size": "30M"})
    box = new_box(fx)
    filler = "x" * 70
    body = ["%s%07d %s" % ("." if i % 1000 == 0 else "", i, filler)
            for i in range(20 * 1024 * 1024 // 80 + 1)]
    sent = make_message("large", body_lines=body)
    assert len(sent) > 20 * 1024 * 1024
    with fx.smtplib(timeout=60) as s:
        assert s.sendmail("sender@example.org", [box], sent) == {}
    path = stored_path(fx, box, "Subject: large\n")
    expected = crlf(path.read_bytes())
    c = raw_login(fx, box)
    # Measured once logged in (the password hash's memory is returned).
    base = _rss_kib(fx.pid)
    peak = [base]

    def sample(_n=0):
        peak[0] = max(peak[0], _rss_kib(fx.pid))

    try:
        c.timeout = 30
        c.cmd("RETR 1").expect_ok("%d octets" % len(expected))
        # Slowly at first: the server must wait, not buffer.
        deadline = time.monotonic() + 10
        while len(c.buf) < 65536:
            c._fill(deadline)
        time.sleep(0.5)
        sample()
        got = c.read_body(progress=sample)
        sample()
        assert len(got) == len(stuffed(expected))
        assert got == stuffed(expected)
        c.cmd("QUIT").expect_ok()
    finally:
        c.close()
    growth = (peak[0] - base) / 1024.0
    if SANITIZED or "sanitize" in FACTEUR_BIN:
        return
    assert growth < 10, "RSS grew by %.1f MiB during RETR" % growth


# ---- stop ----

def test_sigterm_ends_sessions_without_update(facteur_factory):
    """A graceful stop tells POP3 sessions to go ([SYS/TEMP]) and is not
    a QUIT: deletions marked in the session are not carried out."""
    fx = facteur_factory()
    box = new_box(fx)
    deliver(fx, box, msg_with("sigterm"))
    path = stored_path(fx, box, "sigterm")
    logged = raw_login(fx, box)
    logged.cmd("DELE 1").expect_ok()
    fresh = fx.pop3(tls=False)
    fresh.stls()
    fx.proc.send_signal(signal.SIGTERM)
    try:
        for c in (logged, fresh):
            got = c.wait_closed(STOP_TIMEOUT)
            assert got.startswith(b"-ERR [SYS/TEMP]"), got
    finally:
        logged.close()
        fresh.close()
    assert fx.proc.wait(timeout=STOP_TIMEOUT) == 0
    assert present(fx, box, path)


# ---- idle ----

def test_short_idle_keeps_session(facteur_factory):
    """POP3's autologout is 10 minutes (RFC 1939 3), not timeout_idle,
    which applies to SMTP: a session idle longer than it stays usable.
    (The 10 minutes themselves are not waited for.)"""
    fx = facteur_factory({"timeout_idle": "2"})
    box = new_box(fx)
    deliver(fx, box, msg_with("idle"))
    greeted = fx.pop3(tls=True)
    stls = fx.pop3(tls=False)
    stls.stls()
    logged = raw_login(fx, box, tls=False)
    smtp = fx.connect()
    try:
        time.sleep(3.0)
        # SMTP did time out (the setting is in force) ...
        assert smtp.wait_closed(5).startswith(b"421")
        # ... the POP3 sessions did not.
        greeted.cmd("CAPA").expect_ok()
        greeted.multiline()
        stls.cmd("CAPA").expect_ok()
        stls.multiline()
        logged.cmd("NOOP").expect_ok()
        assert logged.cmd("STAT").line.split()[1] == "1"
        for c in (greeted, stls, logged):
            c.cmd("QUIT").expect_ok()
    finally:
        for c in (greeted, stls, logged, smtp):
            c.close()
