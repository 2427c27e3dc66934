"""The account CLI and the configuration file, against a running daemon:
changes made with the CLI take effect without a restart."""
import re
import shutil
import subprocess

from conftest import (FACTEUR_BIN, make_message, make_tempdir,
                      stored_equals, write_config)


def test_domain_add_twice(facteur):
    name = facteur.unique("twice") + ".example"
    r = facteur.cli("domain", "add", name)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "added %s" % name
    r = facteur.cli("domain", "add", name)
    assert r.returncode != 0
    assert "already exists" in r.stderr, r.stderr
    r = facteur.cli("domain", "add", name.upper())
    assert r.returncode != 0
    assert "already exists" in r.stderr, r.stderr
    listed = facteur.cli_ok("domain", "list").stdout
    assert len(re.findall(r"^%s\t" % re.escape(name), listed, re.M)) == 1


def test_mailbox_in_unknown_domain(facteur):
    r = facteur.cli("mailbox", "add", "someone@not-hosted.example")
    assert r.returncode != 0
    assert r.stderr.strip(), "no message"
    assert "someone@not-hosted.example" not in facteur.cli_ok(
        "mailbox", "list").stdout


def test_invalid_address_is_usage_error(facteur):
    for bad in ("no-at-sign", "two@@example.com", "a b@example.com",
                "@example.com", "user@"):
        r = facteur.cli("mailbox", "add", bad)
        assert r.returncode == 2, (bad, r.returncode, r.stderr)
        assert "invalid address" in r.stderr, r.stderr
    r = facteur.cli("domain", "add", "bad_domain..example")
    assert r.returncode == 2, r.stderr


