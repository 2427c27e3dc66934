"""Mail client autoconfiguration (issue 7), checked as the clients read
it (/work/shared/reference/autoconfig.md, section 11): Mozilla autoconfig
as Thunderbird's readFromXML and Sanitizer accept it, Microsoft
Autodiscover (POX and v2 JSON) as Outlook and Thunderbird read it, the
Apple profile with plistlib and `openssl cms`, the DNS records, and one
set of (host, port, TLS) across every format and the API's client setup,
which changes in every format when a listener is disabled."""
import http.client
import json
import plistlib
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest
from dnslib import RR

from conftest import HOSTNAME, client_tls_context
from test_api import API, make_token
from test_api_sessions import Browser

XML_TYPE = "text/xml; charset=utf-8"
MOZ_PATHS = ("/mail/config-v1.1.xml",
             "/.well-known/autoconfig/mail/config-v1.1.xml",
             "/.well-known/mail-v1.xml")
POX_RESPONSE_NS = ("http://schemas.microsoft.com/exchange/autodiscover/"
                   "responseschema/2006")
POX_OUTLOOK_NS = ("http://schemas.microsoft.com/exchange/autodiscover/"
                  "outlook/responseschema/2006a")
POX_MOBILESYNC = ("http://schemas.microsoft.com/exchange/autodiscover/"
                  "mobilesync/responseschema/2006")
# What Thunderbird's ExchangeAutoDiscover.sys.mjs POSTs, byte for byte.
THUNDERBIRD_POX = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/'
    'autodiscover/outlook/requestschema/2006">\n'
    '  <Request>\n'
    '    <EMailAddress>%s</EMailAddress>\n'
    '    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/'
    'autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>\n'
    '  </Request>\n'
    '</Autodiscover>')
UUID_RE = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-"
                     r"[0-9A-F]{12}$")
PLACEHOLDERS = ("%EMAILADDRESS%", "%EMAILLOCALPART%", "%EMAILDOMAIN%")
# Default ports of the mail services, by config section.
STANDARD = {"submission": 587, "submissions": 465, "imap": 143,
            "imaps": 993, "pop3": 110, "pop3s": 995}
IMPLICIT = {"submissions", "imaps", "pop3s"}


def fetch(fx, method, path, host=None, https=True, body=None,
          headers=None):
    """One request with an exact Host header, no redirect followed.
    Returns (status, headers, body bytes)."""
    if https:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", fx.api_port, context=client_tls_context(),
            timeout=30)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", fx.http_port,
                                          timeout=30)
    h = {"Host": host or "127.0.0.1"}
    h.update(headers or {})
    if isinstance(body, str):
        body = body.encode()
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, r.headers, r.read()
    finally:
        conn.close()


# ---- Mozilla autoconfig, read as Thunderbird does ----

def moz_get(fx, path="/mail/config-v1.1.xml", host="autoconfig.example.com",
            https=True, status=200):
    st, h, body = fetch(fx, "GET", path, host, https)
    assert st == status, (path, host, st, body)
    return h, body


def moz_parse(h, body):
    """Checks what Thunderbird needs to read a document (FetchHTTP,
    readFromXML, Sanitizer) and returns its root."""
    assert h["Content-Type"] == XML_TYPE
    assert not body.startswith(b"\xef\xbb\xbf")
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    body.decode("utf-8")
    root = ET.fromstring(body)
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    providers = root.findall("emailProvider")
    assert len(providers) == 1
    p = providers[0]
    assert re.fullmatch(r"[A-Za-z0-9.-]+|%[A-Z]+%", p.get("id"))
    assert p.findall("domain")
    assert len(p.findtext("displayName")) <= 60
    assert len(p.findtext("displayShortName")) <= 20
    assert p.findall("incomingServer[@type='imap']") or \
        p.findall("incomingServer[@type='pop3']")
    assert p.findall("outgoingServer[@type='smtp']")
    for s in p.findall("incomingServer") + p.findall("outgoingServer"):
        assert s.get("type") in ("imap", "pop3", "smtp")
        assert re.fullmatch(r"[a-z0-9.-]+", s.findtext("hostname"))
        assert 1 <= int(s.findtext("port")) <= 65535
        assert s.findtext("socketType") in ("SSL", "STARTTLS")
        assert s.findtext("authentication") == "password-cleartext"
        assert s.findtext("username") == "%EMAILADDRESS%"
        assert s.find("password") is None
        if s.tag == "outgoingServer":
            assert s.findtext("useGlobalPreferredServer") == "false"
    assert b"<password" not in body
    # Only the placeholders Thunderbird knows, each once per value
    # (it replaces the first occurrence only).
    for el in root.iter():
        for value in [el.text or ""] + list(el.attrib.values()):
            for ph in re.findall(r"%[A-Z]+%", value):
                assert ph in PLACEHOLDERS, value
                assert value.count(ph) == 1, value
    return root


def moz_servers(root):
    """[(protocol, host, port, tls)] in document order, incoming first."""
    p = root.find("emailProvider")
    return [(s.get("type"), s.findtext("hostname"), int(s.findtext("port")),
             "implicit" if s.findtext("socketType") == "SSL" else
             "starttls")
            for s in p.findall("incomingServer") +
            p.findall("outgoingServer")]


