"""The admin JSON API over HTTPS (issue 6, first slice): bearer tokens
made by the CLI, domains, mailboxes and aliases through the API and then
used by real mail clients, every error status, the OpenAPI document and
the client setup values."""
import json
import poplib
import re
import sqlite3
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import HOSTNAME, client_tls_context, make_message

PROBLEM = "application/problem+json"


class API:
    """urllib over HTTPS against one daemon, with a default token."""

    def __init__(self, facteur, token):
        self.facteur = facteur
        self.token = token
        self.base = "https://127.0.0.1:%d" % facteur.api_port
        self.ctx = client_tls_context()

    def call(self, method, path, body=None, token=None, raw=None,
             content_type="application/json", auth=True):
        """Returns (status, headers, parsed JSON or None)."""
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method)
        if auth:
            req.add_header("Authorization",
                           "Bearer %s" % (token or self.token))
        if data is not None and content_type is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self.ctx,
                                        timeout=30) as r:
                status, headers, text = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, text = e.code, e.headers, e.read()
        doc = json.loads(text) if text else None
        return status, headers, doc

    def ok(self, method, path, body=None, status=200, **kw):
        st, _, doc = self.call(method, path, body, **kw)
        assert st == status, (method, path, st, doc)
        return doc

    def problem(self, method, path, body=None, status=400, code=None,
                **kw):
        st, headers, doc = self.call(method, path, body, **kw)
        assert st == status, (method, path, st, doc)
        assert headers["Content-Type"] == PROBLEM
        for key in ("type", "title", "status", "detail", "code"):
            assert key in doc, doc
        assert doc["status"] == status
        if code is not None:
            assert doc["code"] == code, doc
        return headers, doc


def make_token(facteur, name, scope="write", domains=()):
    args = []
    for d in domains:
        args += ["--domain", d]
    r = facteur.cli_ok("token", "create", name, "--scope", scope, *args)
    m = re.search(r"^secret: (fct_[0-9a-f]{64})$", r.stdout, re.M)
    assert m, r.stdout
    return m.group(1)


@pytest.fixture(scope="module")
def api(facteur):
    return API(facteur, make_token(facteur, "panel"))


@pytest.fixture(scope="module")
def reader(facteur):
    return make_token(facteur, "viewer", "read")


def send(facteur, rcpt, subject):
    with facteur.smtplib() as s:
        assert s.sendmail("sender@example.org", [rcpt],
                          make_message(subject)) == {}


def imap_subjects(facteur, user, password):
    m = facteur.imaplib()
    try:
        m.login(user, password)
        m.select("INBOX", readonly=True)
        typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        return [part[1].decode().strip()[len("Subject: "):]
                for part in data if isinstance(part, tuple)]
    finally:
        m.logout()


def pop3_subjects(facteur, user, password):
    p = facteur.poplib()
    try:
        p.user(user)
        p.pass_(password)
        count, _ = p.stat()
        subjects = []
        for i in range(1, count + 1):
            _, lines, _ = p.retr(i)
            for line in lines:
                if line.startswith(b"Subject: "):
                    subjects.append(line[9:].decode())
        p.quit()
        return subjects
    finally:
        p.close()


def test_token_cli(facteur, api):
    secret = make_token(facteur, "shortlived")
    api.ok("GET", "/api/v1/status", token=secret)
    r = facteur.cli_ok("token", "list")
    assert re.search(r"^shortlived\twrite\tactive", r.stdout, re.M)
    assert secret not in r.stdout
    # The same name cannot be used twice while active.
    assert facteur.cli("token", "create", "shortlived").returncode == 1
    facteur.cli_ok("token", "revoke", "shortlived")
    assert "shortlived\twrite\trevoked" in facteur.cli_ok(
        "token", "list").stdout
    api.problem("GET", "/api/v1/status", token=secret, status=401,
                code="unauthorized")
    assert facteur.cli("token", "create", "x", "--scope",
                       "admin").returncode == 2


def test_status(facteur, api):
    doc = api.ok("GET", "/api/v1/status")
    assert doc["version"]
    assert doc["uptime"] >= 0
    assert doc["counts"]["domains"] >= 1
    # The listeners as configured, for the panel's dashboard.
    byname = {l["name"]: l for l in doc["listeners"]}
    assert byname["imaps"] == {"name": "imaps", "address": "127.0.0.1",
                               "port": facteur.imaps_port,
                               "public_port": facteur.imaps_port,
                               "implicit_tls": True, "enabled": True}
    assert byname["smtp"]["implicit_tls"] is False
    assert len(byname) == 9
    # Storage of every mailbox: grows with a delivered message.
    before = doc["storage_used"]
    box = facteur.add_mailbox()
    c = facteur.connect()
    c.send_message("a@example.org", [box], b"Subject: x\r\n\r\n" +
                   b"y" * 5000 + b"\r\n").expect(250)
    c.close()
    assert api.ok("GET", "/api/v1/status")["storage_used"] >= before + 5000


