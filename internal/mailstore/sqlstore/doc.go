// Package sqlstore holds the backend-independent logic of the SQL mail
// stores (sqlstore/sqlite and sqlstore/postgres): the parse-while-storing
// pipeline that computes a message's cached envelope and body structure
// as its bytes go to the blob store, and the flag arithmetic of STORE
// (system flag bits, keyword lists in their stored form).
//
// What is here must mean the same in both backends. Each backend keeps its
// own SQL, transactions and driver code; logic that differs between them
// (for example how keywords are spelled canonically: case-sensitive in
// SQLite, case-insensitive per account in PostgreSQL) stays in the backend.
package sqlstore