def expected_servers(fx, sections=None):
    """The full endpoint set in the preferred order, from the ports the
    daemon listens on."""
    off = fx.port_offset
    order = [("imap", "imaps"), ("imap", "imap"), ("pop3", "pop3s"),
             ("pop3", "pop3"), ("smtp", "submissions"),
             ("smtp", "submission")]
    out = []
    for proto, sec in order:
        keys = (sections or {}).get(sec, {})
        if keys.get("enabled", "yes") == "no":
            continue
        port = int(keys.get("public_port", STANDARD[sec] + off))
        out.append((proto, HOSTNAME, port,
                    "implicit" if sec in IMPLICIT else "starttls"))
    return out


def test_autoconfig_hosts_paths_schemes(facteur):
    off = facteur.port_offset
    want = expected_servers(facteur)
    for https in (True, False):
        for path in MOZ_PATHS:
            for host in ("autoconfig.example.com", "example.com",
                         "Example.COM:%d" % (443 + off)):
                root = moz_parse(*moz_get(facteur, path, host, https))
                p = root.find("emailProvider")
                assert p.get("id") == "example.com"
                assert [d.text for d in p.findall("domain")] == [
                    "example.com"]
                assert moz_servers(root) == want
    # The appliance's own host and its parent (Thunderbird's MX fallback,
    # HTTPS only): the address names the domain...
    for host in (HOSTNAME, "autoconfig.test.example"):
        root = moz_parse(*moz_get(
            facteur, "/mail/config-v1.1.xml?emailaddress=fred%40example.com",
            host))
        assert root.find("emailProvider/domain").text == "example.com"
        assert moz_servers(root) == want
        # ... and without one, a generic document.
        root = moz_parse(*moz_get(facteur, host=host))
        assert root.find("emailProvider/domain").text == "%EMAILDOMAIN%"
        assert moz_servers(root) == want


def test_autoconfig_methods_and_headers(facteur):
    h, body = moz_get(facteur)
    assert h["Access-Control-Allow-Origin"] == "*"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Cache-Control"] == "public, max-age=3600"
    h2, _ = moz_get(facteur, "/mail/config-v1.1.xml?emailaddress=a%40"
                    "example.com")
    assert h2["Cache-Control"] == "no-cache"
    for https in (True, False):
        st, hh, b = fetch(facteur, "HEAD", "/mail/config-v1.1.xml",
                          "autoconfig.example.com", https)
        assert st == 200 and b == b""
        assert hh["Content-Type"] == XML_TYPE
        assert int(hh["Content-Length"]) == len(body)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        st, hh, _ = fetch(facteur, method, "/mail/config-v1.1.xml",
                          "autoconfig.example.com", body=b"")
        assert st == 405, method
        assert hh["Allow"] == "GET, HEAD, OPTIONS"
    st, hh, b = fetch(facteur, "OPTIONS",
                      "/.well-known/autoconfig/mail/config-v1.1.xml",
                      "example.com")
    assert st == 204 and b == b""
    assert hh["Access-Control-Allow-Origin"] == "*"
    # Nothing but GET and HEAD is served over plain HTTP: the rest moves
    # to HTTPS.
    st, hh, _ = fetch(facteur, "POST", "/mail/config-v1.1.xml",
                      "autoconfig.example.com", https=False, body=b"")
    assert st == 301


def test_autoconfig_emailaddress_forms(facteur):
    facteur.add_mailbox("fred@example.com")
    _, plain = moz_get(facteur)
    for query in ("", "?emailaddress=fred%40example.com",
                  "?emailaddress=fred@example.com",
                  "?emailaddress=FRED%40Example.COM",
                  "?emailaddress=a%2Bb%40example.com",
                  "?emailaddress=a+b@example.com",
                  "?emailaddress=nobody.here%40example.com",
                  # not an address: the Host names the domain
                  "?emailaddress=not%20an%20address",
                  "?emailaddress=",
                  "?emailaddress=%FF%FE%40example.com",
                  "?emailaddress=" + "x" * 5000 + "%40example.com"):
        for host in ("autoconfig.example.com", "example.com"):
            h, body = moz_get(facteur, MOZ_PATHS[0] + query, host)
            moz_parse(h, body)
            # The same document for every address of the domain: the
            # address is never written back (username %EMAILADDRESS%).
            assert body == plain, query
    # A raw '+' (decoded as a space) still names the address, so its
    # domain: here an unhosted one.
    moz_get(facteur, "/mail/config-v1.1.xml?emailaddress=a+b@absent.example",
            status=404)
    # The address wins over the Host (unhosted host name, hosted address).
    h, body = moz_get(facteur, "/mail/config-v1.1.xml?emailaddress=a%2Bb"
                      "%40example.com", "autoconfig.elsewhere.example")
    assert body == plain
    # IDN: the domain is given as an A-label.
    facteur.cli_ok("domain", "add", "bücher.example")
    h, body = moz_get(facteur, "/mail/config-v1.1.xml?emailaddress=fred%40"
                      "b%C3%BCcher.example", "autoconfig.other.example")
    root = moz_parse(h, body)
    assert root.find("emailProvider").get("id") == "xn--bcher-kva.example"
    assert root.find("emailProvider/domain").text == "xn--bcher-kva.example"


