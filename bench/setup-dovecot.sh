#!/bin/sh
# Debian's Dovecot configured as the reference for bench/imap_read.py.
#
#   sudo bench/setup-dovecot.sh [setup]   install if missing, configure, start
#   sudo bench/setup-dovecot.sh stop      stop this instance (nothing keeps
#                                         running)
#   sudo bench/setup-dovecot.sh clean     stop, remove its directory (mail,
#                                         indexes, log, certificate)
#   bench/setup-dovecot.sh status         exit 0 when this instance runs
#
# It runs a separate Dovecot instance from its own configuration file,
# $DIR/dovecot.conf (dovecot -c), with its own instance_name, base_dir,
# state_dir and log file, all under $DIR (default /tmp/facteur-bench-dovecot).
# It never reads or changes /etc/dovecot and never starts or stops the
# system's Dovecot service. While the package is installed, Debian's
# policy-rc.d mechanism is used to keep its service from starting.
#
# What it sets up:
#   - imap only, on 127.0.0.1: implicit TLS on $BENCH_IMAPS_PORT (21993)
#     with a self-signed P-256 certificate (the key type Facteur makes), and
#     IMAP on $BENCH_IMAP_PORT (21143) with STARTTLS offered but not
#     required (disable_plaintext_auth = no: loopback only);
#   - mailboxes u1..uN@$BENCH_DOMAIN in a passwd-file (passdb and userdb),
#     password "bench-password-N" ({PLAIN}), uid/gid $BENCH_UID, home
#     $DIR/home/uN, mail_location = maildir:~/Maildir (Maildir++ layout,
#     Dovecot's default);
#   - mail_max_userip_connections = 100 (the benchmark opens 10 sessions of
#     one user at once; Dovecot's default is 10);
#   - everything else is Dovecot's default: mail_fsync = optimized,
#     mailbox_list_index = yes, default cache decisions, one imap process and
#     one imap-login process (which terminates TLS) per connection.
# Running it again rewrites the configuration and restarts the instance.
#
# Environment: BENCH_DOVECOT_DIR (/tmp/facteur-bench-dovecot),
# BENCH_IMAPS_PORT (21993), BENCH_IMAP_PORT (21143), BENCH_DOMAIN
# (bench.example), BENCH_MAILBOXES (10), BENCH_UID (5000, owner of the
# Maildirs; needs no passwd entry).
set -eu

DIR=${BENCH_DOVECOT_DIR:-/tmp/facteur-bench-dovecot}
IMAPS_PORT=${BENCH_IMAPS_PORT:-21993}
IMAP_PORT=${BENCH_IMAP_PORT:-21143}
DOMAIN=${BENCH_DOMAIN:-bench.example}
NBOX=${BENCH_MAILBOXES:-10}
VUID=${BENCH_UID:-5000}
CONF=$DIR/dovecot.conf
PIDFILE=$DIR/run/master.pid
LOG=$DIR/dovecot.log
MARK="# facteur-bench: written by bench/setup-dovecot.sh"

die() { echo "setup-dovecot: $*" >&2; exit 1; }

need_root() {
	[ "$(id -u)" = 0 ] || die "run as root (it installs and starts Dovecot)"
}

master_pid() {
	[ -f "$PIDFILE" ] || return 1
	pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	[ -d "/proc/$pid" ] || return 1
	# The pid must still be a dovecot master started with our file.
	tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$CONF" ||
	    return 1
	echo "$pid"
}

running() {
	master_pid >/dev/null
}

do_stop() {
	if ! pid=$(master_pid); then
		echo "setup-dovecot: not running"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	i=0
	while [ -d "/proc/$pid" ] && [ $i -lt 100 ]; do	# at most 10 s
		sleep 0.1
		i=$((i + 1))
	done
	if [ -d "/proc/$pid" ]; then
		die "dovecot master $pid still running after 10 s"
	fi
	echo "setup-dovecot: stopped"
}

listening() {
	/usr/bin/python3 -c "import socket
socket.create_connection(('127.0.0.1', $1), 1).close()" 2>/dev/null
}

case "${1:-setup}" in
status)
	if pid=$(master_pid); then
		echo "running: master pid $pid, imaps 127.0.0.1:$IMAPS_PORT," \
		    "imap 127.0.0.1:$IMAP_PORT, dir $DIR"
		exit 0
	fi
	echo "not running"
	exit 1
	;;
stop)
	need_root
	do_stop
	exit 0
	;;
