"""The admin API for browsers (issue 6, second slice): sessions by
cookie with a CSRF token, mailbox users who see their own mailbox and
change their password, sign-in throttling shared with POP3, the
admin_networks allow-list, session expiry."""
import http.client
import json
import re
import sqlite3
import time

from conftest import client_tls_context

ADMIN = "boss"
ADMIN_PASSWORD = "boss password 123"
COOKIE = "facteur_session"


class Browser:
    """http.client over HTTPS keeping the session cookie as a browser
    would, and the CSRF token the sign-in returned."""

    def __init__(self, facteur):
        self.facteur = facteur
        self.cookie = None
        self.csrf = None
        self.last_set_cookie = None

    def call(self, method, path, body=None, csrf=True, headers=None):
        """Returns (status, headers, parsed JSON or text or None)."""
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.facteur.api_port,
            context=client_tls_context(), timeout=30)
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if self.cookie is not None:
            h["Cookie"] = "%s=%s" % (COOKIE, self.cookie)
        if csrf and self.csrf is not None:
            h["X-CSRF-Token"] = self.csrf
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            text = r.read()
            hdrs = r.headers
            status = r.status
        finally:
            conn.close()
        sc = hdrs.get("Set-Cookie")
        if sc is not None:
            self.last_set_cookie = sc
            value = sc.split(";", 1)[0].split("=", 1)[1]
            self.cookie = value or None
        ctype = hdrs.get("Content-Type") or ""
        if "json" in ctype and text:
            doc = json.loads(text)
        else:
            doc = text.decode() if text else None
        return status, hdrs, doc

    def login(self, user, password, status=200):
        st, h, doc = self.call("POST", "/api/v1/session",
                               {"username": user, "password": password})
        assert st == status, (st, doc)
        if st == 200:
            self.csrf = doc["csrf_token"]
        return st, h, doc

    def ok(self, method, path, body=None, status=200, **kw):
        st, _, doc = self.call(method, path, body, **kw)
        assert st == status, (method, path, st, doc)
        return doc

    def problem(self, method, path, body=None, status=400, code=None,
                **kw):
        st, h, doc = self.call(method, path, body, **kw)
        assert st == status, (method, path, st, doc)
        assert h["Content-Type"] == "application/problem+json"
        if code is not None:
            assert doc["code"] == code, doc
        return h, doc


def _db(facteur):
    return sqlite3.connect(str(facteur.data_dir / "facteur.db"))


def _admin(facteur, name=ADMIN, password=ADMIN_PASSWORD):
    facteur.cli_ok("admin", "add", name, "--password-stdin",
                   input=password + "\n")


def test_admin_session(facteur):
    _admin(facteur)
    b = Browser(facteur)
    # No credentials at all: 401.
    b.problem("GET", "/api/v1/session", status=401, code="unauthorized")
    b.problem("GET", "/api/v1/domains", status=401, code="unauthorized")
    # Malformed sign-ins are input errors, not failed logins.
    b.problem("POST", "/api/v1/session", {"username": ADMIN}, status=400,
              code="invalid_field")
    b.problem("POST", "/api/v1/session", {"username": ADMIN,
                                          "password": 5},
              status=400, code="invalid_field")
    # A wrong password: 401 after the throttle's delay, no cookie.
    t0 = time.monotonic()
    st, h, doc = b.call("POST", "/api/v1/session",
                        {"username": ADMIN, "password": "wrong one"})
    assert st == 401 and doc["code"] == "bad_credentials", doc
    assert time.monotonic() - t0 >= 0.4
    assert h.get("Set-Cookie") is None

    st, h, doc = b.login(ADMIN, ADMIN_PASSWORD)
    assert doc["user"] == ADMIN and doc["role"] == "admin"
    assert re.fullmatch(r"[0-9a-f]{64}", doc["csrf_token"])
    assert doc["expires"] > time.time()
    sc = h["Set-Cookie"]
    attrs = [a.strip() for a in sc.split(";")]
    assert re.fullmatch(COOKIE + r"=[0-9a-f]{64}", attrs[0]), sc
    assert {"HttpOnly", "Secure", "SameSite=Strict", "Path=/"} <= \
        set(attrs), sc
    # Stored hashed: the cookie value is nowhere in the database.
    with _db(facteur) as db:
        rows = db.execute("SELECT id_hash, role, username FROM sessions"
                          ).fetchall()
    assert (ADMIN, "admin") in [(r[2], r[1]) for r in rows]
    assert b.cookie not in [r[0] for r in rows]
    assert b.cookie.encode() not in (
        facteur.data_dir / "facteur.db").read_bytes()

    doc = b.ok("GET", "/api/v1/session")
    assert doc["user"] == ADMIN and doc["csrf_token"] == b.csrf
    assert "example.com" in [d["name"] for d in
                             b.ok("GET", "/api/v1/domains")["domains"]]
    # Changes need the CSRF token: missing or wrong is 403 csrf.
    dom = facteur.unique("sess") + ".example"
    b.problem("POST", "/api/v1/domains", {"name": dom}, csrf=False,
              status=403, code="csrf")
    b.problem("POST", "/api/v1/domains", {"name": dom}, csrf=False,
              headers={"X-CSRF-Token": "0" * 64}, status=403, code="csrf")
    b.ok("POST", "/api/v1/domains", {"name": dom}, status=201)
    # GETs need none.
    b.ok("GET", "/api/v1/domains/" + dom, csrf=False)
    # The audit names the admin and the address.
    with _db(facteur) as db:
        row = db.execute("SELECT actor, remote FROM audit_log WHERE "
                         "action = 'domain.add' AND target = ?",
                         (dom,)).fetchone()
    assert row == ("admin:" + ADMIN, "127.0.0.1")
    # Bearer tokens never need the CSRF header (test_api.py), and the
    # session routes are for sessions only.
    r = facteur.cli_ok("token", "create", "sess-tok")
    secret = re.search(r"secret: (\S+)", r.stdout).group(1)
    tb = Browser(facteur)
    tb.problem("GET", "/api/v1/session", status=403, code="forbidden",
               headers={"Authorization": "Bearer " + secret})

    # Sign out: CSRF needed too; then the row is gone, the cookie too.
    b.problem("DELETE", "/api/v1/session", csrf=False, status=403,
              code="csrf")
    old = b.cookie
    b.ok("DELETE", "/api/v1/session", status=204)
    assert "Max-Age=0" in b.last_set_cookie
    assert b.cookie is None
    with _db(facteur) as db:
        n = db.execute("SELECT count(*) FROM sessions WHERE username = ?",
                       (ADMIN,)).fetchone()[0]
    assert n == 0
    b.cookie = old
    b.problem("GET", "/api/v1/session", status=401, code="unauthorized")


