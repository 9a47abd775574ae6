// Package e2e runs real mail clients from Debian (Python poplib, fetchmail,
// getmail6, curl, openssl s_client) against the real roost binary.
//
// TestMain builds ./cmd/roost once; every test starts its own server process
// on free loopback ports with a generated config, certificate and users file
// in t.TempDir(), and stops it with SIGTERM, asserting a clean exit.
//
// Clients that are not installed make a test skip, naming the Debian
// package, unless the environment variable CI is set: then they fail.
//
// ROOST_E2E_SERVER=dovecot runs the same tests against Dovecot (the
// reference implementation, package dovecot-pop3d) instead of roost. It is
// how the client quirks documented in clients_test.go were established and
// how a disagreement between roost and the reference can be checked.
//
// ROOST_E2E_LOG=1 logs the server's stderr for passing tests too (it is
// always logged for failing ones).
package e2e
