"""The admin API's management side (issue 6, second slice): paginated
lists, domain settings and limits, DNS records to publish, the queue,
admins and tokens, the audit log, the status page, and removed
mailboxes kept then purged."""
import re
import smtplib
import socket
import subprocess
import time

import pytest
from dnslib import RCODE
from dnslib.server import BaseResolver, DNSServer

from conftest import HOSTNAME, make_message
from test_api import API, make_token

PASSWORD = "long enough 12"


@pytest.fixture(scope="module")
def api(facteur):
    return API(facteur, make_token(facteur, "panel"))


@pytest.fixture(scope="module")
def crypt_hash():
    """A pre-hashed password, so that many mailboxes are quick to add."""
    h = subprocess.run(["openssl", "passwd", "-6", PASSWORD],
                       capture_output=True, text=True,
                       check=True).stdout.strip()
    return h


def _walk(api, path, key, limit, extra=""):
    """Every item of a paginated list, and the number of pages."""
    items, cursor, pages = [], None, 0
    while True:
        q = "?limit=%d%s" % (limit, extra)
        if cursor:
            q += "&cursor=" + cursor
        doc = api.ok("GET", path + q)
        pages += 1
        assert len(doc[key]) <= limit
        items += doc[key]
        cursor = doc["next_cursor"]
        if cursor is None:
            return items, pages
        assert len(doc[key]) == limit


def test_pagination(facteur, api, crypt_hash):
    dom = facteur.unique("page") + ".example"
    api.ok("POST", "/api/v1/domains", {"name": dom}, status=201)
    made = []
    for i in range(23):
        local = "user%02d" % i
        api.ok("POST", "/api/v1/domains/%s/mailboxes" % dom,
               {"local_part": local, "password_hash": crypt_hash},
               status=201)
        made.append("%s@%s" % (local, dom))
    path = "/api/v1/domains/%s/mailboxes" % dom
    items, pages = _walk(api, path, "mailboxes", 7)
    assert [m["address"] for m in items] == sorted(made) and pages == 4
    # Default limit 100: one page; the envelope is stable.
    doc = api.ok("GET", path)
    assert len(doc["mailboxes"]) == 23 and doc["next_cursor"] is None
    # q: substring of the address.
    items, _ = _walk(api, path, "mailboxes", 2, "&q=USER1")
    assert [m["address"] for m in items] == [
        "user%02d@%s" % (i, dom) for i in range(10, 20)]
    # Bad arguments.
    for q, field in (("?limit=0", "limit"), ("?limit=1001", "limit"),
                     ("?limit=x", "limit"), ("?cursor=zz", "cursor"),
                     ("?cursor=abc", "cursor")):
        _, doc = api.problem("GET", path + q, status=400,
                             code="invalid_field")
        assert doc["field"] == field
    # Aliases and domains page the same way.
    for i in range(5):
        api.ok("POST", "/api/v1/domains/%s/aliases" % dom,
               {"source": "al%d" % i, "destinations": [made[0]]},
               status=201)
    items, pages = _walk(api, "/api/v1/domains/%s/aliases" % dom,
                         "aliases", 2)
    assert [a["source"] for a in items] == [
        "al%d@%s" % (i, dom) for i in range(5)] and pages == 3
    names, _ = _walk(api, "/api/v1/domains", "domains", 1)
    names = [d["name"] for d in names]
    assert names == sorted(names) and dom in names
    assert [d["name"] for d in api.ok(
        "GET", "/api/v1/domains?q=" + dom)["domains"]] == [dom]