def test_mailbox_user(facteur):
    box = facteur.add_mailbox(password="mailbox pass 1")
    other = facteur.add_mailbox(password="other pass 12")
    b = Browser(facteur)
    doc = b.login(box.upper(), "mailbox pass 1")[2]
    assert doc["role"] == "mailbox" and doc["user"] == box
    me = b.ok("GET", "/api/v1/mailboxes/" + box)
    assert me["address"] == box and me["storage_used"] == 0
    assert me["last_login"]
    setup = b.ok("GET", "/api/v1/mailboxes/%s/client-setup" % box)
    assert setup["user"] == box
    # Another mailbox does not exist for it; admin routes are closed.
    b.problem("GET", "/api/v1/mailboxes/" + other, status=404,
              code="not_found")
    b.problem("GET", "/api/v1/mailboxes/%s/client-setup" % other,
              status=404, code="not_found")
    for method, path, body in (
            ("GET", "/api/v1/domains", None),
            ("GET", "/api/v1/domains/example.com", None),
            ("GET", "/api/v1/status", None),
            ("PATCH", "/api/v1/mailboxes/" + box, {"quota": 0}),
            ("DELETE", "/api/v1/mailboxes/" + box, None),
            ("GET", "/api/v1/admins", None)):
        b.problem(method, path, body, status=403, code="forbidden")
    # Its own password: the current one is checked, the new one too.
    b.problem("PUT", "/api/v1/self/password",
              {"current_password": "mailbox pass 1",
               "new_password": "short"}, status=400, code="invalid_field")
    b.problem("PUT", "/api/v1/self/password",
              {"current_password": "mailbox pass 1",
               "new_password": "long enough 1"}, csrf=False, status=403,
              code="csrf")
    b.ok("PUT", "/api/v1/self/password",
         {"current_password": "mailbox pass 1",
          "new_password": "brand new pass"}, status=204)
    # POP3 takes the new password.
    p = facteur.poplib()
    try:
        p.user(box)
        p.pass_("brand new pass")
        p.quit()
    finally:
        p.close()
    # The session goes on; a disabled mailbox's session ends.
    b.ok("GET", "/api/v1/session")
    facteur.cli_ok("mailbox", "disable", box)
    b.problem("GET", "/api/v1/session", status=401)
    facteur.cli_ok("mailbox", "enable", box)


def test_session_expiry(facteur_factory):
    fx = facteur_factory(settings={"session_idle_timeout": "2"})
    _admin(fx)
    b = Browser(fx)
    doc = b.login(ADMIN, ADMIN_PASSWORD)[2]
    assert doc["idle_timeout"] == 2
    b.ok("GET", "/api/v1/session")
    time.sleep(3.1)
    h, _ = b.problem("GET", "/api/v1/session", status=401,
                     code="unauthorized")
    assert "Max-Age=0" in h["Set-Cookie"]
    # The absolute lifetime, made short in the database.
    b.login(ADMIN, ADMIN_PASSWORD)
    b.ok("GET", "/api/v1/session")
    with _db(fx) as db:
        db.execute("UPDATE sessions SET expires = ?",
                   (int(time.time()) - 1,))
    b.problem("GET", "/api/v1/session", status=401)
    with _db(fx) as db:
        assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] \
            == 0