def test_autoconfig_hostile_input(facteur):
    for query in ("?emailaddress=%3Cx%3E%26%40example.com",
                  "?emailaddress=%22%3Cx%3E%26%27%22%40example.com",
                  "?emailaddress=%22%5D%5D%3E%3C!--%22%40example.com",
                  "?emailaddress=%00%01%40example.com",
                  "?emailaddress=%3C%3Fxml%3E&emailaddress=2"):
        h, body = moz_get(facteur, MOZ_PATHS[0] + query)
        moz_parse(h, body)
        assert b"<x>" not in body and b"]]>" not in body
    # A hostile Host header: no document, nothing echoed.
    for host in ("autoconfig.<x>&.example", "autoconfig.\"x\".example",
                 "[::1]:443", "autoconfig.", ""):
        st, h, body = fetch(facteur, "GET", MOZ_PATHS[0], host)
        assert st == 404, host
        assert h["Content-Type"].startswith("text/plain")
        assert b"<x>" not in body


def test_autoconfig_unknown_domain_no_enumeration(facteur):
    known = facteur.add_mailbox()
    _, body_known = moz_get(facteur, "/mail/config-v1.1.xml?emailaddress="
                            + known.replace("@", "%40"))
    h1, body_unknown = moz_get(facteur, "/mail/config-v1.1.xml?emailaddress="
                               "nobody-at-all%40example.com")
    assert body_known == body_unknown
    # Unhosted domains: 404 by Host or by address, on both paths and
    # schemes, with a body that names no mailbox.
    for https in (True, False):
        for path, host in (
                (MOZ_PATHS[0], "autoconfig.absent.example"),
                (MOZ_PATHS[1], "absent.example"),
                (MOZ_PATHS[0] + "?emailaddress=fred%40absent.example",
                 "autoconfig.example.com")):
            st, h, body = fetch(facteur, "GET", path, host, https)
            assert st == 404, (path, host)
            assert h["Content-Type"].startswith("text/plain")
            assert b"fred" not in body and b"absent" not in body
    # A disabled domain is not offered either.
    dom = facteur.add_domain()
    moz_get(facteur, host="autoconfig." + dom)
    facteur.cli_ok("domain", "disable", dom)
    moz_get(facteur, host="autoconfig." + dom, status=404)
    facteur.cli_ok("domain", "enable", dom)
    moz_get(facteur, host="autoconfig." + dom)


def _greeting(sock):
    sock.settimeout(10)
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_autoconfig_ports_speak_as_announced(facteur):
    """Each announced port listens and speaks TLS from the first byte
    exactly when socketType says SSL (Thunderbird does no guessing)."""
    import socket
    root = moz_parse(*moz_get(facteur))
    greet = {"imap": b"* OK", "pop3": b"+OK", "smtp": b"220 "}
    for proto, _host, port, tls in moz_servers(root):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            if tls == "implicit":
                s = client_tls_context().wrap_socket(s)
            assert _greeting(s).startswith(greet[proto]), (proto, port)
        finally:
            s.close()


# ---- Microsoft Autodiscover ----

def pox(fx, body, host="autodiscover.example.com",
        path="/autodiscover/autodiscover.xml", headers=None):
    h = {"Content-Type": "text/xml; charset=utf-8"}
    h.update(headers or {})
    st, hh, text = fetch(fx, "POST", path, host, body=body, headers=h)
    assert st == 200, (st, text)
    assert hh["Content-Type"] == XML_TYPE
    root = ET.fromstring(text)
    assert root.tag == "{%s}Autodiscover" % POX_RESPONSE_NS
    return root, text


def pox_error(root):
    err = root.find("{%s}Response/{%s}Error" % (POX_RESPONSE_NS,
                                                POX_RESPONSE_NS))
    if err is None:
        return None
    assert err.get("Time") and err.get("Id")
    return int(err.findtext("{%s}ErrorCode" % POX_RESPONSE_NS))


def pox_protocols(root):
    """[{element: text}] of Account/Protocol, after checking the
    settings response's shape."""
    ns = "{%s}" % POX_OUTLOOK_NS
    resp = root.find(ns + "Response")
    assert resp is not None, ET.tostring(root)
    assert resp.findtext(ns + "User/" + ns + "DisplayName")
    assert resp.findtext(ns + "Account/" + ns + "AccountType") == "email"
    assert resp.findtext(ns + "Account/" + ns + "Action") == "settings"
    out = []
    for p in resp.findall(ns + "Account/" + ns + "Protocol"):
        out.append({c.tag[len(ns):]: c.text for c in p})
    return out


def pox_servers(protocols):
    """[(protocol, host, port, tls)] as Outlook reads Encryption."""
    out = []
    for p in protocols:
        assert p["Encryption"] in ("SSL", "TLS")
        out.append((p["Type"].lower(), p["Server"], int(p["Port"]),
                    "implicit" if p["Encryption"] == "SSL" else
                    "starttls"))
    return out


def thunderbird_pox_tls(p):
    """ExchangeAutoDiscover.sys.mjs: SSL off or Encryption None is plain,
    else the port decides."""
    if p.get("SSL") == "off" or p.get("Encryption") == "None":
        return "plain"
    return "starttls" if int(p["Port"]) in (143, 110, 25, 587) else \
        "implicit"


