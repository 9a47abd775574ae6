// Package sqlstore holds the backend-independent logic of the SQL mail
// stores, sqlstore/sqlite and sqlstore/postgres:
//
//   - the parse-while-storing pipeline (StartParser, CacheData): a message's
//     envelope, body structure and MIME part offsets are computed as its
//     bytes go to the blob store, in one pass;
//   - the flag arithmetic of APPEND and STORE (ParseFlags, ApplyFlags,
//     FlagList, PlanStore with UNCHANGEDSINCE) over the stored form both
//     schemas share: system flags as bits, keywords as one sorted,
//     space-separated list;
//   - the MessageMeta row scanner (MetaColumns, MetaScanner, ScanMetas) and
//     the read-path choices of View, Metas and Cache (UIDSpan, KeepAsked,
//     AddKeywords);
//   - the SQL text of metadata SEARCH criteria (MetaSQL), with a Dialect for
//     what differs in spelling only (? or $n parameters, the true literal);
//   - the name checks of CREATE, DELETE and RENAME (CheckCreate,
//     CheckDelete, CheckRename, RenamedName, Superiors) and the UID and
//     date rules of APPEND and import (MaxUID, InternalDate, ImportUID).
//
// What is here means the same in both backends. Each backend keeps its own
// SQL, transactions, locking and driver code, and the logic that only looks
// alike: how UID runs are computed (SQLite reads the uid column and builds
// runs in Go; PostgreSQL computes them in SQL), how keywords get their
// canonical spelling (a NOCASE table in SQLite; per-account rows in
// PostgreSQL, inserted in sorted order for lock order), how ImportMessages
// stages bodies (in parallel workers in SQLite; one by one into the
// append's own transaction in PostgreSQL), and the queries of Changes
// (SQLite's name their indexes and run on cached prepared statements).
package sqlstore
