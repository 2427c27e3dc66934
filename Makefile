# Facteur: one non-recursive GNU Makefile.
#   make                          build build/facteur
#   make SANITIZE=address,undefined   instrumented copy in build/sanitize/
#   make run                      build and start an instance in ./var
#   make test                     unit tests (C), end-to-end tests (pytest),
#                                 then browser tests (chromium, playwright-core)

.DEFAULT_GOAL := all
SHELL := /bin/sh

CC ?= cc
PYTHON := /usr/bin/python3
PKGS := libevent_core libevent_openssl libevent_pthreads openssl sqlite3 \
	libsodium libxcrypt inih libunbound libmicrohttpd jansson

ifeq ($(SANITIZE),)
B := build
SANFLAGS :=
else
B := build/sanitize
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wformat-truncation=1 -Wvla \
	-Wimplicit-fallthrough -Wno-unused-parameter
# Recursive variables: pkg-config runs only after the deps step installed it.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(SANFLAGS) $(CFLAGS) \
	-Idaemon -I$(B)/gen $(PKG_CFLAGS)
ALL_LDFLAGS = -pthread $(SANFLAGS) $(LDFLAGS)

# Modules in reading order; parsers depend on lib/ alone.
LIB_SRC := daemon/lib/util.c daemon/lib/log.c daemon/lib/buf.c \
	daemon/lib/addr.c daemon/lib/config.c daemon/lib/punycode.c \
	daemon/lib/base64.c daemon/lib/mutf7.c
AUTH_SRC := daemon/auth/password.c daemon/auth/sasl.c daemon/auth/auth.c \
	daemon/auth/auth_conn.c
DB_SRC := daemon/db/db.c daemon/db/mailindex.c
STORE_SRC := daemon/store/maildir.c daemon/store/mailbox.c daemon/store/mime.c
NET_SRC := daemon/net/net.c daemon/net/tls.c daemon/net/worker.c
SMTP_SRC := daemon/smtp/smtp_parser.c daemon/smtp/smtp_server.c \
	daemon/smtp/delivery.c daemon/smtp/sendlimit.c daemon/smtp/queue.c \
	daemon/smtp/client.c daemon/smtp/dkim.c
DNS_SRC := daemon/dns/dns.c
POP3_SRC := daemon/pop3/pop3_parser.c daemon/pop3/pop3_server.c
IMAP_SRC := daemon/imap/imap_parser.c daemon/imap/imap_server.c \
	daemon/imap/imap_fetch.c daemon/imap/imap_search.c
WEBADMIN_SRC := daemon/admin/service.c daemon/admin/dnsrecords.c \
	daemon/webadmin/routes.c daemon/webadmin/api.c daemon/webadmin/web.c \
	daemon/webadmin/autoconfig.c daemon/webadmin/assets.c
MAIN_SRC := daemon/main.c daemon/cli.c daemon/serve.c
GEN_SRC := $(B)/gen/migrations.c $(B)/gen/assets.c
# The browser panel: every file under static/ is compiled in.
ASSETS := $(sort $(shell find static -type f 2>/dev/null))

SRC := $(LIB_SRC) $(AUTH_SRC) $(DB_SRC) $(STORE_SRC) $(NET_SRC) \
	$(SMTP_SRC) $(DNS_SRC) $(POP3_SRC) $(IMAP_SRC) $(WEBADMIN_SRC) \
	$(MAIN_SRC)
OBJ := $(SRC:%.c=$(B)/obj/%.o) $(GEN_SRC:$(B)/gen/%.c=$(B)/obj/gen/%.o)

# Unit tests: each links its module and lib/ only.
UNIT_TESTS := smtp_parser addr password config sasl pop3_parser mailbox auth sendlimit dns smtp_client dkim routes \
	imap_parser mutf7 mime imap_fetch imap_search assets
UNIT_smtp_parser := daemon/smtp/smtp_parser.c daemon/lib/util.c
UNIT_addr := daemon/lib/addr.c daemon/lib/punycode.c daemon/lib/util.c
UNIT_password := daemon/auth/password.c daemon/lib/util.c
UNIT_pop3_parser := daemon/pop3/pop3_parser.c daemon/lib/util.c
UNIT_imap_parser := daemon/imap/imap_parser.c daemon/lib/buf.c daemon/lib/util.c
UNIT_mutf7 := daemon/lib/mutf7.c daemon/lib/base64.c daemon/lib/buf.c daemon/lib/util.c
UNIT_mime := daemon/store/mime.c daemon/lib/base64.c daemon/lib/buf.c \
	daemon/lib/util.c
# The IMAP FETCH and SEARCH engines run over a real store in a temporary
# Maildir.
UNIT_imap_store := daemon/imap/imap_parser.c daemon/store/mime.c \
	daemon/store/mailbox.c daemon/store/maildir.c daemon/db/mailindex.c \
	daemon/lib/mutf7.c daemon/lib/base64.c daemon/lib/addr.c \
	daemon/lib/punycode.c daemon/lib/util.c daemon/lib/log.c daemon/lib/buf.c
UNIT_imap_fetch := daemon/imap/imap_fetch.c $(UNIT_imap_store)
UNIT_imap_search := daemon/imap/imap_search.c $(UNIT_imap_store)
UNIT_mailbox := daemon/store/mailbox.c daemon/store/maildir.c \
	daemon/lib/mutf7.c daemon/lib/base64.c \
	daemon/lib/addr.c daemon/lib/punycode.c \
	daemon/db/mailindex.c daemon/lib/util.c daemon/lib/log.c daemon/lib/buf.c
UNIT_auth := daemon/auth/auth.c daemon/auth/password.c daemon/db/db.c \
	daemon/lib/addr.c daemon/lib/punycode.c daemon/lib/log.c \
	daemon/lib/util.c $(B)/gen/migrations.c