def check_pox_protocols(protocols, address):
    types = [p["Type"] for p in protocols]
    assert types == [t for t in ("IMAP", "SMTP", "POP3") if t in types]
    assert "SMTP" in types and ("IMAP" in types or "POP3" in types)
    for p in protocols:
        assert p["Server"] == HOSTNAME
        assert p["LoginName"] == address
        assert p["SPA"] == "off"
        assert p["DomainRequired"] == "off"
        assert p["AuthRequired"] == "on"
        assert p["SSL"] in ("on", "off") and p["SSL"] == "on"
        if p["Type"] == "SMTP":
            assert p["UsePOPAuth"] == "on" and p["SMTPLast"] == "off"


def test_autodiscover_thunderbird_request(facteur):
    box = facteur.add_mailbox()
    off = facteur.port_offset
    for host in ("autodiscover.example.com", "example.com", HOSTNAME):
        for path in ("/autodiscover/autodiscover.xml",
                     "/Autodiscover/Autodiscover.xml",
                     "/AutoDiscover/AUTODISCOVER.XML"):
            root, _ = pox(facteur, THUNDERBIRD_POX % box, host, path)
            protocols = pox_protocols(root)
            check_pox_protocols(protocols, box)
            # Implicit TLS only, Encryption SSL (never TLS on those
            # ports: Outlook would try STARTTLS).
            assert pox_servers(protocols) == [
                ("imap", HOSTNAME, 993 + off, "implicit"),
                ("smtp", HOSTNAME, 465 + off, "implicit"),
                ("pop3", HOSTNAME, 995 + off, "implicit")]
    ns = "{%s}" % POX_OUTLOOK_NS
    user = root.find(ns + "Response/" + ns + "User")
    assert user.findtext(ns + "DisplayName") == box
    assert user.findtext(ns + "AutoDiscoverSMTPAddress") == box
    assert UUID_RE.match(user.findtext(ns + "DeploymentId"))


def test_autodiscover_request_variants(facteur):
    box = facteur.add_mailbox()
    secret = "hunter2-secret-pw"
    import base64
    basic = base64.b64encode(("%s:%s" % (box, secret)).encode()).decode()
    _, want = pox(facteur, THUNDERBIRD_POX % box)
    tb = THUNDERBIRD_POX % box
    variants = [
        # no XML declaration
        tb.split("\n", 1)[1],
        # the https:// namespaces some clients copy from the docs
        tb.replace("http://schemas", "https://schemas"),
        # a prefix, upper-case element names, unknown children, comments
        ('<a:Autodiscover xmlns:a="http://schemas.microsoft.com/exchange/'
         'autodiscover/outlook/requestschema/2006"><!-- hi --><a:Request>'
         '<a:LegacyDN>/o=x</a:LegacyDN><a:Unknown a="1"><b/></a:Unknown>'
         '<a:EMAILADDRESS> %s </a:EMAILADDRESS></a:Request>'
         '</a:Autodiscover>' % box),
        # no AcceptableResponseSchema, CDATA, a BOM
        ("\ufeff<Autodiscover><Request><EMailAddress><![CDATA[%s]]>"
         "</EMailAddress></Request></Autodiscover>" % box),
        # an entity the XML spec predefines, and a character reference
        ("<Autodiscover><Request><EMailAddress>%s&#64;%s</EMailAddress>"
         "</Request></Autodiscover>" % tuple(box.split("@"))),
        # '>' in an attribute value; comments and a processing
        # instruction after the root; spaces in the end tags
        ("<Autodiscover a='>' b=\"x'y\"><Request ><EMailAddress>%s"
         "</EMailAddress ></Request\n></Autodiscover>\n<!-- end -->"
         "<?pi x?>\n" % box),
    ]
    for body in variants:
        _, text = pox(facteur, body)
        assert text == want, body
    # Thunderbird sends the user's password as Basic auth: ignored, and
    # never written to the log.
    _, text = pox(facteur, tb, headers={"Authorization": "Basic " + basic})
    assert text == want
    log = facteur.log_text()
    assert secret not in log and basic not in log