def test_domain_update_limits_and_usage(facteur, api):
    dom = facteur.unique("lim") + ".example"
    api.ok("POST", "/api/v1/domains", {"name": dom}, status=201)
    d = api.ok("PATCH", "/api/v1/domains/" + dom,
               {"default_quota": 5000000, "max_mailboxes": 2})
    assert d["default_quota"] == 5000000 and d["max_mailboxes"] == 2
    api.problem("PATCH", "/api/v1/domains/" + dom, {"max_mailboxes": -1},
                status=400, code="invalid_field")
    api.problem("PATCH", "/api/v1/domains/" + dom, {"quota": 1},
                status=400, code="unknown_field")
    a = api.ok("POST", "/api/v1/domains/%s/mailboxes" % dom,
               {"local_part": "a", "password": PASSWORD}, status=201)
    assert a["quota"] == 5000000
    b = api.ok("POST", "/api/v1/domains/%s/mailboxes" % dom,
               {"local_part": "b", "password": PASSWORD, "quota": 7},
               status=201)
    assert b["quota"] == 7
    api.problem("POST", "/api/v1/domains/%s/mailboxes" % dom,
                {"local_part": "c", "password": PASSWORD}, status=409,
                code="limit_reached")
    # Storage: a delivered message counts for the mailbox and domain.
    with facteur.smtplib() as s:
        s.sendmail("x@example.org", [a["address"]], make_message("usage"))
    m = api.ok("GET", "/api/v1/mailboxes/" + a["address"])
    assert m["storage_used"] > 100 and m["quota"] == 5000000
    d = api.ok("GET", "/api/v1/domains/" + dom)
    assert d["storage_used"] == m["storage_used"]
    assert d["mailboxes"] == 2
    # Disabled: mail is refused.
    api.ok("PATCH", "/api/v1/domains/" + dom, {"enabled": False})
    with facteur.smtplib() as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            s.sendmail("x@example.org", [a["address"]],
                       make_message("refused"))
    assert api.ok("GET", "/api/v1/domains/" + dom)["enabled"] is False
    # Not empty: 409 unless forced.
    api.problem("DELETE", "/api/v1/domains/" + dom, status=409,
                code="not_empty")
    api.ok("DELETE", "/api/v1/domains/%s?force=true" % dom, status=204)


def test_alias_update(facteur, api):
    dom = facteur.unique("alu") + ".example"
    api.ok("POST", "/api/v1/domains", {"name": dom}, status=201)
    api.ok("POST", "/api/v1/domains/%s/aliases" % dom,
           {"source": "team", "destinations": ["a@" + dom]}, status=201)
    doc = api.ok("PUT", "/api/v1/aliases/team@" + dom,
                 {"destinations": ["B@" + dom, "c@elsewhere.example"]})
    assert doc == {"source": "team@" + dom,
                   "destinations": ["b@" + dom, "c@elsewhere.example"]}
    doc = api.ok("PATCH", "/api/v1/aliases/team@" + dom,
                 {"destinations": ["d@" + dom]})
    assert doc["destinations"] == ["d@" + dom]
    assert api.ok("GET", "/api/v1/aliases/team@" + dom) == doc
    # The catch-all too.
    api.ok("POST", "/api/v1/domains/%s/aliases" % dom,
           {"source": "@", "destinations": ["d@" + dom]}, status=201)
    doc = api.ok("PUT", "/api/v1/aliases/@" + dom,
                 {"destinations": ["e@" + dom]})
    assert doc == {"source": "@" + dom, "destinations": ["e@" + dom]}
    api.problem("PUT", "/api/v1/aliases/none@" + dom,
                {"destinations": ["e@" + dom]}, status=404,
                code="not_found")
    _, p = api.problem("PUT", "/api/v1/aliases/team@" + dom,
                       {"destinations": []}, status=400)
    assert p["field"] == "destinations"
    _, p = api.problem("PUT", "/api/v1/aliases/team@" + dom,
                       {"destinations": ["not an address"]}, status=400)
    assert p["field"] == "destinations"
    # The CLI shares it.
    facteur.cli_ok("alias", "set", "team@" + dom, "f@%s,g@%s" % (dom, dom))
    assert api.ok("GET", "/api/v1/aliases/team@" + dom)[
        "destinations"] == ["f@" + dom, "g@" + dom]


