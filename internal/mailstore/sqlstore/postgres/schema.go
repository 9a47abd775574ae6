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

-- STATUS counters and quota usage, kept by statement-level triggers with
-- transition tables: one UPDATE per mailbox (and one of usage) per
-- statement, whatever the number of rows. Row triggers would update the
-- same mailbox row once per message, leaving a chain of dead versions that
-- each later update walks: an EXPUNGE or COPY of 100,000 messages in one
-- transaction became quadratic. The mailbox rows they update are already
-- locked by the transaction that changes their messages (see Append).
CREATE FUNCTION messages_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		UPDATE mailboxes b SET messages = b.messages + d.n, unseen = b.unseen + d.unseen,
			deleted = b.deleted + d.deleted, size = b.size + d.size
		FROM (SELECT mailbox_id, count(*) AS n, count(*) FILTER (WHERE flags & 1 = 0) AS unseen,
				count(*) FILTER (WHERE flags & 8 <> 0) AS deleted, sum(size) AS size
			FROM new_rows GROUP BY mailbox_id) d
		WHERE b.id = d.mailbox_id;
		UPDATE usage u SET storage = u.storage + d.size, messages = u.messages + d.n
		FROM (SELECT b.account_id, count(*) AS n, sum(r.size) AS size
			FROM new_rows r JOIN mailboxes b ON b.id = r.mailbox_id GROUP BY b.account_id) d
		WHERE u.account_id = d.account_id;
	ELSIF TG_OP = 'DELETE' THEN
		UPDATE mailboxes b SET messages = b.messages - d.n, unseen = b.unseen - d.unseen,
			deleted = b.deleted - d.deleted, size = b.size - d.size
		FROM (SELECT mailbox_id, count(*) AS n, count(*) FILTER (WHERE flags & 1 = 0) AS unseen,
				count(*) FILTER (WHERE flags & 8 <> 0) AS deleted, sum(size) AS size
			FROM old_rows GROUP BY mailbox_id) d
		WHERE b.id = d.mailbox_id;
		UPDATE usage u SET storage = u.storage - d.size, messages = u.messages - d.n
		FROM (SELECT b.account_id, count(*) AS n, sum(r.size) AS size
			FROM old_rows r JOIN mailboxes b ON b.id = r.mailbox_id GROUP BY b.account_id) d
		WHERE u.account_id = d.account_id;
	ELSE
		-- UPDATE: flag changes and moves between mailboxes of one account
		-- (quota usage stays). The difference of the new and old rows per
		-- mailbox; mailboxes whose counters do not change are left alone.
		UPDATE mailboxes b SET messages = b.messages + d.n, unseen = b.unseen + d.unseen,
			deleted = b.deleted + d.deleted, size = b.size + d.size
		FROM (SELECT mailbox_id, sum(n) AS n, sum(unseen) AS unseen, sum(deleted) AS deleted, sum(size) AS size
			FROM (SELECT mailbox_id, 1 AS n, (flags & 1 = 0)::int AS unseen, (flags & 8 <> 0)::int AS deleted, size FROM new_rows
				UNION ALL
				SELECT mailbox_id, -1, -(flags & 1 = 0)::int, -(flags & 8 <> 0)::int, -size FROM old_rows) x
			GROUP BY mailbox_id) d
		WHERE b.id = d.mailbox_id AND (d.n <> 0 OR d.unseen <> 0 OR d.deleted <> 0 OR d.size <> 0);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER messages_insert AFTER INSERT ON messages REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION messages_counters();
CREATE TRIGGER messages_delete AFTER DELETE ON messages REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION messages_counters();
CREATE TRIGGER messages_update AFTER UPDATE ON messages REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION messages_counters();

-- Quota usage of each account (all mailboxes), kept by messages_counters
-- in the transaction of every insert and delete of a message; a move
-- (UPDATE of mailbox_id, always within one account) leaves it alone. A row
-- of its own, not in accounts: appends lock it after their mailbox row,
-- while mailbox creation, rename and deletion lock the account row first.
CREATE TABLE usage (
	account_id bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	storage bigint NOT NULL DEFAULT 0,
	messages bigint NOT NULL DEFAULT 0
);
`,
	// 2: the import ledger (mailstore.ImportLedger): each message roost
	// import stored, by its identity in the source, so that a later run
	// imports exactly what is new however the account changed meanwhile.
	// Rows stay when the message is moved or expunged: it was imported.
	`
CREATE TABLE import_ledger (
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	source_key text NOT NULL,        -- mailstore.ImportSource.Key
	message_id text NOT NULL,        -- Message-ID field body, '' if none
	size bigint NOT NULL,            -- stored (CRLF) size
	mailbox_id bigint NOT NULL,      -- where it went, and its UID there
	uid bigint NOT NULL,
	PRIMARY KEY (account_id, source_key)
);
CREATE INDEX import_ledger_message_id ON import_ledger (account_id, message_id) WHERE message_id <> '';
CREATE INDEX import_ledger_mailbox ON import_ledger (mailbox_id);

-- When the daily sweep of unreferenced bodies last ran (one row).
CREATE TABLE roost_sweep (last timestamptz NOT NULL);
`,
	// 3: the text the SEARCH keys SUBJECT, FROM, TO, CC and BCC match,
	// kept at append (sqlstore.MarshalSearchFields), so that a header
	// SEARCH reads no message body. Rows stored before hold NULL and are
	// searched through their body.
	`ALTER TABLE contents ADD COLUMN search_fields bytea;`,
	// 4: the raw lines of the header fields clients fetch for their
	// message lists (sqlstore.MarshalKeptLines), kept at append, so that
	// FETCH BODY.PEEK[HEADER.FIELDS (DATE FROM ...)] reads no body. Rows
	// stored before hold NULL and are filled at their first such FETCH.
	`ALTER TABLE contents ADD COLUMN header_fields bytea;`,
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