UNIT_dns := daemon/dns/dns.c daemon/lib/util.c
UNIT_smtp_client := daemon/smtp/client.c daemon/lib/base64.c daemon/lib/util.c
UNIT_dkim := daemon/smtp/dkim.c daemon/lib/base64.c daemon/lib/buf.c \
	daemon/lib/util.c
UNIT_routes := daemon/webadmin/routes.c daemon/admin/service.c \
	daemon/admin/dnsrecords.c daemon/auth/auth.c \
	daemon/db/db.c daemon/auth/password.c daemon/store/maildir.c \
	daemon/store/mailbox.c daemon/db/mailindex.c daemon/lib/mutf7.c \
	daemon/smtp/dkim.c daemon/lib/config.c daemon/lib/addr.c \
	daemon/lib/punycode.c daemon/lib/base64.c daemon/lib/buf.c \
	daemon/lib/log.c daemon/lib/util.c $(B)/gen/migrations.c
UNIT_sendlimit := daemon/smtp/sendlimit.c daemon/lib/util.c
UNIT_assets := daemon/webadmin/assets.c daemon/webadmin/web.c \
	daemon/lib/util.c $(B)/gen/assets.c
UNIT_sasl := daemon/auth/sasl.c daemon/lib/base64.c daemon/lib/util.c
UNIT_config := daemon/lib/config.c daemon/lib/addr.c daemon/lib/punycode.c \
	daemon/lib/util.c
UNIT_BINS := $(UNIT_TESTS:%=$(B)/tests/test_%)

# Fuzz targets (tests/fuzz/fuzz_*.c, libFuzzer's entry point). `make test`
# replays their seed corpora with gcc; `make fuzz` builds them with clang's
# libFuzzer for real fuzzing (FUZZ_TIME seconds each).
FUZZ_TARGETS := smtp_parser addr pop3_parser imap_parser mime
FUZZ_smtp_parser := $(UNIT_smtp_parser)
FUZZ_addr := $(UNIT_addr)
FUZZ_pop3_parser := $(UNIT_pop3_parser)
FUZZ_imap_parser := $(UNIT_imap_parser) daemon/lib/mutf7.c daemon/lib/base64.c
FUZZ_mime := $(UNIT_mime)
REPLAY_BINS := $(FUZZ_TARGETS:%=$(B)/tests/replay_%)
FUZZ_TIME ?= 60

.PHONY: all deps run test test-unit test-e2e test-browser fuzz clean FORCE
all: $(B)/facteur

deps:
	@packaging/install-deps.sh

$(B)/facteur: $(OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $(OBJ) $(PKG_LIBS)

$(B)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/obj/gen/%.o: $(B)/gen/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# The migrations in sql/ are compiled into the binary.
$(B)/gen/migrations.c: $(sort $(wildcard sql/*.sql)) tools/embed-sql.sh
	@mkdir -p $(dir $@)
	tools/embed-sql.sh $(sort $(wildcard sql/*.sql)) > $@.tmp && mv $@.tmp $@

# So are the panel's files in static/ (the list is in the rule's inputs:
# a file added or removed remakes it too, through the .list file).
$(B)/gen/assets.list: FORCE
	@mkdir -p $(dir $@)
	@echo '$(ASSETS)' | cmp -s - $@ || echo '$(ASSETS)' > $@
$(B)/gen/assets.c: $(ASSETS) $(B)/gen/assets.list tools/embed-assets.sh
	@mkdir -p $(dir $@)
	tools/embed-assets.sh static $(ASSETS) > $@.tmp && mv $@.tmp $@

# A test is rebuilt when its module or any header it includes changes.
.SECONDEXPANSION:
$(B)/tests/test_%: tests/unit/test_%.c $$(UNIT_$$*) | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -MMD -MP -o $@ $< $(UNIT_$*) \
		$(ALL_LDFLAGS) $(PKG_LIBS)

$(B)/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $$(FUZZ_$$*) \
		| deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -o $@ $< tests/fuzz/replay.c $(FUZZ_$*) \
		$(ALL_LDFLAGS) $(PKG_LIBS)

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_$$*) | deps
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Idaemon \
		-fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_$*) \
		$(PKG_LIBS)

fuzz: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus-$$t; \
		build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) \
			build/fuzz/corpus-$$t tests/fuzz/corpus/$$t || exit 1; \
	done

run: $(B)/facteur
	@mkdir -p var
	$(B)/facteur serve --data-dir ./var --port-offset 10000

test: test-unit test-e2e test-browser

test-unit: $(UNIT_BINS) $(REPLAY_BINS)
	@rc=0; for t in $(UNIT_BINS); do $$t || rc=1; done; \
	for t in $(FUZZ_TARGETS); do \
		$(B)/tests/replay_$$t tests/fuzz/corpus/$$t/* || rc=1; \
	done; exit $$rc

test-e2e: $(B)/facteur | deps
	FACTEUR_BIN=$(abspath $(B)/facteur) $(PYTHON) -m pytest -q tests/e2e

# The browser tests' npm packages (playwright-core, pinned in the lock
# file), installed again when node_modules is missing or the lock changed.
BROWSER := tests/browser
$(BROWSER)/node_modules/.package-lock.json: $(BROWSER)/package-lock.json \
		$(BROWSER)/package.json | deps
	cd $(BROWSER) && npm ci --no-audit --no-fund
	@touch $@

test-browser: $(B)/facteur $(BROWSER)/node_modules/.package-lock.json | deps
	FACTEUR_BIN=$(abspath $(B)/facteur) node $(BROWSER)/run.mjs

clean:
	rm -rf build

-include $(OBJ:.o=.d) $(wildcard $(B)/tests/*.d)
