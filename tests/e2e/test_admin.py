"""Admin accounts: the CLI (add, list, passwd, remove, errors) and the
initial admin made on first start, its password in a file and not in
the log. The http listener's redirect to https."""
import re
import sqlite3
import stat
import urllib.error
import urllib.request

from conftest import HOSTNAME


def _admin_hash(facteur, name):
    db = sqlite3.connect(str(facteur.data_dir / "facteur.db"))
    try:
        row = db.execute("SELECT password_hash FROM admins "
                         "WHERE username = ?", (name,)).fetchone()
    finally:
        db.close()
    return row[0] if row else None


def _audit_actions(facteur, name):
    db = sqlite3.connect(str(facteur.data_dir / "facteur.db"))
    try:
        rows = db.execute("SELECT action FROM audit_log WHERE target = ? "
                          "ORDER BY id", (name,)).fetchall()
    finally:
        db.close()
    return [r[0] for r in rows]


def _listed(facteur):
    out = facteur.cli_ok("admin", "list").stdout
    return [line.split("\t")[0] for line in out.splitlines()]


def test_admin_lifecycle(facteur):
    name = facteur.unique("alice")
    r = facteur.cli_ok("admin", "add", name)
    assert r.stdout.splitlines()[0] == "added %s" % name
    m = re.search(r"^password: (\S+)$", r.stdout, re.M)
    assert m and len(m.group(1)) >= 16, r.stdout
    assert name in _listed(facteur)
    h1 = _admin_hash(facteur, name)
    assert h1.startswith("$argon2id$"), h1
    assert m.group(1) not in h1

    r = facteur.cli_ok("admin", "passwd", name, "--password-stdin",
                       input="a new secret 123\n")
    assert r.stdout.strip() == "password changed for %s" % name
    assert _admin_hash(facteur, name) != h1

    r = facteur.cli_ok("admin", "remove", name)
    assert r.stdout.strip() == "removed %s" % name
    assert name not in _listed(facteur)
    assert _audit_actions(facteur, name) == [
        "admin.add", "admin.passwd", "admin.remove"]


def test_admin_add_password_stdin(facteur):
    name = facteur.unique("bob")
    r = facteur.cli_ok("admin", "add", name, "--password-stdin",
                       input="correct horse battery\n")
    assert "password:" not in r.stdout
    assert name in _listed(facteur)


def test_admin_errors(facteur):
    name = facteur.unique("carol")
    facteur.cli_ok("admin", "add", name)
    r = facteur.cli("admin", "add", name)
    assert r.returncode == 1, r.stderr
    assert "already exists" in r.stderr, r.stderr

    for sub in ("remove",):
        r = facteur.cli("admin", sub, "nobody-here")
        assert r.returncode == 1, r.stderr
        assert "no such admin" in r.stderr, r.stderr
    r = facteur.cli("admin", "passwd", "nobody-here", "--password-stdin",
                    input="long enough 1\n")
    assert r.returncode == 1, r.stderr
    assert "no such admin" in r.stderr, r.stderr

    # Usage errors: exit status 2.
    r = facteur.cli("admin", "add", "bad name!")
    assert r.returncode == 2, r.stderr
    r = facteur.cli("admin", "passwd", name)
    assert r.returncode == 2 and "--password-stdin" in r.stderr
    r = facteur.cli("admin", "add", facteur.unique("dave"),
                    "--password-stdin", input="short\n")
    assert r.returncode == 2 and "too short" in r.stderr
    r = facteur.cli("admin", "frobnicate", name)
    assert r.returncode == 2 and "Usage:" in r.stderr
    r = facteur.cli("admin", "--help")
    assert r.returncode == 0 and "initial-admin-password" in r.stdout


def test_initial_admin(facteur_factory):
    inst = facteur_factory(domain=False)
    path = inst.data_dir / "initial-admin-password"
    inst.wait_log(r"event=initial_admin_created admin=admin "
                  r"password_file=\S*initial-admin-password")
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_uid == inst.data_dir.stat().st_uid
    password = path.read_text().strip()
    assert len(password) >= 16
    assert password not in inst.log_text()
    assert _listed(inst) == ["admin"]
    assert _admin_hash(inst, "admin").startswith("$argon2id$")

    # Restarted with an admin in place: no new admin, no new file.
    inst.stop(check=True)
    path.unlink()
    inst.start()
    assert not path.exists()
    assert _listed(inst) == ["admin"]
    assert len(re.findall(r"event=initial_admin_created",
                          inst.log_text())) == 1


# ---- http: redirect to https ----

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _http(facteur, path, method="GET", data=None):
    opener = urllib.request.build_opener(_NoRedirect)
    req = urllib.request.Request("http://127.0.0.1:%d%s" %
                                 (facteur.http_port, path), data=data,
                                 method=method)
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, resp.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers


def test_http_redirects_to_https(facteur):
    base = "https://%s:%d" % (HOSTNAME, facteur.api_port)
    for path, want in (("/", "/"),
                       ("/api/v1/domains", "/api/v1/domains"),
                       ("/a%20b/%0d%0aX-Evil:%201", "/a%20b/%0D%0AX-Evil:%201"),
                       ("/x?query=1", "/x")):
        status, headers = _http(facteur, path)
        assert status == 301, (path, status)
        assert headers["Location"] == base + want, (path, headers)
        assert "X-Evil" not in headers
    status, headers = _http(facteur, "/api/v1/domains", method="POST",
                            data=b'{"name": "x.example"}')
    assert status == 301 and headers["Location"] == base + "/api/v1/domains"


def test_http_redirect_public_port(facteur_factory):
    inst = facteur_factory(sections={"https": {"public_port": "443"}},
                           domain=False)
    status, headers = _http(inst, "/path")
    assert status == 301
    assert headers["Location"] == "https://%s/path" % HOSTNAME
