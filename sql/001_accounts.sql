-- Accounts database, schema version 1: the whole mission's accounts model.
-- Addresses and domain names are stored lower-case, domains as A-labels.

CREATE TABLE domains (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	enabled INTEGER NOT NULL DEFAULT 1,
	max_mailboxes INTEGER NOT NULL DEFAULT 0,	-- 0: unlimited
	default_quota INTEGER NOT NULL DEFAULT 0,	-- bytes, 0: unlimited
	created INTEGER NOT NULL			-- unix time
);

CREATE TABLE mailboxes (
	id INTEGER PRIMARY KEY,
	domain_id INTEGER NOT NULL REFERENCES domains(id),
	address TEXT NOT NULL UNIQUE,			-- local@domain
	password_hash TEXT NOT NULL,
	display_name TEXT NOT NULL DEFAULT '',
	quota INTEGER NOT NULL DEFAULT 0,		-- bytes, 0: unlimited
	enabled INTEGER NOT NULL DEFAULT 1,
	send_limit_hour INTEGER,			-- NULL: config default
	rcpt_limit_day INTEGER,				-- NULL: config default
	created INTEGER NOT NULL,
	last_login INTEGER
);
CREATE INDEX mailboxes_domain ON mailboxes(domain_id);

-- An alias maps one source (local@domain, or @domain for a catch-all) to
-- one or more destinations, local or external.
CREATE TABLE aliases (
	id INTEGER PRIMARY KEY,
	domain_id INTEGER NOT NULL REFERENCES domains(id),
	source TEXT NOT NULL UNIQUE,
	enabled INTEGER NOT NULL DEFAULT 1,
	created INTEGER NOT NULL
);
CREATE INDEX aliases_domain ON aliases(domain_id);

CREATE TABLE alias_destinations (
	alias_id INTEGER NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,
	destination TEXT NOT NULL,
	PRIMARY KEY (alias_id, destination)
);

CREATE TABLE admins (
	id INTEGER PRIMARY KEY,
	username TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	created INTEGER NOT NULL,
	last_login INTEGER
);

CREATE TABLE api_tokens (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	token_hash TEXT NOT NULL UNIQUE,		-- SHA-256 of the secret, hex
	scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
	created INTEGER NOT NULL,
	expires INTEGER,				-- NULL: never
	last_used INTEGER,
	revoked INTEGER NOT NULL DEFAULT 0
);

-- A token restricted to some domains lists them here; none: all domains.
CREATE TABLE api_token_domains (
	token_id INTEGER NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
	domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
	PRIMARY KEY (token_id, domain_id)
);

CREATE TABLE audit_log (
	id INTEGER PRIMARY KEY,
	ts INTEGER NOT NULL,
	actor TEXT NOT NULL,		-- "cli:root", "admin:name", "token:name"
	remote TEXT NOT NULL DEFAULT '',	-- client address, or "" for the CLI
	action TEXT NOT NULL,		-- "domain.add", "mailbox.remove", ...
	target TEXT NOT NULL,
	details TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_ts ON audit_log(ts);