def test_autodiscover_errors(facteur):
    box = facteur.add_mailbox()
    tb = THUNDERBIRD_POX % box
    marker = "facteur-xxe-marker"
    for body in (
            "",
            "garbage",
            "<Autodiscover><Request>",
            "<Autodiscover><Request><EMailAddress>%s</EMailAddress>"
            "</Request></Other>" % box,
            "<Other><Request><EMailAddress>%s</EMailAddress></Request>"
            "</Other>" % box,
            "<Autodiscover><Request></Request></Autodiscover>",
            "<Autodiscover><Request><EMailAddress></EMailAddress>"
            "</Request></Autodiscover>",
            "<Autodiscover><Request><EMailAddress>not an address"
            "</EMailAddress></Request></Autodiscover>",
            "<Autodiscover/><Autodiscover/>",
            "<Autodiscover a=\"x></Autodiscover>",
            "<Autodiscover><Request><EMailAddress>%s</EMailAddress>"
            "</Request></Autodiscover><!-- unterminated" % box,
            "<Autodiscover>" + "<x>" * 20 + "</x>" * 20 +
            "</Autodiscover>",
            "<Autodiscover><Request><EMailAddress>a&#0;b@example.com"
            "</EMailAddress></Request></Autodiscover>",
            "<Autodiscover><Request><EMailAddress>%s</EMailAddress>"
            "</Request></autodiscover>" % box,
            tb.replace("</EMailAddress>", "&unknown;</EMailAddress>"),
            # XXE: a DTD is refused before anything is read or fetched
            ('<?xml version="1.0"?><!DOCTYPE Autodiscover [<!ENTITY x '
             'SYSTEM "file:///etc/hostname"><!ENTITY m "%s">]>'
             "<Autodiscover><Request><EMailAddress>&m;&x;%s"
             "</EMailAddress></Request></Autodiscover>" % (marker, box)),
            "<!ENTITY x 'y'>" + tb.split("\n", 1)[1],
            "<!-- <!DOCTYPE x> -->" + tb.split("\n", 1)[1],
            tb.replace("  <Request>", "  <Request>" + " " * 9000)):
        root, text = pox(facteur, body)
        assert pox_error(root) == 600, body
        assert marker.encode() not in text
    # ActiveSync (mobilesync) and unknown schemas: 601.
    for schema in (POX_MOBILESYNC, "urn:other"):
        root, _ = pox(facteur, tb.replace(
            "http://schemas.microsoft.com/exchange/autodiscover/outlook/"
            "responseschema/2006a", schema))
        assert pox_error(root) == 601
    # An unhosted domain: 500; an unknown mailbox of a hosted domain: the
    # same settings as an existing one.
    root, _ = pox(facteur, THUNDERBIRD_POX % "fred@absent.example")
    assert pox_error(root) == 500
    root1, _ = pox(facteur, tb)
    root2, _ = pox(facteur, THUNDERBIRD_POX % "nobody-at-all@example.com")
    assert pox_error(root2) is None
    p1, p2 = pox_protocols(root1), pox_protocols(root2)
    for p in p1 + p2:
        p.pop("LoginName")
    assert p1 == p2
    # GET over HTTPS is not the protocol; over HTTP it is the redirect
    # probe (MS-OXDISCO): 302 to HTTPS on the host name.
    st, h, _ = fetch(facteur, "GET", "/autodiscover/autodiscover.xml",
                     "autodiscover.example.com")
    assert st == 405 and h["Allow"] == "POST"
    for path in ("/autodiscover/autodiscover.xml",
                 "/Autodiscover/Autodiscover.xml"):
        st, h, _ = fetch(facteur, "GET", path, "autodiscover.example.com",
                         https=False)
        assert st == 302
        assert h["Location"] == ("https://%s:%d/autodiscover/autodiscover."
                                 "xml" % (HOSTNAME, facteur.api_port))


def test_autodiscover_v2_json(facteur):
    url = "https://%s:%d/autodiscover/autodiscover.xml" % (
        HOSTNAME, facteur.api_port)
    for path in ("/autodiscover/autodiscover.json?Email=fred%40example.com"
                 "&Protocol=AutodiscoverV1",
                 "/autodiscover/autodiscover.json?Email=fred%40example.com"
                 "&Protocol=autodiscoverv1&RedirectCount=1",
                 "/Autodiscover/Autodiscover.json?Email=fred@example.com"
                 "&Protocol=AUTODISCOVERV1",
                 "/autodiscover/autodiscover.json/v1.0/fred@example.com"
                 "?Protocol=AutodiscoverV1"):
        st, h, body = fetch(facteur, "GET", path, "autodiscover.example.com")
        assert st == 200, path
        assert h["Content-Type"] == "application/json"
        assert json.loads(body) == {"Protocol": "AutodiscoverV1",
                                    "Url": url}
    for proto, echoed in (("Ews", "Ews"), ("ActiveSync", "ActiveSync"),
                          ("Ews%3Cscript%3E%22'%0D%0A", "Ewsscript"),
                          ("", "")):
        st, h, body = fetch(
            facteur, "GET", "/autodiscover/autodiscover.json?Email=fred%40"
            "example.com&Protocol=" + proto, "autodiscover.example.com")
        assert st == 400, proto
        assert h["Content-Type"] == "application/json"
        doc = json.loads(body)
        assert doc["ErrorCode"] == "InvalidProtocol"
        assert doc["ErrorMessage"] == (
            "The given protocol value '%s' is invalid. Supported values "
            "are 'AutodiscoverV1'" % echoed)
    st, _, _ = fetch(facteur, "GET", "/autodiscover/autodiscover.json",
                     "autodiscover.example.com")
    assert st == 400


# ---- Apple configuration profile ----

@pytest.fixture(scope="module")
def api(facteur):
    return API(facteur, make_token(facteur, "autoconfig"))


def profile_get(api, address, query="?signed=false", status=200, **kw):
    conn = http.client.HTTPSConnection("127.0.0.1", api.facteur.api_port,
                                       context=client_tls_context(),
                                       timeout=30)
    h = {"Authorization": "Bearer %s" % kw.get("token", api.token)}
    try:
        conn.request("GET", "/api/v1/mailboxes/%s/mobileconfig%s" % (
            address, query), headers=h)
        r = conn.getresponse()
        st, hh, body = r.status, r.headers, r.read()
    finally:
        conn.close()
    assert st == status, (st, body)
    return hh, body


