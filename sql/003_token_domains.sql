-- Schema version 3: a token restricted to domains says so itself, so that
-- removing its last domain (api_token_domains rows go with the domain)
-- leaves it with no domain rather than with all of them.

ALTER TABLE api_tokens ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0;
