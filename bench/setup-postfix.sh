#!/bin/sh
# Debian's Postfix configured as the reference for bench/smtp_inbound.py.
#
#   sudo bench/setup-postfix.sh [setup]   install if missing, configure, start
#   sudo bench/setup-postfix.sh stop      stop Postfix (nothing keeps running)
#   sudo bench/setup-postfix.sh clean     stop, remove the mail directory and
#                                         the log
#   bench/setup-postfix.sh status         exit 0 when Postfix runs
#
# It takes over the MAIN Postfix instance of this machine: meant for a
# development or CI machine where Postfix is installed only for this. It
# refuses to touch an /etc/postfix/main.cf it did not write (FORCE=1 to
# override; the old file is kept as main.cf.before-bench).
#
# What it sets up:
#   - smtpd on 127.0.0.1:$BENCH_PORT only (master.cf service
#     "127.0.0.1:PORT"); the stock port-25 listener is commented out;
#   - virtual mailbox domain $BENCH_DOMAIN with $BENCH_MAILBOXES mailboxes
#     u1..uN, each a Maildir (map value with a trailing slash) under
#     virtual_mailbox_base, a directory made with mktemp under /tmp and
#     reused on later runs;
#   - no content filter, no milter, no client/helo/sender restrictions,
#     no DNS: smtpd_peername_lookup = no, smtp_host_lookup = native,
#     smtp_dns_support_level = disabled;
#   - everything else is Debian's/Postfix's default (chrooted smtpd and
#     cleanup, in_flow_delay = 1s, process limit 100, and so on).
# Running it again rewrites the same configuration and reloads.
#
# Environment: BENCH_PORT (2525), BENCH_DOMAIN (bench.example),
# BENCH_MAILBOXES (10), BENCH_UID (5000, owner of the Maildirs; needs no
# passwd entry), FORCE.
set -eu

PORT=${BENCH_PORT:-2525}
DOMAIN=${BENCH_DOMAIN:-bench.example}
NBOX=${BENCH_MAILBOXES:-10}
VUID=${BENCH_UID:-5000}
MARK="# facteur-bench: written by bench/setup-postfix.sh"
MAIN=/etc/postfix/main.cf
MAP=/etc/postfix/bench_vmailbox
LOG=/var/log/postfix-bench.log

die() { echo "setup-postfix: $*" >&2; exit 1; }

need_root() {
	[ "$(id -u)" = 0 ] || die "run as root (it installs and starts Postfix)"
}

running() {
	command -v postfix >/dev/null 2>&1 && postfix status >/dev/null 2>&1
}

do_stop() {
	if ! running; then
		echo "setup-postfix: postfix is not running"
		return 0
	fi
	postfix stop >/dev/null 2>&1 || true
	i=0
	while running && [ $i -lt 100 ]; do	# at most 10 s
		sleep 0.1
		i=$((i + 1))
	done
	if running; then
		die "postfix still running after 10 s"
	fi
	echo "setup-postfix: postfix stopped"
}

# The "127.0.0.1:PORT" inet services of master.cf.
bench_services() {
	postconf -M 2>/dev/null |
	    awk '$2 == "inet" && $1 ~ /^127\.0\.0\.1:/ {print $1}'
}

listening() {
	/usr/bin/python3 -c "import socket
socket.create_connection(('127.0.0.1', $1), 1).close()" 2>/dev/null
}

current_base() {
	[ -f "$MAIN" ] || return 0
	postconf -h virtual_mailbox_base 2>/dev/null || true
}

case "${1:-setup}" in
status)
	if running; then
		listen=$(bench_services)
		echo "running: ${listen:-?} base=$(current_base)"
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
	base=$(current_base)
	case "$base" in
	/tmp/facteur-bench-postfix.*)
		rm -rf "$base"
		echo "setup-postfix: removed $base"
		;;
	esac
	rm -f "$LOG"
	exit 0
	;;
setup) ;;
*)
	echo "usage: $0 [setup|stop|clean|status]" >&2
	exit 2
	;;
esac