def test_domain_mailbox_alias_life_cycle(facteur, api):
    dom = facteur.unique("api") + ".example"
    d = api.ok("POST", "/api/v1/domains", {"name": dom.upper()},
               status=201)
    assert d == {"name": dom, "enabled": True, "mailboxes": 0,
                 "aliases": 0, "created": d["created"],
                 "default_quota": 0, "max_mailboxes": 0}
    assert dom in [x["name"] for x in
                   api.ok("GET", "/api/v1/domains")["domains"]]
    # The DKIM key is made as by the CLI.
    assert (facteur.data_dir / "dkim").exists()

    box = "alice@" + dom
    m = api.ok("POST", "/api/v1/domains/%s/mailboxes" % dom,
               {"local_part": "Alice", "password": "first-pass-1",
                "quota": 10000000}, status=201)
    assert m["address"] == box and m["quota"] == 10000000
    assert m["enabled"] is True and m["last_login"] is None
    assert api.ok("GET", "/api/v1/mailboxes/" + box)["address"] == box
    assert [x["address"] for x in api.ok(
        "GET", "/api/v1/domains/%s/mailboxes" % dom)["mailboxes"]] == [box]

    # Mail arrives by SMTP and is read by IMAP and POP3 with the API
    # password.
    send(facteur, box, "api-direct")
    assert imap_subjects(facteur, box, "first-pass-1") == ["api-direct"]
    assert pop3_subjects(facteur, box, "first-pass-1") == ["api-direct"]

    # Alias: mail to it reaches the mailbox.
    a = api.ok("POST", "/api/v1/domains/%s/aliases" % dom,
               {"source": "sales", "destinations": [box.upper()]},
               status=201)
    assert a == {"source": "sales@" + dom, "destinations": [box]}
    assert api.ok("GET", "/api/v1/domains/%s/aliases" % dom)[
        "aliases"] == [a]
    send(facteur, "sales@" + dom, "api-alias")
    assert pop3_subjects(facteur, box, "first-pass-1") == [
        "api-direct", "api-alias"]

    # PATCH: new password, quota, disabled then enabled again.
    m = api.ok("PATCH", "/api/v1/mailboxes/" + box,
               {"password": "second-pass-2", "quota": 0,
                "enabled": False})
    assert m["quota"] == 0 and m["enabled"] is False
    m = api.ok("PATCH", "/api/v1/mailboxes/" + box, {"enabled": True})
    assert m["enabled"] is True
    assert pop3_subjects(facteur, box, "second-pass-2") == [
        "api-direct", "api-alias"]
    assert api.ok("GET", "/api/v1/mailboxes/" + box)["last_login"]

    # The domain is not empty: 409 not_empty, then the parts go.
    d = api.ok("GET", "/api/v1/domains/" + dom)
    assert d["mailboxes"] == 1 and d["aliases"] == 1
    api.problem("DELETE", "/api/v1/domains/" + dom, status=409,
                code="not_empty")
    api.ok("DELETE", "/api/v1/aliases/sales@" + dom, status=204)
    api.problem("DELETE", "/api/v1/aliases/sales@" + dom, status=404,
                code="not_found")
    api.ok("DELETE", "/api/v1/mailboxes/" + box, status=204)
    assert list((facteur.data_dir / "deleted" / dom).iterdir())
    api.problem("GET", "/api/v1/mailboxes/" + box, status=404,
                code="not_found")
    api.ok("DELETE", "/api/v1/domains/" + dom, status=204)
    api.problem("GET", "/api/v1/domains/" + dom, status=404,
                code="not_found")

    # Every change is in the audit log under the token's name.
    db = sqlite3.connect(str(facteur.data_dir / "facteur.db"))
    try:
        rows = db.execute("SELECT actor, remote, action FROM audit_log "
                          "WHERE target LIKE ?", ("%" + dom,)).fetchall()
    finally:
        db.close()
    actions = {r[2] for r in rows}
    assert {"domain.add", "mailbox.add", "alias.add", "alias.remove",
            "mailbox.remove", "domain.remove"} <= actions
    assert all(r[0] == "token:panel" and r[1] == "127.0.0.1"
               for r in rows), rows