def test_throttling_shared_with_pop3(facteur_factory):
    fx = facteur_factory(settings={"auth_max_failures": "3"})
    _admin(fx)
    box = fx.add_mailbox(password="mailbox pass 1")
    b = Browser(fx)
    delays = []
    for user in (ADMIN, box, "nobody@example.com"):
        t0 = time.monotonic()
        b.problem("POST", "/api/v1/session",
                  {"username": user, "password": "not the password"},
                  status=401, code="bad_credentials")
        delays.append(time.monotonic() - t0)
    # The delay doubles with the failures from this address.
    assert delays[0] >= 0.4 and delays[1] >= 0.9 and delays[2] >= 1.9
    # Over the limit: 429 with Retry-After, even with the right
    # password, and POP3 from the same address is refused too.
    h, doc = b.problem("POST", "/api/v1/session",
                       {"username": ADMIN, "password": ADMIN_PASSWORD},
                       status=429, code="throttled")
    assert 0 < int(h["Retry-After"]) <= 900
    p = fx.pop3()
    try:
        p.cmd("USER " + box).expect_ok()
        p.cmd("PASS mailbox pass 1").expect_err("Too many failed")
    finally:
        p.close()
    assert "event=api_login_failed" in fx.log_text()
    assert "not the password" not in fx.log_text()


def test_allow_list(facteur_factory):
    fx = facteur_factory(settings={"admin_networks": "10.0.0.0/8"})
    r = fx.cli_ok("token", "create", "t")
    secret = re.search(r"secret: (\S+)", r.stdout).group(1)
    b = Browser(fx)
    for path in ("/api/v1/status", "/api/openapi.json", "/api/v1/session"):
        b.problem("GET", path, status=403, code="forbidden_network",
                  headers={"Authorization": "Bearer " + secret})
    b.problem("POST", "/api/v1/session", {"username": ADMIN,
                                          "password": ADMIN_PASSWORD},
              status=403, code="forbidden_network")
    # Loopback listed: allowed.
    fx2 = facteur_factory(settings={"admin_networks":
                                    "10.0.0.0/8, 127.0.0.1/32, ::1"})
    r = fx2.cli_ok("token", "create", "t")
    secret = re.search(r"secret: (\S+)", r.stdout).group(1)
    Browser(fx2).ok("GET", "/api/v1/status",
                    headers={"Authorization": "Bearer " + secret})
    out = fx2.cli_ok("serve", "--check-config").stdout
    assert "admin_networks = 10.0.0.0/8, 127.0.0.1/32, ::1/128" in out


def _api_cert(fx):
    import socket
    with socket.create_connection(("127.0.0.1", fx.api_port),
                                  timeout=10) as s:
        with client_tls_context().wrap_socket(s) as t:
            return t.getpeercert(binary_form=True)


def test_https_certificate_reload(facteur_factory):
    import signal
    import subprocess
    fx = facteur_factory()
    r = fx.cli_ok("token", "create", "t")
    secret = re.search(r"secret: (\S+)", r.stdout).group(1)
    auth = {"Authorization": "Bearer " + secret}
    before = _api_cert(fx)
    # A kept-alive connection made before the reload.
    old = http.client.HTTPSConnection("127.0.0.1", fx.api_port,
                                      context=client_tls_context(),
                                      timeout=30)
    old.request("GET", "/api/v1/status", headers=auth)
    assert old.getresponse().read()
    tls = fx.data_dir / "tls"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "2", "-subj", "/CN=renewed.example",
                    "-keyout", str(tls / "key.pem"),
                    "-out", str(tls / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    fx.proc.send_signal(signal.SIGHUP)
    fx.wait_log(r"event=https_reload result=ok")
    after = _api_cert(fx)
    assert after != before
    doc = Browser(fx).ok("GET", "/api/v1/status", headers=auth)
    assert "renewed.example" in doc["certificate"]["subject"]
    # The old connection finishes its business.
    old.request("GET", "/api/v1/status", headers=auth)
    assert old.getresponse().status == 200
    old.close()
    # A broken pair keeps the running certificate.
    (tls / "key.pem").write_text("not a key\n")
    fx.proc.send_signal(signal.SIGHUP)
    fx.wait_log(r"event=https_reload result=failed")
    assert _api_cert(fx) == after
    Browser(fx).ok("GET", "/api/v1/status", headers=auth)