def test_dns_records(facteur, api):
    off = facteur.port_offset
    doc = api.ok("GET", "/api/v1/domains/example.com/dns")
    assert doc["domain"] == "example.com" and "warning" not in doc
    recs = doc["records"]
    by = {}
    for r in recs:
        by.setdefault(r["purpose"], []).append(r)
    host = HOSTNAME + "."
    assert by["mx"] == [{"purpose": "mx", "name": "example.com.",
                         "type": "MX", "ttl": 3600, "priority": 10,
                         "target": host}]
    assert by["spf"][0]["value"] == "v=spf1 mx -all"
    dkim = by["dkim"][0]
    assert dkim["name"] == "facteur._domainkey.example.com."
    assert dkim["value"].startswith("v=DKIM1; k=rsa; p=")
    assert len(dkim["value"]) > 255
    assert all(len(s) <= 255 for s in dkim["strings"])
    assert "".join(dkim["strings"]) == dkim["value"]
    assert len(dkim["strings"]) == 2
    # The same record as `facteur domain dkim` prints.
    cli = facteur.cli_ok("domain", "dkim", "example.com").stdout
    assert re.findall(r'"([^"]*)"', cli) == dkim["strings"]
    assert by["dmarc"][0]["name"] == "_dmarc.example.com."
    assert by["dmarc"][0]["value"].startswith("v=DMARC1; p=quarantine")
    assert {(r["name"], r["target"]) for r in by["autoconfig"] +
            by["autodiscover"] if r["type"] == "CNAME"} == {
                ("autoconfig.example.com.", host),
                ("autodiscover.example.com.", host)}
    srv = {r["name"].split(".example.com")[0]: r for r in by["srv"]}
    assert (srv["_submissions._tcp"]["port"], srv["_submissions._tcp"][
        "priority"]) == (465 + off, 0)
    assert (srv["_submission._tcp"]["port"], srv["_submission._tcp"][
        "priority"]) == (587 + off, 10)
    assert srv["_pop3s._tcp"]["port"] == 995 + off
    assert srv["_pop3._tcp"]["port"] == 110 + off
    assert srv["_pop3s._tcp"]["priority"] < srv["_pop3._tcp"]["priority"]
    assert (srv["_imaps._tcp"]["port"], srv["_imap._tcp"]["port"]) == (
        993 + off, 143 + off)
    assert srv["_imaps._tcp"]["priority"] < srv["_imap._tcp"]["priority"]
    assert all(srv[k]["target"] == host for k in (
        "_submissions._tcp", "_submission._tcp", "_imaps._tcp",
        "_imap._tcp", "_pop3s._tcp", "_pop3._tcp"))
    # The client setup uses the same ports, IMAP over implicit TLS first.
    box = facteur.add_mailbox()
    setup = api.ok("GET", "/api/v1/mailboxes/%s/client-setup" % box)
    assert [e["port"] for e in setup["outgoing"]] == [465 + off, 587 + off]
    assert [e["port"] for e in setup["incoming"]] == [
        993 + off, 143 + off, 995 + off, 110 + off]

    api.problem("GET", "/api/v1/domains/example.com/dns?format=xml",
                status=400, code="invalid_field")
    api.problem("GET", "/api/v1/domains/absent.example/dns", status=404)


def test_dns_zone_text(facteur, api):
    import urllib.request
    req = urllib.request.Request(
        api.base + "/api/v1/domains/example.com/dns?format=zone",
        headers={"Authorization": "Bearer " + api.token})
    with urllib.request.urlopen(req, context=api.ctx, timeout=30) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    off = facteur.port_offset
    lines = text.splitlines()
    assert "example.com.\t3600\tIN\tMX\t10 %s." % HOSTNAME in lines
    assert ("_submissions._tcp.example.com.\t3600\tIN\tSRV\t0 1 %d %s."
            % (465 + off, HOSTNAME)) in lines
    assert ("_imaps._tcp.example.com.\t3600\tIN\tSRV\t0 1 %d %s."
            % (993 + off, HOSTNAME)) in lines
    dkim = [x for x in lines if x.startswith("facteur._domainkey.")][0]
    parts = re.findall(r'"([^"]*)"', dkim)
    assert len(parts) == 2 and all(len(p) <= 255 for p in parts)
    assert re.search(r'\tTXT\t\( "v=DKIM1; k=rsa; p=[^"]+" "[^"]+" \)$',
                     dkim)


class _ServFail(BaseResolver):
    def resolve(self, request, handler):
        reply = request.reply()
        reply.header.rcode = RCODE.SERVFAIL
        return reply