def test_domain_force_delete(facteur, api):
    dom = facteur.unique("force") + ".example"
    api.ok("POST", "/api/v1/domains", {"name": dom}, status=201)
    api.ok("POST", "/api/v1/domains/%s/mailboxes" % dom,
           {"address": "x@" + dom, "password": "long-enough"}, status=201)
    api.problem("DELETE", "/api/v1/domains/%s?force=maybe" % dom,
                status=400, code="invalid_field")
    api.ok("DELETE", "/api/v1/domains/%s?force=true" % dom, status=204)
    api.problem("GET", "/api/v1/mailboxes/x@" + dom, status=404)


def test_prehashed_password_import(facteur, api):
    dom = facteur.unique("hash") + ".example"
    api.ok("POST", "/api/v1/domains", {"name": dom}, status=201)
    h = subprocess.run(["openssl", "passwd", "-6", "imported-secret"],
                       capture_output=True, text=True,
                       check=True).stdout.strip()
    assert h.startswith("$6$")
    box = "old@" + dom
    api.ok("POST", "/api/v1/domains/%s/mailboxes" % dom,
           {"address": box, "password_hash": "{SHA512-CRYPT}" + h},
           status=201)
    send(facteur, box, "imported")
    assert pop3_subjects(facteur, box, "imported-secret") == ["imported"]
    _, doc = api.problem("POST", "/api/v1/domains/%s/mailboxes" % dom,
                         {"address": "bad@" + dom,
                          "password_hash": "plain"}, code="invalid_field")
    assert doc["field"] == "password_hash"


def test_domain_restricted_token(facteur, api):
    mine = facteur.unique("mine") + ".example"
    theirs = facteur.unique("theirs") + ".example"
    for d in (mine, theirs):
        api.ok("POST", "/api/v1/domains", {"name": d}, status=201)
    api.ok("POST", "/api/v1/domains/%s/mailboxes" % theirs,
           {"local_part": "x", "password": "their-password"}, status=201)
    api.ok("POST", "/api/v1/domains/%s/aliases" % theirs,
           {"source": "y", "destinations": ["x@" + theirs]}, status=201)
    # An unknown domain is refused at creation.
    assert facteur.cli("token", "create", "nodom", "--domain",
                       "absent.example").returncode != 0
    secret = make_token(facteur, "scoped", domains=[mine.upper()])
    listing = facteur.cli_ok("token", "list").stdout
    assert re.search(r"^scoped	write	active	expires=never	domains=%s$"
                     % re.escape(mine), listing, re.M), listing
    assert re.search(r"^panel	.*	domains=all$", listing, re.M), listing

    # Its own domain works.
    doc = api.ok("GET", "/api/v1/domains", token=secret)
    assert [d["name"] for d in doc["domains"]] == [mine]
    api.ok("GET", "/api/v1/domains/" + mine, token=secret)
    api.ok("POST", "/api/v1/domains/%s/mailboxes" % mine,
           {"local_part": "m", "password": "my-password"}, status=201,
           token=secret)
    api.ok("PUT", "/api/v1/mailboxes/n@" + mine,
           {"password": "my-password"}, status=201, token=secret)
    api.ok("POST", "/api/v1/domains/%s/aliases" % mine,
           {"source": "a", "destinations": ["m@" + mine]}, status=201,
           token=secret)
    api.ok("GET", "/api/v1/mailboxes/m@" + mine, token=secret)
    api.ok("DELETE", "/api/v1/aliases/a@" + mine, status=204, token=secret)
    api.ok("DELETE", "/api/v1/mailboxes/n@" + mine, status=204,
           token=secret)

    # Another domain, its mailbox and its alias do not exist for it.
    for method, path, body in (
            ("GET", "/api/v1/domains/" + theirs, None),
            ("DELETE", "/api/v1/domains/%s?force=true" % theirs, None),
            ("GET", "/api/v1/domains/%s/mailboxes" % theirs, None),
            ("POST", "/api/v1/domains/%s/mailboxes" % theirs,
             {"local_part": "z", "password": "long-enough"}),
            ("GET", "/api/v1/domains/%s/aliases" % theirs, None),
            ("GET", "/api/v1/mailboxes/x@" + theirs, None),
            ("PATCH", "/api/v1/mailboxes/x@" + theirs, {"quota": 1}),
            ("PUT", "/api/v1/mailboxes/x@" + theirs,
             {"password": "taken-over!"}),
            ("DELETE", "/api/v1/mailboxes/x@" + theirs, None),
            ("GET", "/api/v1/mailboxes/x@%s/client-setup" % theirs, None),
            ("DELETE", "/api/v1/aliases/y@" + theirs, None)):
        _, doc = api.problem(method, path, body, status=404,
                             code="not_found", token=secret)
        assert theirs not in json.dumps(doc), doc
    # It cannot add domains.
    api.problem("POST", "/api/v1/domains", {"name": "new-" + mine},
                status=403, code="forbidden", token=secret)
    # Nothing of theirs changed.
    assert api.ok("GET", "/api/v1/mailboxes/x@" + theirs)["quota"] == 0
    assert [a["source"] for a in api.ok(
        "GET", "/api/v1/domains/%s/aliases" % theirs)["aliases"]] == \
        ["y@" + theirs]
    assert pop3_subjects(facteur, "x@" + theirs, "their-password") == []
    # Status counts stay global.
    api.ok("GET", "/api/v1/status", token=secret)


