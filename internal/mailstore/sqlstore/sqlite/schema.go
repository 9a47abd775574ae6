package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// migrations are applied in order; migrations[i] brings the schema from
// version i to i+1. Never edit a released migration: append a new one.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE account (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	user TEXT NOT NULL,
	last_uidvalidity INTEGER NOT NULL,  -- the highest UIDVALIDITY ever given out
	last_sweep INTEGER NOT NULL         -- unix time of the last orphan blob sweep
);

CREATE TABLE mailbox (
	id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: a stale MailboxID finds nothing
	name TEXT NOT NULL UNIQUE,
	uidvalidity INTEGER NOT NULL UNIQUE,
	uidnext INTEGER NOT NULL DEFAULT 1,
	highestmodseq INTEGER NOT NULL DEFAULT 1,
	special_use TEXT NOT NULL DEFAULT '',
	-- Counters for STATUS, maintained by the message_* triggers.
	messages INTEGER NOT NULL DEFAULT 0,
	unseen INTEGER NOT NULL DEFAULT 0,
	deleted INTEGER NOT NULL DEFAULT 0,
	size INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE subscription (
	name TEXT PRIMARY KEY
) WITHOUT ROWID;

-- The spelling of each keyword at first use; keywords compare
-- case-insensitively (IMAP atoms are ASCII, so NOCASE is exact).
CREATE TABLE keyword (
	name TEXT PRIMARY KEY COLLATE NOCASE
) WITHOUT ROWID;

-- One row per stored blob, shared by all messages (copies) referencing it.
CREATE TABLE message_cache (
	id INTEGER PRIMARY KEY,
	blob_id TEXT NOT NULL UNIQUE,
	size INTEGER NOT NULL,
	header_size INTEGER NOT NULL,
	envelope TEXT NOT NULL,
	bodystructure TEXT NOT NULL,
	body TEXT NOT NULL,
	parts BLOB NOT NULL
);

-- The narrow message table (DESIGN.md 7). flags is a bit mask of the system
-- flags (1 \Seen, 2 \Answered, 4 \Flagged, 8 \Deleted, 16 \Draft);
-- keywords is a space-separated sorted list of keyword spellings.
-- internal_date is unix seconds, internal_tz the zone offset in seconds.
CREATE TABLE message (
	mailbox_id INTEGER NOT NULL REFERENCES mailbox(id),
	uid INTEGER NOT NULL,
	modseq INTEGER NOT NULL,
	flags INTEGER NOT NULL DEFAULT 0,
	keywords TEXT NOT NULL DEFAULT '',
	internal_date INTEGER NOT NULL,
	internal_tz INTEGER NOT NULL DEFAULT 0,
	size INTEGER NOT NULL,
	content INTEGER NOT NULL REFERENCES message_cache(id),
	PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX message_modseq ON message (mailbox_id, modseq);
CREATE INDEX message_content ON message (content);

CREATE TABLE tombstone (
	mailbox_id INTEGER NOT NULL,
	uid INTEGER NOT NULL,
	modseq INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX tombstone_modseq ON tombstone (mailbox_id, modseq);

CREATE TRIGGER message_insert AFTER INSERT ON message BEGIN
	UPDATE mailbox SET
		messages = messages + 1,
		unseen = unseen + ((NEW.flags & 1) = 0),
		deleted = deleted + ((NEW.flags & 8) != 0),
		size = size + NEW.size
	WHERE id = NEW.mailbox_id;
END;

CREATE TRIGGER message_delete AFTER DELETE ON message BEGIN
	UPDATE mailbox SET
		messages = messages - 1,
		unseen = unseen - ((OLD.flags & 1) = 0),
		deleted = deleted - ((OLD.flags & 8) != 0),
		size = size - OLD.size
	WHERE id = OLD.mailbox_id;
END;

CREATE TRIGGER message_flags AFTER UPDATE OF flags ON message
WHEN OLD.mailbox_id = NEW.mailbox_id AND (OLD.flags & 9) != (NEW.flags & 9) BEGIN
	UPDATE mailbox SET
		unseen = unseen + ((NEW.flags & 1) = 0) - ((OLD.flags & 1) = 0),
		deleted = deleted + ((NEW.flags & 8) != 0) - ((OLD.flags & 8) != 0)
	WHERE id = NEW.mailbox_id;
END;

CREATE TRIGGER message_move AFTER UPDATE OF mailbox_id ON message
WHEN OLD.mailbox_id != NEW.mailbox_id BEGIN
	UPDATE mailbox SET
		messages = messages - 1,
		unseen = unseen - ((OLD.flags & 1) = 0),
		deleted = deleted - ((OLD.flags & 8) != 0),
		size = size - OLD.size
	WHERE id = OLD.mailbox_id;
	UPDATE mailbox SET
		messages = messages + 1,
		unseen = unseen + ((NEW.flags & 1) = 0),
		deleted = deleted + ((NEW.flags & 8) != 0),
		size = size + NEW.size
	WHERE id = NEW.mailbox_id;
END;
`,
	// 2: keywords in use per mailbox (SELECT's FLAGS response) without a
	// scan of every message (docs/imap-scale.md).
	`CREATE INDEX message_keywords ON message (mailbox_id, keywords) WHERE keywords != '';`,
	// 3: EXPUNGE/CLOSE find the \Deleted messages without a scan of
	// every message.
	`CREATE INDEX message_deleted ON message (mailbox_id, uid) WHERE (flags & 8) != 0;`,
	// 4: quota usage of the whole account (all mailboxes), kept by
	// triggers in the transaction of every insert and delete of a message,
	// so that Quota reads one row and Append checks the limit in its own
	// transaction. A move (UPDATE of mailbox_id) leaves it alone. Existing
	// accounts are counted once here.
	`
ALTER TABLE account ADD COLUMN usage_storage INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account ADD COLUMN usage_messages INTEGER NOT NULL DEFAULT 0;
UPDATE account SET
	usage_storage = (SELECT COALESCE(SUM(size), 0) FROM message),
	usage_messages = (SELECT COUNT(*) FROM message);
CREATE TRIGGER message_usage_insert AFTER INSERT ON message BEGIN
	UPDATE account SET usage_storage = usage_storage + NEW.size, usage_messages = usage_messages + 1 WHERE id = 1;
END;
CREATE TRIGGER message_usage_delete AFTER DELETE ON message BEGIN
	UPDATE account SET usage_storage = usage_storage - OLD.size, usage_messages = usage_messages - 1 WHERE id = 1;
END;
`,
	// 5: the import ledger (mailstore.Importer): each message roost import
	// stored, by its identity in the source, so that a later run imports
	// exactly what is new however the account changed meanwhile. Rows stay
	// when the message is moved or expunged: it was imported.
	`
CREATE TABLE import_ledger (
	source_key TEXT PRIMARY KEY,        -- mailstore.ImportSource.Key
	message_id TEXT NOT NULL,           -- Message-ID field body, '' if none
	size INTEGER NOT NULL,              -- stored (CRLF) size
	mailbox_id INTEGER NOT NULL,        -- where it went, and its UID there
	uid INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX import_ledger_message_id ON import_ledger (message_id) WHERE message_id != '';
`,
	// 6: the text the SEARCH keys SUBJECT, FROM, TO, CC and BCC match,
	// kept at append (sqlstore.MarshalSearchFields), so that a header
	// SEARCH opens no message file. Rows stored before hold NULL and are
	// searched through their file.
	`ALTER TABLE message_cache ADD COLUMN search_fields BLOB;`,
	// 7: the raw lines of the header fields clients fetch for their
	// message lists (sqlstore.MarshalKeptLines), kept at append, so that
	// FETCH BODY.PEEK[HEADER.FIELDS (DATE FROM ...)] opens no message
	// file. Rows stored before hold NULL and are filled at their first
	// such FETCH.
	`ALTER TABLE message_cache ADD COLUMN header_fields BLOB;`,
}

// migrate brings the database to the current schema and, for a new
// account, creates the default mailboxes. It runs in one write transaction
// (BEGIN IMMEDIATE), so two processes opening a new account at once create
// it exactly once.
func (a *account) migrate(ctx context.Context) error {
	// The common case, an up-to-date account, needs no write transaction
	// (and so no fsync) at open.
	var current int
	if err := a.w.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&current); err == nil && current == len(migrations) {
		return nil
	}
	return a.write(ctx, "migrate", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
			return err
		}
		var version int
		err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version)
		switch {
		case err == sql.ErrNoRows:
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		if version > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this program (%d)", version, len(migrations))
		}
		if version == len(migrations) {
			return nil // another process migrated meanwhile
		}
		fresh := version == 0
		for i := version; i < len(migrations); i++ {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
			return err
		}
		if !fresh {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO account (id, user, last_uidvalidity, last_sweep) VALUES (1, ?, 0, ?)`,
			a.user, time.Now().Unix()); err != nil {
			return err
		}
		for _, d := range mailstore.DefaultMailboxes {
			if _, err := createMailboxTx(ctx, tx, d.Name, d.SpecialUse); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO subscription (name) VALUES (?)`, d.Name); err != nil {
				return err
			}
		}
		return nil
	})
}