@pytest.fixture
def queued(facteur_factory, request):
    """A daemon whose outbound deliveries fail for a while (the DNS
    answers SERVFAIL), and a message waiting in its queue."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    dns = DNSServer(_ServFail(), address="127.0.0.1", port=port)
    dns.start_thread()
    request.addfinalizer(dns.stop)
    fx = facteur_factory(settings={"resolver": "127.0.0.1@%d" % port,
                                   "queue_retry_initial": "3600"})
    box = fx.add_mailbox()
    fx.cli_ok("alias", "add", "fwd@example.com",
              "%s,someone@remote.test" % box)
    with fx.smtplib() as s:
        s.sendmail("x@example.org", ["fwd@example.com"],
                   make_message("queued"))
    a = API(fx, make_token(fx, "q"))
    deadline = time.monotonic() + 20
    while True:
        msgs = a.ok("GET", "/api/v1/queue")["messages"]
        if msgs and msgs[0]["recipients"][0]["attempts"] >= 1:
            return fx, a, msgs[0]
        assert time.monotonic() < deadline, msgs
        time.sleep(0.2)


def test_queue_endpoints(queued):
    fx, a, msg = queued
    assert re.fullmatch(r"[0-9a-f]+", msg["id"])
    r = msg["recipients"][0]
    assert r["recipient"] == "someone@remote.test"
    assert r["status"] == "pending" and r["last_error"]
    assert r["next_attempt"] > time.time() + 600
    doc = a.ok("GET", "/api/v1/queue/" + msg["id"])
    assert doc["id"] == msg["id"] and doc["sender"] == "x@example.org"
    # The CLI sees the same.
    assert msg["id"] in fx.cli_ok("queue", "list").stdout
    a.ok("POST", "/api/v1/queue/%s/retry" % msg["id"], status=204)
    deadline = time.monotonic() + 20
    while a.ok("GET", "/api/v1/queue/" + msg["id"])["recipients"][0][
            "attempts"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    a.ok("DELETE", "/api/v1/queue/" + msg["id"], status=204)
    a.problem("GET", "/api/v1/queue/" + msg["id"], status=404,
              code="not_found")
    a.problem("DELETE", "/api/v1/queue/" + msg["id"], status=404)
    a.problem("POST", "/api/v1/queue/nothex/retry", status=404)
    assert a.ok("GET", "/api/v1/queue")["messages"] == []
    assert not list((fx.data_dir / "queue").glob(msg["id"] + "*"))
    actions = [e["action"] for e in a.ok(
        "GET", "/api/v1/audit?actor=token:q")["entries"]]
    assert actions[:2] == ["queue.delete", "queue.retry"]


def test_admins_and_tokens(facteur, api):
    first = facteur.unique("adm")
    doc = api.ok("POST", "/api/v1/admins",
                 {"name": first, "password": PASSWORD}, status=201)
    assert doc["name"] == first and doc["last_login"] is None
    assert first in [x["name"] for x in
                     api.ok("GET", "/api/v1/admins")["admins"]]
    api.problem("POST", "/api/v1/admins", {"name": first,
                                           "password": PASSWORD},
                status=409, code="exists")
    api.problem("POST", "/api/v1/admins", {"name": "x y",
                                           "password": PASSWORD},
                status=400, code="invalid_field")
    api.ok("PUT", "/api/v1/admins/%s/password" % first,
           {"password": "another one 12"}, status=204)
    api.problem("PUT", "/api/v1/admins/nobody-here/password",
                {"password": "another one 12"}, status=404)
    api.ok("DELETE", "/api/v1/admins/" + first, status=204)
    api.problem("DELETE", "/api/v1/admins/" + first, status=404)

    # Tokens: the secret comes once, the list never shows it.
    doc = api.ok("POST", "/api/v1/tokens",
                 {"name": "made-by-api", "scope": "read",
                  "expires_days": 2, "domains": ["example.com"]},
                 status=201)
    secret = doc["secret"]
    assert re.fullmatch(r"fct_[0-9a-f]{64}", secret)
    assert doc["scope"] == "read" and doc["domains"] == ["example.com"]
    assert doc["expires"] > time.time() + 86400
    listed = api.ok("GET", "/api/v1/tokens")["tokens"]
    assert secret not in str(listed)
    assert "made-by-api" in [t["name"] for t in listed]
    api.ok("GET", "/api/v1/domains/example.com", token=secret)
    # Only admins manage admins, tokens, the queue and the audit log.
    write_scoped = make_token(facteur, "scoped-w", domains=["example.com"])
    for tok in (secret, write_scoped):
        for method, path, body in (
                ("GET", "/api/v1/admins", None),
                ("POST", "/api/v1/admins", {"name": "z",
                                            "password": PASSWORD}),
                ("GET", "/api/v1/tokens", None),
                ("POST", "/api/v1/tokens", {"name": "z"}),
                ("DELETE", "/api/v1/tokens/panel", None),
                ("GET", "/api/v1/queue", None),
                ("GET", "/api/v1/audit", None)):
            api.problem(method, path, body, status=403, code="forbidden",
                        token=tok)
    api.problem("POST", "/api/v1/tokens", {"name": "bad",
                                           "domains": ["absent.example"]},
                status=400, code="invalid_field")
    api.problem("POST", "/api/v1/tokens", {"name": "bad",
                                           "scope": "admin"},
                status=400, code="invalid_field")
    api.ok("DELETE", "/api/v1/tokens/made-by-api", status=204)
    api.problem("GET", "/api/v1/domains", token=secret, status=401)
    api.problem("DELETE", "/api/v1/tokens/made-by-api", status=404)


def test_last_admin(facteur_factory):
    fx = facteur_factory(domain=False)
    a = API(fx, make_token(fx, "t"))
    # The first start made "admin"; add one, remove the first.
    a.ok("POST", "/api/v1/admins", {"name": "second",
                                    "password": PASSWORD}, status=201)
    a.ok("DELETE", "/api/v1/admins/admin", status=204)
    _, doc = a.problem("DELETE", "/api/v1/admins/second", status=409,
                       code="last_admin")
    r = fx.cli("admin", "remove", "second")
    assert r.returncode == 1 and "last admin" in r.stderr, r.stderr
    assert [x["name"] for x in a.ok("GET", "/api/v1/admins")[
        "admins"]] == ["second"]


def test_audit(facteur, api):
    dom = facteur.unique("aud") + ".example"
    facteur.cli_ok("domain", "add", dom)
    api.ok("POST", "/api/v1/domains/%s/mailboxes" % dom,
           {"local_part": "x", "password": PASSWORD}, status=201)
    doc = api.ok("GET", "/api/v1/audit?domain=" + dom)
    entries = doc["entries"]
    assert [(e["action"], e["target"], e["actor"], e["from"])
            for e in entries] == [
        ("mailbox.add", "x@" + dom, "token:panel", "127.0.0.1"),
        ("domain.add", dom, entries[1]["actor"], "cli")]
    assert entries[1]["actor"].startswith("cli:")
    assert entries[0]["id"] > entries[1]["id"]
    assert entries[0]["time"] >= entries[1]["time"]
    # Newest first over pages; filters by actor.
    all_entries, cursor = [], None
    while True:
        q = "?limit=3" + ("&cursor=" + cursor if cursor else "")
        page = api.ok("GET", "/api/v1/audit" + q)
        all_entries += page["entries"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = [e["id"] for e in all_entries]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    mine = api.ok("GET", "/api/v1/audit?actor=token:panel&limit=1000")
    assert mine["entries"] and all(e["actor"] == "token:panel"
                                   for e in mine["entries"])
    api.problem("GET", "/api/v1/audit?cursor=zz", status=400)


def test_status(facteur, api):
    doc = api.ok("GET", "/api/v1/status")
    c = doc["counts"]
    for key in ("domains", "mailboxes", "aliases", "admins", "tokens",
                "sessions", "queue_messages", "queue_recipients"):
        assert isinstance(c[key], int), key
    assert c["tokens"] >= 1 and c["admins"] >= 1
    cert = doc["certificate"]
    assert HOSTNAME in cert["subject"]
    assert cert["not_after"] > time.time() and cert["days_left"] > 30


def test_mailbox_delete_and_purge(facteur, api):
    dom = facteur.unique("del") + ".example"
    api.ok("POST", "/api/v1/domains", {"name": dom}, status=201)
    addr = "gone@" + dom
    api.ok("POST", "/api/v1/domains/%s/mailboxes" % dom,
           {"address": addr, "password": PASSWORD}, status=201)
    with facteur.smtplib() as s:
        s.sendmail("x@example.org", [addr], make_message("keep me"))
    api.ok("DELETE", "/api/v1/mailboxes/" + addr, status=204)
    kept = list((facteur.data_dir / "deleted" / dom).iterdir())
    assert len(kept) == 1
    assert re.fullmatch(r"gone-\d{8}T\d{6}Z", kept[0].name), kept
    assert len(list((kept[0] / "new").iterdir())) == 1
    # Removed again the same second: a second name, nothing replaced.
    api.ok("POST", "/api/v1/domains/%s/mailboxes" % dom,
           {"address": addr, "password": PASSWORD}, status=201)
    facteur.cli_ok("mailbox", "remove", addr)
    assert len(list((facteur.data_dir / "deleted" / dom).iterdir())) == 2
    # Recent: kept by the default (30 days); --older-than 0 erases.
    r = facteur.cli_ok("mailbox", "purge")
    assert "purged 0" in r.stdout
    assert (facteur.data_dir / "deleted" / dom).is_dir()
    r = facteur.cli_ok("mailbox", "purge", "--older-than", "0")
    assert "purged 2" in r.stdout and str(kept[0]) in r.stdout
    assert not (facteur.data_dir / "deleted" / dom).exists()
    assert facteur.cli("mailbox", "purge", "--older-than",
                       "x").returncode == 2
