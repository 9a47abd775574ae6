package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationLock is the pg_advisory_xact_lock key that serializes schema
// migrations: several nodes starting at once on an empty database apply
// each migration exactly once ("roost" in ASCII, shifted).
const migrationLock int64 = 0x726f6f7374 << 8

// migrations are applied in order; migrations[i] brings the schema from
// version i to i+1. Never edit a released migration: append a new one.
var migrations = []string{
	// 1: initial schema. One schema for every account: accounts, then
	// mailboxes, messages and tombstones keyed by account or mailbox.
	`
CREATE TABLE accounts (
	id bigserial PRIMARY KEY,
	username text NOT NULL UNIQUE,
	last_uidvalidity bigint NOT NULL DEFAULT 0, -- the highest UIDVALIDITY given out
	created timestamptz NOT NULL DEFAULT now()
);

-- id is never reused (a sequence): a stale MailboxID finds nothing.
-- Every query by id also checks account_id.
CREATE TABLE mailboxes (
	id bigserial PRIMARY KEY,
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name text NOT NULL,
	uidvalidity bigint NOT NULL,
	uidnext bigint NOT NULL DEFAULT 1,
	highestmodseq bigint NOT NULL DEFAULT 1,
	special_use text NOT NULL DEFAULT '',
	-- Counters for STATUS, maintained by the messages_* triggers.
	messages bigint NOT NULL DEFAULT 0,
	unseen bigint NOT NULL DEFAULT 0,
	deleted bigint NOT NULL DEFAULT 0,
	size bigint NOT NULL DEFAULT 0,
	UNIQUE (account_id, name),
	UNIQUE (account_id, uidvalidity)
);

CREATE TABLE subscriptions (
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name text NOT NULL,
	PRIMARY KEY (account_id, name)
);

-- The spelling of each keyword at first use; lname is its ASCII lower
-- case (IMAP atoms are ASCII).
CREATE TABLE keywords (
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	lname text NOT NULL,
	name text NOT NULL,
	PRIMARY KEY (account_id, lname)
);

-- Message bodies of the default blob backend: one row per blob, its bytes
-- in chunks. A blob is usable once complete; incomplete ones are leftovers
-- of crashed writes, removed by Sweep.
CREATE TABLE blobs (
	id text PRIMARY KEY,
	size bigint NOT NULL DEFAULT 0,
	complete boolean NOT NULL DEFAULT false,
	created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX blobs_created ON blobs (created);
CREATE TABLE blob_chunks (
	blob_id text NOT NULL REFERENCES blobs(id) ON DELETE CASCADE,
	n integer NOT NULL,
	data bytea NOT NULL,
	PRIMARY KEY (blob_id, n)
);
-- Mail is stored as it came; skip compression attempts on every chunk.
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- One row per stored blob, shared by all messages (copies) referencing it:
-- what FETCH needs without reading the body.
CREATE TABLE contents (
	id bigserial PRIMARY KEY,
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	blob_id text NOT NULL UNIQUE,
	size bigint NOT NULL,
	header_size bigint NOT NULL,
	envelope text NOT NULL,
	bodystructure text NOT NULL,
	body text NOT NULL,
	parts bytea NOT NULL
);

-- The narrow message row (DESIGN.md 7). flags is a bit mask of the system
-- flags (1 \Seen, 2 \Answered, 4 \Flagged, 8 \Deleted, 16 \Draft);
-- keywords a space-separated sorted list of keyword spellings;
-- internal_date unix seconds, internal_tz the zone offset in seconds.
CREATE TABLE messages (
	mailbox_id bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid bigint NOT NULL,
	modseq bigint NOT NULL,
	flags integer NOT NULL DEFAULT 0,
	keywords text NOT NULL DEFAULT '',
	internal_date bigint NOT NULL,
	internal_tz integer NOT NULL DEFAULT 0,
	size bigint NOT NULL,
	content bigint NOT NULL REFERENCES contents(id),
	PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);
CREATE INDEX messages_content ON messages (content);
CREATE INDEX messages_keywords ON messages (mailbox_id, keywords) WHERE keywords <> '';
CREATE INDEX messages_deleted ON messages (mailbox_id, uid) WHERE (flags & 8) <> 0;
CREATE INDEX messages_unseen ON messages (mailbox_id, uid) WHERE (flags & 1) = 0;

CREATE TABLE tombstones (
	mailbox_id bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid bigint NOT NULL,
	modseq bigint NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX tombstones_modseq ON tombstones (mailbox_id, modseq);

-- STATUS counters. Row triggers: the mailbox row they update is already
-- locked by the transaction that changes its messages (see Append).
CREATE FUNCTION messages_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		UPDATE mailboxes SET
			messages = messages - 1,
			unseen = unseen - ((OLD.flags & 1) = 0)::int,
			deleted = deleted - ((OLD.flags & 8) <> 0)::int,
			size = size - OLD.size
		WHERE id = OLD.mailbox_id;
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		UPDATE mailboxes SET
			messages = messages + 1,
			unseen = unseen + ((NEW.flags & 1) = 0)::int,
			deleted = deleted + ((NEW.flags & 8) <> 0)::int,
			size = size + NEW.size
		WHERE id = NEW.mailbox_id;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER messages_insert AFTER INSERT ON messages
	FOR EACH ROW EXECUTE FUNCTION messages_counters();
CREATE TRIGGER messages_delete AFTER DELETE ON messages
	FOR EACH ROW EXECUTE FUNCTION messages_counters();
CREATE TRIGGER messages_update AFTER UPDATE OF flags, mailbox_id ON messages
	FOR EACH ROW WHEN (OLD.mailbox_id <> NEW.mailbox_id OR (OLD.flags & 9) <> (NEW.flags & 9))
	EXECUTE FUNCTION messages_counters();

-- Quota usage of each account (all mailboxes), kept by triggers in the
-- transaction of every insert and delete of a message; a move (UPDATE of
-- mailbox_id, always within one account) leaves it alone. A row of its
-- own, not in accounts: appends lock it after their mailbox row, while
-- mailbox creation, rename and deletion lock the account row first.
CREATE TABLE usage (
	account_id bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	storage bigint NOT NULL DEFAULT 0,
	messages bigint NOT NULL DEFAULT 0
);
CREATE FUNCTION messages_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		UPDATE usage SET storage = storage + NEW.size, messages = messages + 1
		WHERE account_id = (SELECT account_id FROM mailboxes WHERE id = NEW.mailbox_id);
	ELSE
		UPDATE usage SET storage = storage - OLD.size, messages = messages - 1
		WHERE account_id = (SELECT account_id FROM mailboxes WHERE id = OLD.mailbox_id);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER messages_usage_insert AFTER INSERT ON messages
	FOR EACH ROW EXECUTE FUNCTION messages_usage();
CREATE TRIGGER messages_usage_delete AFTER DELETE ON messages
	FOR EACH ROW EXECUTE FUNCTION messages_usage();
`,
}

// migrate brings the database to the current schema. It runs in one
// transaction that first takes pg_advisory_xact_lock(migrationLock), so
// nodes starting at once wait for each other and each migration runs
// once; the lock goes with the transaction, also if the node dies.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	// The common case, an up-to-date schema, takes no lock.
	var current int
	err := pool.QueryRow(ctx, `SELECT version FROM roost_schema`).Scan(&current)
	if err == nil && current == len(migrations) {
		return nil
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS roost_schema (version integer NOT NULL)`); err != nil {
			return err
		}
		var version int
		err := tx.QueryRow(ctx, `SELECT version FROM roost_schema`).Scan(&version)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if _, err := tx.Exec(ctx, `INSERT INTO roost_schema (version) VALUES (0)`); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		if version > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this program (%d)", version, len(migrations))
		}
		for i := version; i < len(migrations); i++ {
			if _, err := tx.Exec(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
		_, err = tx.Exec(ctx, `UPDATE roost_schema SET version = $1`, len(migrations))
		return err
	})
}
