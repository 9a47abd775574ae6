// Package probe footprints an IMAP or POP3 server the way an attacker
// would, and reports what it gives away: the engine of `roost probe`.
//
// # What it does per service
//
// For each target (imap://, imaps://, pop3://, pop3s://; a bare host means
// all four on ports 143, 993, 110, 995) the probe connects (from
// Options.Source if set), reads the greeting, asks CAPABILITY (IMAP) or
// CAPA (POP3) and, for IMAP, sends ID ("name" "roost-probe") (RFC 2971).
// On a port without implicit TLS it then sends one login with a random user
// name and random password (IMAP LOGIN, POP3 USER/PASS) to see whether the
// server would check a password sent in the clear, upgrades with STARTTLS /
// STLS if offered and asks for capabilities again. SASL ANONYMOUS is tried
// only when offered. A separate connection per TLS version (1.0 to 1.3, each
// alone) records which versions are accepted and the cipher suite; the
// certificate is described and verified against Options.Roots (nil: the
// system roots) and the host name, but never enforced: the probe reports on
// certificates, it does not refuse them.
//
// With Options.User (and Password), once per host and protocol and only
// over TLS: 3 failed logins with the user and a random password and 3 with
// a random user, on fresh connections, compared by reply text and median
// time (a difference when the slower median is over 3x the faster and at
// least 20 ms slower); then one login with the given credentials, followed
// by CAPABILITY, NAMESPACE, LIST "" *, STATUS (MESSAGES) per selectable
// folder and GETQUOTAROOT INBOX if QUOTA is offered (POP3: CAPA and STAT).
//
// # Read-only by construction
//
// The probe sends only CAPABILITY, ID, STARTTLS, LOGIN, AUTHENTICATE,
// NAMESPACE, LIST, STATUS, GETQUOTAROOT and LOGOUT (IMAP) and CAPA, STLS,
// USER, PASS, AUTH, STAT and QUIT (POP3). It never selects a mailbox (not
// even with EXAMINE: STATUS suffices) and never sends APPEND, STORE, COPY,
// DELETE, EXPUNGE or DELE. It makes no brute-force attempts: at most one
// login with the given credentials per host and protocol, the failed logins
// listed above, and one random-user login per plain port. The password is
// never sent on a connection without TLS.
//
// # JSON schema (version 1, Report.Schema)
//
//	{
//	  "schema": 1,
//	  "services": [{
//	    "url": "imap://127.0.0.1:143", "protocol": "imap"|"pop3", "implicit_tls": bool,
//	    "address": "host:port", "state": "open"|"closed"|"filtered (timeout)"|"error",
//	    "error": string?, "source": "ip:port"?, "remote": "ip:port"?,
//	    "greeting": string?,
//	    "banner": {"products": [string]?, "versions": [string]?, "hostnames": [string]?},
//	    "capabilities": [string]?,        // first connection (before STARTTLS, or on implicit TLS)
//	    "starttls": bool,
//	    "capabilities_tls": [string]?,    // after STARTTLS / STLS
//	    "capabilities_login": [string]?,  // after login
//	    "implementation": string?,        // POP3 CAPA IMPLEMENTATION
//	    "id": [string]?,                  // IMAP ID reply: key, value, key, value...
//	    "cleartext": {"logindisabled": bool, "plaintext_mechanisms": [string], "pop3_user": bool,
//	                  "attempt": string, "processed": bool}?,
//	    "tls": {"versions": [{"version": "TLS 1.0".."TLS 1.3", "accepted": bool, "cipher": string?, "error": string?}],
//	            "certificate": {"subject", "sans", "issuer", "not_after" (RFC 3339), "days_left",
//	                            "self_signed", "hostname_match", "verified", "verify_error"?}?}?,
//	    "anonymous": {"method", "ok", "reply", "skipped"?}?,
//	    "enumeration": {"known_reply", "unknown_reply", "known_median_ms", "unknown_median_ms",
//	                    "tries", "text_differs", "timing_differs"}?,
//	    "login": {"method", "ok", "reply", "skipped"?}?,
//	    "mailbox": {"folders": [{"name", "attributes"?, "messages"?}], "namespace"?,
//	                "shared_namespaces": bool, "quota": [string]?}?,
//	    "notes": [string]?
//	  }],
//	  "findings": [{"severity": "info"|"low"|"medium"|"high"|"critical",
//	                "service": url, "id": string, "title": string, "fix": string}]
//	}
//
// Fields marked ? are omitted when empty. Findings are sorted by severity,
// highest first. Finding IDs are stable: cleartext-login, no-tls,
// starttls-offered, starttls-after-tls, caps-unchanged-after-tls,
// greeting-product, greeting-version, greeting-hostname, id-reveals,
// weak-sasl-cram-md5, weak-sasl-digest-md5, weak-sasl-apop,
// anonymous-offered, anonymous-login, tls-old-10, tls-old-11, weak-cipher,
// no-tls13, cert-expired, cert-expires-soon, cert-self-signed,
// cert-untrusted, cert-hostname, enum-text, enum-timing, shared-namespace,
// login-ok, login-failed.
//
// Some things cannot be seen on the wire and are never claimed, for
// example auth_verbose (logging) or how passwords are stored, except where
// a mechanism such as CRAM-MD5 implies cleartext-equivalent storage.
package probe