def check_profile(doc, address):
    assert doc["PayloadType"] == "Configuration"
    assert type(doc["PayloadVersion"]) is int and doc["PayloadVersion"] == 1
    assert UUID_RE.match(doc["PayloadUUID"])
    assert doc["PayloadIdentifier"]
    assert isinstance(doc["PayloadContent"], list)
    assert len(doc["PayloadContent"]) == 1
    mail = doc["PayloadContent"][0]
    assert mail["PayloadType"] == "com.apple.mail.managed"
    assert type(mail["PayloadVersion"]) is int and mail["PayloadVersion"] == 1
    assert UUID_RE.match(mail["PayloadUUID"])
    assert mail["PayloadUUID"] != doc["PayloadUUID"]
    assert mail["PayloadIdentifier"] != doc["PayloadIdentifier"]
    assert mail["PayloadIdentifier"].startswith(doc["PayloadIdentifier"])
    assert mail["EmailAccountType"] in ("EmailTypeIMAP", "EmailTypePOP")
    for side in ("Incoming", "Outgoing"):
        assert mail[side + "MailServerAuthentication"] == \
            "EmailAuthPassword"
        assert mail[side + "MailServerHostName"] == HOSTNAME
        assert type(mail[side + "MailServerPortNumber"]) is int
        assert type(mail[side + "MailServerUseSSL"]) is bool
        assert mail[side + "MailServerUsername"] == address
        assert side + "Password" not in mail
    assert mail["EmailAddress"] == address
    return mail


def profile_servers(mail):
    proto = "imap" if mail["EmailAccountType"] == "EmailTypeIMAP" else \
        "pop3"
    return [(p, HOSTNAME, mail[side + "MailServerPortNumber"],
             "implicit" if mail[side + "MailServerUseSSL"] else "starttls")
            for p, side in ((proto, "Incoming"), ("smtp", "Outgoing"))]


def test_mobileconfig_profile(facteur, api):
    box = facteur.add_mailbox()
    off = facteur.port_offset
    h, body = profile_get(api, box)
    assert h["Content-Type"] == "application/x-apple-aspen-config"
    assert h["Content-Disposition"] == \
        'attachment; filename="%s.mobileconfig"' % box
    assert h["Cache-Control"] == "no-store"
    doc = plistlib.loads(body)
    mail = check_profile(doc, box)
    # Implicit TLS: UseSSL true exactly there.
    assert profile_servers(mail) == [
        ("imap", HOSTNAME, 993 + off, "implicit"),
        ("smtp", HOSTNAME, 465 + off, "implicit")]
    assert mail["IncomingMailServerUseSSL"] is True
    assert mail["OutgoingMailServerUseSSL"] is True
    assert b"Password</key>" not in body.replace(
        b"OutgoingPasswordSameAsIncomingPassword</key>", b"")
    # Downloaded again: the same identifiers and UUIDs (a reinstall
    # replaces the profile); another mailbox: others.
    _, again = profile_get(api, box.upper())
    assert again == body
    other = plistlib.loads(profile_get(api, facteur.add_mailbox())[1])
    assert other["PayloadUUID"] != doc["PayloadUUID"]
    assert other["PayloadIdentifier"] != doc["PayloadIdentifier"]
    assert other["PayloadContent"][0]["PayloadUUID"] != mail["PayloadUUID"]
    # A display name with & < > " and an address with & and ' stay a
    # valid plist.
    hostile = facteur.add_mailbox("a&b'c.%s@example.com" %
                                  facteur.unique("h"))
    h, body = profile_get(api, hostile.replace("&", "%26"),
                          "?signed=false&name=A%20%26%20B%20%3Cx%3E%20%22q"
                          "%22%20%C3%A9")
    doc = plistlib.loads(body)
    mail = check_profile(doc, hostile)
    assert mail["EmailAccountName"] == 'A & B <x> "q" é'
    assert h["Content-Disposition"] == \
        'attachment; filename="%s.mobileconfig"' % hostile.replace(
            "&", "_").replace("'", "_")
    st, _, doc = api.call("GET", "/api/v1/mailboxes/%s/mobileconfig?name="
                          "%%FF" % box)
    assert st == 400 and doc["field"] == "name"