need_root
case "$PORT$NBOX$VUID" in
*[!0-9]*) die "BENCH_PORT, BENCH_MAILBOXES and BENCH_UID must be numbers" ;;
esac
if [ "$NBOX" -lt 1 ] || [ "$NBOX" -gt 10000 ]; then
	die "BENCH_MAILBOXES: 1..10000"
fi
[ "$VUID" -ge 100 ] || die "BENCH_UID must be >= 100 (virtual_minimum_uid)"

# 1. Install, without the interactive debconf question and without letting
# the package configure a mail system ("No configuration").
if ! command -v postfix >/dev/null 2>&1 || ! [ -x /usr/sbin/postfix ]; then
	echo "setup-postfix: installing postfix"
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix ||
	    { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -q postfix; }
fi

# 2. main.cf: ours, or nothing there yet.
if [ -f "$MAIN" ] && ! grep -q "^$MARK" "$MAIN"; then
	if [ "${FORCE:-}" != 1 ]; then
		die "$MAIN was not written by this script; FORCE=1 to replace it"
	fi
	cp -p "$MAIN" "$MAIN.before-bench"
fi

base=$(current_base)
case "$base" in
/tmp/facteur-bench-postfix.*) [ -d "$base" ] || base= ;;
*) base= ;;
esac
if [ -z "$base" ]; then
	base=$(mktemp -d /tmp/facteur-bench-postfix.XXXXXX)
fi
chmod 0755 "$base"
chown "$VUID:$VUID" "$base"

cat > "$MAIN.tmp" <<EOF
$MARK
# Rewritten on every run; virtual_mailbox_base is kept.
compatibility_level = 3.6
myhostname = postfix-bench.localdomain
mydomain = localdomain
myorigin = \$myhostname
mydestination =
local_transport = error:local delivery is disabled
alias_maps =
alias_database =
relayhost =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
biff = no
append_dot_mydomain = no
smtpd_banner = \$myhostname ESMTP
maillog_file = $LOG

# No DNS anywhere.
smtpd_peername_lookup = no
smtp_host_lookup = native
smtp_dns_support_level = disabled

# No filters, no restrictions beyond "not an open relay".
content_filter =
smtpd_milters =
non_smtpd_milters =
header_checks =
body_checks =
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
smtpd_recipient_restrictions =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination

# The benchmark's mailboxes.
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_base = $base
virtual_mailbox_maps = hash:$MAP
virtual_alias_maps =
virtual_uid_maps = static:$VUID
virtual_gid_maps = static:$VUID
EOF
mv "$MAIN.tmp" "$MAIN"

: > "$MAP.tmp"
i=1
while [ "$i" -le "$NBOX" ]; do
	echo "u$i@$DOMAIN $DOMAIN/u$i/" >> "$MAP.tmp"
	i=$((i + 1))
done
mv "$MAP.tmp" "$MAP"
postmap "hash:$MAP"

# 3. master.cf: no port 25, one smtpd on 127.0.0.1:PORT.
if postconf -M smtp/inet >/dev/null 2>&1 &&
    [ -n "$(postconf -M smtp/inet 2>/dev/null)" ]; then
	postconf -M# smtp/inet
fi
for svc in $(bench_services); do
	[ "$svc" = "127.0.0.1:$PORT" ] || postconf -MX "$svc/inet"
done
postconf -Me "127.0.0.1:$PORT/inet=127.0.0.1:$PORT inet n - y - - smtpd"

# 4. Start or reload. configure-instance.sh is what Debian's init script and
# systemd unit run first (it fills the chroot under /var/spool/postfix).
if [ -x /usr/lib/postfix/configure-instance.sh ]; then
	/usr/lib/postfix/configure-instance.sh - >/dev/null
fi
postfix check
if running; then
	postfix reload >/dev/null 2>&1
else
	postfix start >/dev/null 2>&1
fi

i=0
until listening "$PORT"; do
	i=$((i + 1))
	[ $i -lt 100 ] ||
	    die "nothing listens on 127.0.0.1:$PORT after 10 s (see $LOG)"
	sleep 0.1
done
echo "setup-postfix: postfix listens on 127.0.0.1:$PORT, $NBOX mailboxes" \
    "u1..u$NBOX@$DOMAIN under $base (log: $LOG)"