def test_mailbox_put(facteur, api):
    dom = facteur.unique("put") + ".example"
    addr = "prov@" + dom
    api.ok("POST", "/api/v1/domains", {"name": dom}, status=201)
    doc = api.ok("PUT", "/api/v1/mailboxes/" + addr,
                 {"password": "first-password", "quota": 1000000},
                 status=201)
    assert doc["address"] == addr and doc["quota"] == 1000000
    doc = api.ok("PUT", "/api/v1/mailboxes/" + addr,
                 {"password": "second-password", "enabled": True},
                 status=200)
    assert doc["quota"] == 1000000 and doc["enabled"] is True
    # Same validation as POST and PATCH.
    api.problem("PUT", "/api/v1/mailboxes/" + addr, {"password": "short"},
                status=400, code="invalid_field")
    api.problem("PUT", "/api/v1/mailboxes/" + addr,
                {"password": "long-enough", "password_hash": "x"},
                status=400, code="invalid_field")
    api.problem("PUT", "/api/v1/mailboxes/" + addr, {"local_part": "x"},
                status=400, code="unknown_field")
    api.problem("PUT", "/api/v1/mailboxes/new@" + dom, {"quota": 1},
                status=400, code="invalid_field")
    # The second password is the one that works, over POP3 on 995.
    ctx = client_tls_context()
    p = poplib.POP3_SSL("127.0.0.1", facteur.pop3s_port, context=ctx,
                        timeout=30)
    try:
        p.user(addr)
        p.pass_("second-password")
        assert p.stat()[0] == 0
        p.quit()
    finally:
        p.close()
    p = poplib.POP3_SSL("127.0.0.1", facteur.pop3s_port, context=ctx,
                        timeout=30)
    try:
        p.user(addr)
        with pytest.raises(poplib.error_proto):
            p.pass_("first-password")
    finally:
        p.close()