def test_mobileconfig_signed(facteur, api):
    box = facteur.add_mailbox()
    _, unsigned = profile_get(api, box)
    for query in ("", "?signed=true", "?signed=1"):
        h, body = profile_get(api, box, query)
        assert h["Content-Type"] == "application/x-apple-aspen-config"
        assert not body.startswith(b"<?xml")
        der = facteur.data_dir / "profile.der"
        der.write_bytes(body)
        cert = facteur.data_dir / "tls" / "cert.pem"
        r = subprocess.run(
            ["openssl", "cms", "-verify", "-inform", "DER", "-in", str(der),
             "-noverify"], capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout == unsigned
        plistlib.loads(r.stdout)
        # Signed by the HTTPS certificate, which has not expired.
        r = subprocess.run(
            ["openssl", "cms", "-verify", "-inform", "DER", "-in", str(der),
             "-CAfile", str(cert), "-purpose", "any"],
            capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout == unsigned
        assert subprocess.run(["openssl", "x509", "-checkend", "0", "-noout",
                               "-in", str(cert)],
                              timeout=30).returncode == 0


def test_mobileconfig_authorization(facteur, api):
    box = facteur.add_mailbox(password="profile pass 1")
    other = facteur.add_mailbox(password="profile pass 2")
    path = "/api/v1/mailboxes/%s/mobileconfig" % box
    st, h, doc = api.call("GET", path, auth=False)
    assert st == 401 and h["Content-Type"] == "application/problem+json"
    assert doc["code"] == "unauthorized"
    # A read token may download it; a token of another domain sees no
    # such mailbox.
    profile_get(api, box, token=make_token(facteur, "ro", "read"))
    facteur.add_domain("elsewhere.example")
    profile_get(api, box, status=404, token=make_token(
        facteur, "scoped", domains=["elsewhere.example"]))
    # The mailbox's own session: its profile, not another's.
    b = Browser(facteur)
    b.login(box, "profile pass 1")
    st, h, _ = b.call("GET", path + "?signed=false")
    assert st == 200
    assert h["Content-Type"] == "application/x-apple-aspen-config"
    b.problem("GET", "/api/v1/mailboxes/%s/mobileconfig" % other,
              status=404, code="not_found")
    # An admin session too.
    facteur.cli_ok("admin", "add", "profiler", "--password-stdin",
                   input="profiler pass 1\n")
    a = Browser(facteur)
    a.login("profiler", "profiler pass 1")
    assert a.call("GET", path + "?signed=false")[0] == 200
    assert a.call("GET", "/api/v1/mailboxes/absent@example.com/"
                  "mobileconfig")[0] == 404


def test_mobileconfig_openapi(api):
    st, _, doc = api.call("GET", "/api/openapi.json", auth=False)
    op = doc["paths"]["/api/v1/mailboxes/{address}/mobileconfig"]["get"]
    assert [(p["name"], p["schema"]["type"]) for p in op["parameters"]
            if p["in"] == "query"] == [("name", "string"),
                                       ("signed", "boolean")]
    assert list(op["responses"]["200"]["content"]) == [
        "application/x-apple-aspen-config"]
    assert {"bearer": []} in op["security"]
    assert op["x-mailbox-session"] is True


# ---- DNS ----

SRV_LABELS = {"_imaps._tcp": ("imap", "implicit"),
              "_imap._tcp": ("imap", "starttls"),
              "_pop3s._tcp": ("pop3", "implicit"),
              "_pop3._tcp": ("pop3", "starttls"),
              "_submissions._tcp": ("smtp", "implicit"),
              "_submission._tcp": ("smtp", "starttls")}


def srv_servers(api, domain="example.com"):
    """The offered endpoints of the SRV records, by priority."""
    doc = api.ok("GET", "/api/v1/domains/%s/dns" % domain)
    out = []
    for r in sorted((r for r in doc["records"] if r["purpose"] == "srv"),
                    key=lambda r: r["priority"]):
        label = r["name"][:-len(domain) - 2]
        proto, tls = SRV_LABELS[label]
        if r["target"] != ".":
            out.append((proto, r["target"].rstrip("."), r["port"], tls))
    return doc, out


def test_dns_records_for_clients(facteur, api):
    doc, servers = srv_servers(api)
    names = {(r["name"], r["type"]): r for r in doc["records"]}
    for label in ("autoconfig", "autodiscover"):
        r = names[("%s.example.com." % label, "CNAME")]
        assert r["target"] == HOSTNAME + "."
    labels = sorted(r["name"] for r in doc["records"] if r["type"] == "SRV")
    assert labels == sorted("%s.example.com." % x for x in
                            list(SRV_LABELS) + ["_autodiscover._tcp"])
    # Outlook's SRV lookup leads to the https listener.
    r = names[("_autodiscover._tcp.example.com.", "SRV")]
    assert (r["priority"], r["weight"], r["port"], r["target"]) == (
        0, 1, facteur.api_port, HOSTNAME + ".")
    assert not any("_smtps" in r["name"] for r in doc["records"])
    # SRV targets name the host itself (RFC 2782: not a CNAME).
    assert {s[1] for s in servers} == {HOSTNAME}
    # The zone text parses, record by record.
    import urllib.request
    req = urllib.request.Request(
        api.base + "/api/v1/domains/example.com/dns?format=zone",
        headers={"Authorization": "Bearer " + api.token})
    with urllib.request.urlopen(req, context=api.ctx, timeout=30) as r:
        zone = r.read().decode()
    rrs = [rr for line in zone.splitlines() for rr in RR.fromZone(line)]
    assert len(rrs) == len(doc["records"])
    spf = [rr for rr in rrs if rr.rtype == 16 and b"v=spf1" in
           b"".join(rr.rdata.data)]
    assert len(spf) == 1


# ---- one model, every format ----

def all_formats(fx, api, box):
    """{format: [(protocol, host, port, tls)]} and the user names each
    format gives."""
    quoted = box.replace("@", "%40")
    root = moz_parse(*moz_get(fx, "/mail/config-v1.1.xml?emailaddress=" +
                              quoted))
    pox_root, _ = pox(fx, THUNDERBIRD_POX % box)
    protocols = pox_protocols(pox_root)
    check_pox_protocols(protocols, box)
    mail = check_profile(plistlib.loads(profile_get(api, box)[1]), box)
    setup = api.ok("GET", "/api/v1/mailboxes/%s/client-setup" % box)
    _, srv = srv_servers(api)
    assert setup["user"] == box
    return {
        "autoconfig": moz_servers(root),
        "srv": srv,
        "client-setup": [
            (e["protocol"], e["host"], e["port"],
             "implicit" if e["security"] == "ssl/tls" else "starttls")
            for e in setup["incoming"] + setup["outgoing"]],
        "preferred": [
            (e["protocol"], e["host"], e["port"],
             "implicit" if e["security"] == "ssl/tls" else "starttls")
            for e in setup["incoming"] + setup["outgoing"]
            if e["preferred"]],
        "autodiscover": pox_servers(protocols),
        "mobileconfig": profile_servers(mail),
    }, protocols


def first_per_protocol(servers, protocols):
    out = []
    for proto in protocols:
        for s in servers:
            if s[0] == proto:
                out.append(s)
                break
    return out


def check_consistent(f, want):
    """Every format names the same endpoints: the full set for
    autoconfig, SRV and the client setup; the preferred one of each
    protocol for Autodiscover and the Apple profile."""
    assert f["autoconfig"] == want
    assert sorted(f["srv"]) == sorted(want)
    assert f["client-setup"] == want
    assert f["autodiscover"] == first_per_protocol(
        want, ("imap", "smtp", "pop3"))
    incoming = first_per_protocol(want, ("imap",)) or \
        first_per_protocol(want, ("pop3",))
    assert f["mobileconfig"] == incoming + first_per_protocol(
        want, ("smtp",))
    assert f["preferred"] == first_per_protocol(
        want, ("imap",) if any(s[0] == "imap" for s in want) else
        ("pop3",)) + first_per_protocol(want, ("smtp",))


def test_formats_consistent(facteur, api):
    box = facteur.add_mailbox()
    f, _ = all_formats(facteur, api, box)
    check_consistent(f, expected_servers(facteur))


ALL = {"autoconfig", "srv", "client-setup", "preferred", "autodiscover",
       "mobileconfig"}


@pytest.mark.parametrize("sections,changed", [
    # IMAP on 143 off: the full lists lose it; Autodiscover and the
    # profile carry the preferred (implicit TLS) endpoints only.
    ({"imap": {"enabled": "no"}}, {"autoconfig", "srv", "client-setup"}),
    # IMAP on 993 off: every format changes (Autodiscover and the profile
    # fall back to 143 with STARTTLS: Encryption TLS, UseSSL false).
    ({"imaps": {"enabled": "no"}}, ALL),
    # No POP3, submission on 465 only: Autodiscover loses POP3.
    ({"pop3": {"enabled": "no"}, "pop3s": {"enabled": "no"},
      "submission": {"enabled": "no"}},
     {"autoconfig", "srv", "client-setup", "autodiscover"}),
    # No IMAP, submission on 587 only: the profile is a POP account.
    ({"imap": {"enabled": "no"}, "imaps": {"enabled": "no"},
      "submissions": {"enabled": "no"}}, ALL),
], ids=["imap-off", "imaps-off", "pop3-off", "pop3-only"])
def test_listener_change_reaches_every_format(facteur, api,
                                              facteur_factory, sections,
                                              changed):
    base, _ = all_formats(facteur, api, facteur.add_mailbox())
    fx = facteur_factory(sections=sections)
    a = API(fx, make_token(fx, "t"))
    box = fx.add_mailbox()
    f, protocols = all_formats(fx, a, box)
    check_consistent(f, expected_servers(fx, sections))

    # What changed, the port offsets aside.
    def ports(servers, inst):
        return [(s[0], s[2] - inst.port_offset, s[3]) for s in servers]
    assert {k for k in f if ports(f[k], fx) != ports(base[k], facteur)} \
        == changed
    for p in protocols:
        assert p["Encryption"] == ("TLS" if int(p["Port"]) - fx.port_offset
                                   in (143, 110, 587) else "SSL")


def test_thunderbird_reads_autodiscover_like_autoconfig(facteur_factory):
    """With the standard public ports (a NAT in front), Thunderbird's
    port guess on Autodiscover gives the TLS mode autoconfig states, for
    implicit TLS and, when 993 is off, STARTTLS on 143."""
    for extra in ({}, {"imaps": {"enabled": "no"}}):
        sections = {sec: {"public_port": str(port)}
                    for sec, port in STANDARD.items()}
        for sec, keys in extra.items():
            sections[sec].update(keys)
        fx = facteur_factory(sections=sections)
        a = API(fx, make_token(fx, "t"))
        box = fx.add_mailbox()
        f, protocols = all_formats(fx, a, box)
        check_consistent(f, expected_servers(fx, sections))
        canonical = {(s[0], s[2]): s[3] for s in f["autoconfig"]}
        for p in protocols:
            assert thunderbird_pox_tls(p) == canonical[
                (p["Type"].lower(), int(p["Port"]))]
        assert f["autodiscover"][0][2] == (143 if extra else 993)
