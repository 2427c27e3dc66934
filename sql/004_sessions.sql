-- Schema version 4: browser sessions of the admin API, and indexes for
-- the paginated audit list.

-- A signed-in browser: the cookie holds a random id; only its SHA-256
-- is stored. role 'admin' names an admin, 'mailbox' a mailbox address.
CREATE TABLE sessions (
	id INTEGER PRIMARY KEY,
	id_hash TEXT NOT NULL UNIQUE,		-- SHA-256 of the cookie value, hex
	role TEXT NOT NULL CHECK (role IN ('admin', 'mailbox')),
	username TEXT NOT NULL,
	csrf_token TEXT NOT NULL,		-- X-CSRF-Token for changes
	remote TEXT NOT NULL DEFAULT '',	-- client address at sign-in
	created INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,		-- idle timeout counts from here
	expires INTEGER NOT NULL		-- absolute end
);
CREATE INDEX sessions_user ON sessions(role, username);

CREATE INDEX audit_log_actor ON audit_log(actor, id);