def test_errors(facteur, api, reader):
    base = "/api/v1/domains/example.com/mailboxes"
    # 400, naming the field
    _, doc = api.problem("POST", base, {"local_part": "shorty",
                                        "password": "short"},
                         code="invalid_field")
    assert doc["field"] == "password" and "password" in doc["detail"]
    _, doc = api.problem("POST", base, {"local_part": "q",
                                        "password": "long-enough",
                                        "quota": "big"},
                         code="invalid_field")
    assert doc["field"] == "quota"
    _, doc = api.problem("POST", base, {"local_part": "u",
                                        "password": "long-enough",
                                        "colour": "blue"},
                         code="unknown_field")
    assert doc["field"] == "colour" and "colour" in doc["detail"]
    _, doc = api.problem("POST", "/api/v1/domains", {"name": "not a name"},
                         code="invalid_field")
    assert doc["field"] == "name"
    _, doc = api.problem("POST", base, {"address": "z@elsewhere.example",
                                        "password": "long-enough"},
                         code="invalid_field")
    assert doc["field"] == "address"
    api.problem("POST", "/api/v1/domains", raw=b"{not json",
                code="invalid_json")
    api.problem("POST", "/api/v1/domains", raw=b"[1]", code="invalid_json")
    # 401: no token, a malformed one, an unknown one
    h, _ = api.problem("GET", "/api/v1/domains", auth=False, status=401,
                       code="unauthorized")
    assert h["WWW-Authenticate"].startswith("Bearer")
    api.problem("GET", "/api/v1/domains", token="nope", status=401)
    api.problem("GET", "/api/v1/domains", token="fct_" + "0" * 64,
                status=401)
    # 403: a read token may read, not write
    api.ok("GET", "/api/v1/domains", token=reader)
    api.problem("POST", "/api/v1/domains", {"name": "ro.example"},
                token=reader, status=403, code="forbidden")
    api.problem("DELETE", "/api/v1/domains/example.com", token=reader,
                status=403, code="forbidden")
    # 404: unknown path, unknown resources
    api.problem("GET", "/api/v1/nothing", status=404, code="not_found")
    api.problem("GET", "/api/v1/domains/", status=404, code="not_found")
    api.problem("GET", "/api/v1/domains/absent.example", status=404,
                code="not_found")
    api.problem("POST", "/api/v1/domains/absent.example/mailboxes",
                {"local_part": "a", "password": "long-enough"},
                status=404, code="not_found")
    # 405 with Allow
    h, _ = api.problem("PUT", "/api/v1/domains", {"name": "x.example"},
                       status=405, code="method_not_allowed")
    assert set(h["Allow"].split(", ")) == {"GET", "POST"}
    # 409 exists
    api.problem("POST", "/api/v1/domains", {"name": "example.com"},
                status=409, code="exists")
    box = api.ok("POST", base, {"local_part": "twice",
                                "password": "long-enough"},
                 status=201)["address"]
    api.problem("POST", base, {"address": box, "password": "long-enough"},
                status=409, code="exists")
    # 413: a body over 1 MiB
    big = b'{"name": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    api.problem("POST", "/api/v1/domains", raw=big, status=413,
                code="payload_too_large")
    # 415: a body that is not JSON
    api.problem("POST", "/api/v1/domains", raw=b"name=x.example",
                content_type="application/x-www-form-urlencoded",
                status=415, code="unsupported_media_type")
    # Still alive and serving.
    api.ok("GET", "/api/v1/status")