clean)
	need_root
	do_stop
	case "$DIR" in
	/tmp/facteur-bench-dovecot*)
		rm -rf "$DIR"
		echo "setup-dovecot: removed $DIR"
		;;
	*)
		echo "setup-dovecot: $DIR is not under" \
		    "/tmp/facteur-bench-dovecot*: not removed"
		;;
	esac
	exit 0
	;;
setup) ;;
*)
	echo "usage: $0 [setup|stop|clean|status]" >&2
	exit 2
	;;
esac

need_root
case "$IMAPS_PORT$IMAP_PORT$NBOX$VUID" in
*[!0-9]*) die "ports, BENCH_MAILBOXES and BENCH_UID must be numbers" ;;
esac
if [ "$NBOX" -lt 1 ] || [ "$NBOX" -gt 10000 ]; then
	die "BENCH_MAILBOXES: 1..10000"
fi
[ "$VUID" -ge 500 ] || die "BENCH_UID must be >= 500 (first_valid_uid)"
case "$DIR" in
/*) ;;
*) die "BENCH_DOVECOT_DIR must be absolute" ;;
esac
if [ -f "$CONF" ] && ! grep -q "^$MARK" "$CONF"; then
	die "$CONF was not written by this script"
fi

# 1. Install without letting the package start the system's Dovecot on
# 143/993: a policy-rc.d that says "no" while apt runs, unless there is one.
if ! [ -x /usr/sbin/dovecot ] || ! [ -x /usr/lib/dovecot/imap ]; then
	echo "setup-dovecot: installing dovecot-imapd"
	made_policy=
	if ! [ -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		made_policy=1
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd ||
	    { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -q dovecot-imapd; }
	if [ -n "$made_policy" ]; then
		rm -f /usr/sbin/policy-rc.d
		trap - EXIT
	fi
fi
if ! getent passwd dovecot >/dev/null ||
    ! getent passwd dovenull >/dev/null; then
	die "users dovecot and dovenull missing (the package makes them)"
fi

# 2. Our directory: configuration, certificate, users, homes, state, log.
mkdir -p "$DIR" "$DIR/run" "$DIR/state" "$DIR/home"
chmod 0755 "$DIR" "$DIR/home"
chown "$VUID:$VUID" "$DIR/home"
if ! [ -s "$DIR/cert.pem" ] || ! [ -s "$DIR/key.pem" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -days 3650 -subj /CN=dovecot-bench.localdomain \
	    -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null ||
	    die "openssl could not make a certificate"
	chmod 0600 "$DIR/key.pem"
fi

: > "$DIR/users.tmp"
i=1
while [ "$i" -le "$NBOX" ]; do
	echo "u$i@$DOMAIN:{PLAIN}bench-password-$i:$VUID:$VUID::$DIR/home/u$i::" \
	    >> "$DIR/users.tmp"
	mkdir -p "$DIR/home/u$i"
	chown "$VUID:$VUID" "$DIR/home/u$i"
	i=$((i + 1))
done
chmod 0644 "$DIR/users.tmp"
mv "$DIR/users.tmp" "$DIR/users"

cat > "$CONF.tmp" <<EOF
$MARK
# Rewritten on every run. Settings not named here are Dovecot's defaults.
instance_name = facteur-bench
base_dir = $DIR/run
state_dir = $DIR/state
log_path = $LOG
info_log_path = $LOG
protocols = imap
listen = 127.0.0.1
shutdown_clients = yes

ssl = yes
ssl_cert = <$DIR/cert.pem
ssl_key = <$DIR/key.pem
# Loopback only: the plaintext listener may take credentials.
disable_plaintext_auth = no
auth_mechanisms = plain login

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DIR/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $DIR/users
}

mail_location = maildir:~/Maildir
first_valid_uid = 500
mail_max_userip_connections = 100

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
}
# Nothing else listens: no pop3, lmtp, submission or doveadm ports.
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
mv "$CONF.tmp" "$CONF"
doveconf -c "$CONF" -n >/dev/null || die "doveconf refused $CONF"

# 3. (Re)start.
do_stop >/dev/null
dovecot -c "$CONF" || die "dovecot did not start (see $LOG)"

i=0
until listening "$IMAPS_PORT"; do
	i=$((i + 1))
	[ $i -lt 100 ] ||
	    die "nothing listens on 127.0.0.1:$IMAPS_PORT after 10 s (see $LOG)"
	sleep 0.1
done
echo "setup-dovecot: dovecot $(dovecot --version | cut -d' ' -f1) listens on" \
    "127.0.0.1:$IMAPS_PORT (imaps) and :$IMAP_PORT (imap), master pid" \
    "$(master_pid), $NBOX mailboxes u1..u$NBOX@$DOMAIN under $DIR/home" \
    "(log: $LOG)"