def test_usage_errors(facteur):
    r = facteur.cli("mailbox", "frobnicate", "x@example.com")
    assert r.returncode == 2
    assert "Usage:" in r.stderr
    r = facteur.cli("mailbox", "add", "x@example.com", "--quota", "lots")
    assert r.returncode == 2
    r = subprocess.run([FACTEUR_BIN, "no-such-command"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2
    r = subprocess.run([FACTEUR_BIN, "--help"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and "mailbox" in r.stdout


def test_generated_password_printed_once(facteur):
    addr = "%s@example.com" % facteur.unique("gen")
    r = facteur.cli("mailbox", "add", addr)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    pw_lines = [line for line in lines if line.startswith("password: ")]
    assert len(pw_lines) == 1, r.stdout
    password = pw_lines[0][len("password: "):]
    assert len(password) >= 16 and " " not in password, password
    assert password not in r.stderr
    # Listing never shows it again; neither does the log.
    listed = facteur.cli_ok("mailbox", "list").stdout
    assert re.search(r"^%s\tenabled\tquota=unlimited$" % re.escape(addr),
                     listed, re.M), listed
    assert password not in listed
    assert password not in facteur.log_text()
    # Another mailbox gets another password.
    r2 = facteur.cli_ok("mailbox", "add",
                        "%s@example.com" % facteur.unique("gen"))
    assert password not in r2.stdout


def test_password_stdin(facteur):
    addr = "%s@example.com" % facteur.unique("stdin")
    r = facteur.cli("mailbox", "add", addr, "--password-stdin",
                    input="short\n")
    assert r.returncode != 0
    assert "too short" in r.stderr, r.stderr
    assert addr not in facteur.cli_ok("mailbox", "list").stdout
    r = facteur.cli("mailbox", "add", addr, "--password-stdin", input="")
    assert r.returncode != 0
    r = facteur.cli("mailbox", "add", addr, "--password-stdin",
                    "--quota", "2M", input="a good long password\n")
    assert r.returncode == 0, r.stderr
    assert "password:" not in r.stdout
    assert "a good long password" not in r.stdout + r.stderr
    listed = facteur.cli_ok("mailbox", "list").stdout
    assert "%s\tenabled\tquota=%d" % (addr, 2 * 1024 * 1024) in listed
    r = facteur.cli("mailbox", "add", addr, "--password-stdin",
                    input="another long password\n")
    assert r.returncode != 0
    assert "already exists" in r.stderr, r.stderr
    r = facteur.cli("mailbox", "passwd", addr, "--password-stdin",
                    input="yet another password\n")
    assert r.returncode == 0, r.stderr


def test_idn_domain_stored_as_a_label(facteur):
    r = facteur.cli("domain", "add", "b\u00fccher.example")
    assert r.returncode == 0, r.stderr
    listed = facteur.cli_ok("domain", "list").stdout
    assert re.search(r"^xn--bcher-kva\.example\tenabled", listed, re.M), \
        listed
    assert "b\u00fccher" not in listed
    # The U-label and the A-label name the same domain.
    r = facteur.cli("domain", "add", "xn--bcher-kva.example")
    assert r.returncode != 0 and "already exists" in r.stderr
    # ASCII letters are lower-cased (Unicode case folding is not done:
    # docs/VIOLATIONS.md).
    facteur.cli_ok("mailbox", "add", "Leser@B\u00fcCHER.Example")
    assert "leser@xn--bcher-kva.example\t" in facteur.cli_ok(
        "mailbox", "list", "xn--bcher-kva.example").stdout
    # And mail for it is accepted in either form.
    msg = make_message("idn")
    c = facteur.connect()
    c.ehlo()
    c.cmd("MAIL FROM:<s@example.org> SMTPUTF8").expect(250)
    c.cmd("RCPT TO:<leser@xn--bcher-kva.example>").expect(250)
    c.cmd("RCPT TO:<leser@b\u00fccher.example>").expect(250)
    c.cmd("DATA").expect(354)
    c.send(msg + b".\r\n")
    c.expect(250)
    files = facteur.maildir_files("leser@xn--bcher-kva.example")
    assert len(files) == 1
    stored_equals(files[0], msg)


def test_changes_apply_without_restart(facteur):
    addr = "%s@example.com" % facteur.unique("late")
    c = facteur.connect()
    c.ehlo()
    c.cmd("MAIL FROM:<s@example.org>").expect(250)
    c.cmd("RCPT TO:<%s>" % addr).expect(550, "5.1.1")
    # Added while serve runs and this session is open.
    facteur.cli_ok("mailbox", "add", addr)
    c.cmd("RCPT TO:<%s>" % addr).expect(250)
    msg = make_message("late mailbox")
    c.cmd("DATA").expect(354)
    c.send(msg + b".\r\n")
    c.expect(250)
    files = facteur.maildir_files(addr)
    assert len(files) == 1
    stored_equals(files[0], msg)
    # Removed: refused at once; the mail is kept under deleted/.
    r = facteur.cli_ok("mailbox", "remove", addr)
    assert "moved to" in r.stdout
    c.cmd("MAIL FROM:<s@example.org>").expect(250)
    c.cmd("RCPT TO:<%s>" % addr).expect(550, "5.1.1")
    kept = list((facteur.data_dir / "deleted" / "example.com").glob(
        addr.split("@")[0] + "-*Z/new/*"))
    assert len(kept) == 1
    # A new domain, too.
    dom = facteur.unique("fresh") + ".example"
    c.cmd("RCPT TO:<x@%s>" % dom).expect(554, "5.7.1")
    facteur.cli_ok("domain", "add", dom)
    c.cmd("RCPT TO:<x@%s>" % dom).expect(550, "5.1.1")
    c.cmd("QUIT").expect(221)
    assert facteur.running()


def test_alias_cli(facteur):
    box = facteur.add_mailbox()
    src = "%s@example.com" % facteur.unique("al")
    r = facteur.cli("alias", "add", src, "%s,not an address" % box)
    assert r.returncode == 2, r.stderr
    facteur.cli_ok("alias", "add", src, box)
    listed = facteur.cli_ok("alias", "list").stdout
    assert "%s\t%s\n" % (src, box) in listed
    r = facteur.cli("alias", "add", src, box)
    assert r.returncode != 0
    facteur.cli_ok("alias", "remove", src)
    assert src not in facteur.cli_ok("alias", "list").stdout


def test_check_config_prints_effective_config():
    d = make_tempdir()
    try:
        conf = d / "facteur.conf"
        write_config(conf, {"max_recipients": "7",
                            "max_message_size": "3M"})
        r = subprocess.run(
            [FACTEUR_BIN, "serve", "--config", str(conf), "--data-dir",
             str(d), "--port-offset", "1000", "--check-config"],
            capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        out = r.stdout
        assert re.search(r"^hostname = mx\.test\.example\b", out, re.M), out
        assert re.search(r"^max_recipients = 7\b", out, re.M), out
        assert re.search(r"^data_dir = %s\b" % re.escape(str(d)), out,
                         re.M), out
        assert re.search(r"^\[smtp\]", out, re.M), out
        assert re.search(r"^address = 127\.0\.0\.1\b", out, re.M), out
        assert re.search(r"3145728|3M", out), out
        # Nothing was started or created.
        assert not (d / "facteur.db").exists()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_config_unknown_key():
    d = make_tempdir()
    try:
        conf = d / "bad.conf"
        conf.write_text("hostname = mx.test.example\n"
                        "# a comment\n"
                        "max_recipients = 5\n"
                        "no_such_key = 1\n")
        r = subprocess.run([FACTEUR_BIN, "serve", "--config", str(conf),
                            "--data-dir", str(d), "--check-config"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, r.stderr
        assert "%s:4:" % conf in r.stderr, r.stderr
        assert "no_such_key" in r.stderr, r.stderr
        # In a section, and for the CLI too.
        conf.write_text("[smtp]\naddress = 127.0.0.1\nprot = 25\n")
        r = subprocess.run([FACTEUR_BIN, "domain", "list", "--config",
                            str(conf), "--data-dir", str(d)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, r.stderr
        assert "%s:3:" % conf in r.stderr and "prot" in r.stderr, r.stderr
        # A bad value names the key.
        conf.write_text("max_recipients = lots\n")
        r = subprocess.run([FACTEUR_BIN, "serve", "--config", str(conf),
                            "--data-dir", str(d), "--check-config"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2
        assert "%s:1:" % conf in r.stderr and "max_recipients" in r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)
