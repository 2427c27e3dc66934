#!/bin/sh
# Installs the Debian 12 packages Facteur needs to build, run and test.
# A no-op when everything is present; uses sudo when not run as root.
# Each package is listed beside the reason it is here.
set -eu

PACKAGES="
build-essential
pkg-config
libevent-dev
libssl-dev
openssl
libsqlite3-dev
libsodium-dev
libcrypt-dev
libinih-dev
libunbound-dev
libmicrohttpd-dev
libjansson-dev
python3
python3-pytest
python3-aiosmtpd
python3-dnslib
python3-dkim
swaks
libnet-ssleay-perl
libio-socket-ssl-perl
curl
chromium
fonts-dejavu-core
"

# Node.js and npm run the browser tests (playwright-core, from npm, drives
# Debian's chromium). A machine that has them already (another packaging
# of Node.js, say) keeps its own: Debian's npm would replace it.
command -v node >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs"
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES npm"

# The unprivileged user `facteur serve` drops to when started as root.
need_user=0
id facteur >/dev/null 2>&1 || need_user=1

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && [ "$need_user" -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -q --no-install-recommends $missing
fi
if [ "$need_user" -eq 1 ]; then
	echo "install-deps: creating system user facteur"
	$SUDO useradd --system --user-group --no-create-home \
	    --home-dir /var/lib/facteur --shell /usr/sbin/nologin facteur
fi
