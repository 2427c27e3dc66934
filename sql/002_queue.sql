-- Schema version 2: the outbound queue. A message waiting for delivery to
-- other domains is a spool file DATA_DIR/queue/ID plus these rows; it is
-- removed when every recipient is sent or has failed (and bounced).

CREATE TABLE queue (
	id TEXT PRIMARY KEY,			-- also the spool file's name
	sender TEXT NOT NULL,			-- reverse-path, '' for bounces
	size INTEGER NOT NULL,			-- spool file size
	need_8bit INTEGER NOT NULL DEFAULT 0,	-- body has 8-bit bytes
	need_utf8 INTEGER NOT NULL DEFAULT 0,	-- SMTPUTF8 needed
	created INTEGER NOT NULL
);

CREATE TABLE queue_rcpts (
	queue_id TEXT NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
	rcpt TEXT NOT NULL,
	domain TEXT NOT NULL,
	-- failed: permanently, bounce not sent yet; bounced: bounce sent
	status TEXT NOT NULL DEFAULT 'pending'
	    CHECK (status IN ('pending', 'sent', 'failed', 'bounced')),
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	last_error TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (queue_id, rcpt)
);
CREATE INDEX queue_rcpts_due ON queue_rcpts(status, next_attempt);