def test_curl(facteur, api):
    r = subprocess.run(
        ["curl", "-sk", "--max-time", "20", "-H",
         "Authorization: Bearer " + api.token,
         "https://127.0.0.1:%d/api/v1/domains" % facteur.api_port],
        capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "example.com" in [d["name"] for d in
                             json.loads(r.stdout)["domains"]]
    r = subprocess.run(
        ["curl", "-sk", "--max-time", "20", "-o", "/dev/null", "-w",
         "%{http_code}", "-X", "DELETE", "-H",
         "Authorization: Bearer " + api.token,
         "https://127.0.0.1:%d/api/v1/mailboxes/none@example.com" %
         facteur.api_port], capture_output=True, text=True, timeout=30)
    assert r.stdout == "404"


def test_openapi_names_every_route(api):
    st, headers, doc = api.call("GET", "/api/openapi.json", auth=False)
    assert st == 200 and headers["Content-Type"] == "application/json"
    assert doc["openapi"].startswith("3.1")
    ops = [(m.upper(), p) for p, item in doc["paths"].items()
           for m in item]
    # Every documented route is answered (not an unknown path or method).
    for method, path in ops:
        concrete = re.sub(r"\{[^}]+\}", "nobody@absent.example", path)
        body = {} if method in ("POST", "PATCH", "PUT") else None
        st, _, res = api.call(method, concrete, body)
        assert st != 405, (method, path, res)
        assert not (st == 404 and res["detail"] == "no such resource"), \
            (method, path)
        op = doc["paths"][path][method.lower()]
        assert op["summary"]
        for name in re.findall(r"\{([^}]+)\}", path):
            assert name in [p["name"] for p in op.get("parameters", [])]
    # Every route these tests use is documented.
    used = {("GET", "/api/v1/status"), ("GET", "/api/v1/domains"),
            ("POST", "/api/v1/domains"), ("GET", "/api/v1/domains/{name}"),
            ("DELETE", "/api/v1/domains/{name}"),
            ("GET", "/api/v1/domains/{name}/mailboxes"),
            ("POST", "/api/v1/domains/{name}/mailboxes"),
            ("GET", "/api/v1/domains/{name}/aliases"),
            ("POST", "/api/v1/domains/{name}/aliases"),
            ("GET", "/api/v1/mailboxes/{address}"),
            ("PATCH", "/api/v1/mailboxes/{address}"),
            ("PUT", "/api/v1/mailboxes/{address}"),
            ("DELETE", "/api/v1/mailboxes/{address}"),
            ("GET", "/api/v1/mailboxes/{address}/client-setup"),
            ("GET", "/api/v1/mailboxes/{address}/mobileconfig"),
            ("DELETE", "/api/v1/aliases/{source}"),
            ("GET", "/api/openapi.json"),
            # sessions, self service
            ("POST", "/api/v1/session"), ("GET", "/api/v1/session"),
            ("DELETE", "/api/v1/session"),
            ("PUT", "/api/v1/self/password"),
            # domains, aliases
            ("PATCH", "/api/v1/domains/{name}"),
            ("GET", "/api/v1/domains/{name}/dns"),
            ("GET", "/api/v1/aliases/{source}"),
            ("PUT", "/api/v1/aliases/{source}"),
            ("PATCH", "/api/v1/aliases/{source}"),
            # queue, admins, tokens, audit
            ("GET", "/api/v1/queue"), ("GET", "/api/v1/queue/{id}"),
            ("POST", "/api/v1/queue/{id}/retry"),
            ("DELETE", "/api/v1/queue/{id}"),
            ("GET", "/api/v1/admins"), ("POST", "/api/v1/admins"),
            ("DELETE", "/api/v1/admins/{name}"),
            ("PUT", "/api/v1/admins/{name}/password"),
            ("GET", "/api/v1/tokens"), ("POST", "/api/v1/tokens"),
            ("DELETE", "/api/v1/tokens/{name}"),
            ("GET", "/api/v1/audit")}
    assert used == set(ops)
    # Query parameters are documented.
    names = lambda m, p: [x["name"] for x in doc["paths"][p][m].get(
        "parameters", []) if x["in"] == "query"]
    assert names("get", "/api/v1/domains/{name}/mailboxes") == [
        "limit", "cursor", "q"]
    assert names("delete", "/api/v1/domains/{name}") == ["force"]
    assert names("get", "/api/v1/domains/{name}/dns") == ["format"]
    assert doc["components"]["securitySchemes"]["session"]["in"] == \
        "cookie"
    assert doc["paths"]["/api/v1/session"]["get"]["security"] == [
        {"session": []}]


def test_client_setup_matches_config(facteur, api):
    box = facteur.add_mailbox()
    doc = api.ok("GET", "/api/v1/mailboxes/%s/client-setup" % box)
    off = facteur.port_offset
    assert doc["user"] == box
    assert doc["incoming"] == [
        {"protocol": "imap", "host": HOSTNAME, "port": 993 + off,
         "security": "ssl/tls", "preferred": True},
        {"protocol": "imap", "host": HOSTNAME, "port": 143 + off,
         "security": "starttls", "preferred": False},
        {"protocol": "pop3", "host": HOSTNAME, "port": 995 + off,
         "security": "ssl/tls", "preferred": False},
        {"protocol": "pop3", "host": HOSTNAME, "port": 110 + off,
         "security": "starttls", "preferred": False}]
    assert doc["outgoing"] == [
        {"protocol": "smtp", "host": HOSTNAME, "port": 465 + off,
         "security": "ssl/tls", "preferred": True},
        {"protocol": "smtp", "host": HOSTNAME, "port": 587 + off,
         "security": "starttls", "preferred": False}]
    # Where clients configure themselves (section 9 of the
    # autoconfiguration notes), with the address encoded.
    assert doc["autoconfig_url"] == (
        "https://autoconfig.example.com:%d/mail/config-v1.1.xml"
        "?emailaddress=%s" % (facteur.api_port, box.replace("@", "%40")))
    assert doc["mobileconfig_url"] == (
        "https://%s:%d/api/v1/mailboxes/%s/mobileconfig" % (
            HOSTNAME, facteur.api_port, box))


def test_client_setup_public_ports(facteur_factory):
    fx = facteur_factory(sections={"pop3s": {"public_port": "995"},
                                   "submissions": {"public_port": "465"},
                                   "pop3": {"enabled": "no"},
                                   "imap": {"enabled": "no"},
                                   "imaps": {"enabled": "no"}})
    a = API(fx, make_token(fx, "t"))
    box = fx.add_mailbox()
    doc = a.ok("GET", "/api/v1/mailboxes/%s/client-setup" % box)
    assert [(e["port"], e["security"], e["preferred"])
            for e in doc["incoming"]] == [(995, "ssl/tls", True)]
    assert [(e["port"], e["security"]) for e in doc["outgoing"]] == [
        (465, "ssl/tls"), (587 + fx.port_offset, "starttls")]
