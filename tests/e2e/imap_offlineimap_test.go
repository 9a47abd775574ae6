package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestIMAPOfflineimap: offlineimap pulls two folders one way (remote
// read-only: local changes stay local), then syncs both ways; counts,
// bytes and flags agree on both sides afterwards.
func TestIMAPOfflineimap(t *testing.T) {
	t.Parallel()
	oi := requireTool(t, "offlineimap", "offlineimap3")
	s := startServer(t, serverOpts{imap: true})
	c := s.imaplib(t, "ssl", "")
	c.ok("login", "alice", alicePass)
	c.ok("create", "Work")
	var inbox, work []corpusMsg
	for i := range 20 {
		inbox = append(inbox, syncMsg("oi-inbox", i))
	}
	for i := range 10 {
		work = append(work, syncMsg("oi-work", i))
	}
	s.deliverMany("", inbox)
	s.deliverMany("Work", work)

	local := filepath.Join(s.dir, "oimail")
	rc := filepath.Join(s.dir, "offlineimaprc")
	write := func(readonly bool) {
		ro := "False"
		if readonly {
			ro = "True"
		}
		conf := fmt.Sprintf(`[general]
accounts = e2e
metadata = %s/oimeta

[Account e2e]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = %s

[Repository remote]
type = IMAP
remotehost = localhost
remoteport = %d
remoteuser = alice
remotepass = %s
ssl = yes
sslcacertfile = %s
readonly = %s
folderfilter = lambda f: f in ['INBOX', 'Work']
`, s.dir, local, s.imapsPort, alicePass, caFile, ro)
		if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run := func(round int) {
		t.Helper()
		out, errb, code := runCmd(t, nil, oi, "-c", rc, "-o", "-u", "basic")
		if code != 0 || bytes.Contains(errb, []byte("ERROR")) || bytes.Contains(out, []byte("ERROR")) {
			t.Fatalf("offlineimap round %d: exit %d\nstdout:\n%s\nstderr:\n%s", round, code, out, errb)
		}
	}
	all := map[string]corpusMsg{}
	for _, m := range append(append([]corpusMsg{}, inbox...), work...) {
		all[m.name] = m
	}
	want := map[string]map[string]string{"INBOX": {}, "Work": {}} // folder -> id -> flags
	for _, m := range inbox {
		want["INBOX"][m.name] = ""
	}
	for _, m := range work {
		want["Work"][m.name] = ""
	}
	// check compares both sides with want; local=false checks the server only.
	check := func(step string, sides ...string) {
		t.Helper()
		for folder, w := range want {
			for _, side := range sides {
				got := map[string]string{}
				bodies := map[string][]byte{}
				var dups []string
				if side == "server" {
					rem, d := remoteState(t, c, folder, true)
					dups = d
					for id, r := range rem {
						got[id], bodies[id] = imapFlagLetters(r.flags), r.body
					}
				} else {
					loc, d := maildirState(t, filepath.Join(local, folder))
					dups = d
					for id, l := range loc {
						got[id], bodies[id] = l.flags, l.body
					}
				}
				if len(dups) > 0 {
					t.Errorf("%s: %s %s: duplicates %v", step, side, folder, dups)
				}
				if !maps.Equal(got, w) {
					t.Errorf("%s: %s %s: flags by message %v, want %v", step, side, folder, got, w)
				}
				for id, b := range bodies {
					if m, ok := all[id]; ok && !bytes.Equal(lf(b), lf(m.raw)) {
						t.Errorf("%s: %s %s/%s: %s", step, side, folder, id, diffAt(lf(b), lf(m.raw)))
					}
				}
			}
		}
	}

	// One way: the server is read-only for offlineimap.
	write(true)
	run(1)
	check("one-way pull", "server", "local")
	loc, _ := maildirState(t, filepath.Join(local, "INBOX"))
	setMaildirFlags(t, loc[inbox[0].name], "F")
	run(2)
	check("one-way after a local flag (server unchanged)", "server")

	// Two ways.
	write(false)
	want["INBOX"][inbox[0].name] = "F"
	loc, _ = maildirState(t, filepath.Join(local, "INBOX"))
	setMaildirFlags(t, loc[inbox[1].name], "S")
	want["INBOX"][inbox[1].name] = "S"
	if err := os.Remove(loc[inbox[2].name].path); err != nil {
		t.Fatal(err)
	}
	delete(want["INBOX"], inbox[2].name)
	rem, _ := remoteState(t, c, "Work", false)
	c.ok("select", "Work")
	c.ok("uid", "STORE", rem[work[0].name].uid, "+FLAGS", `(\Flagged \Seen)`)
	want["Work"][work[0].name] = "FS"
	c.ok("uid", "STORE", rem[work[1].name].uid, "+FLAGS", `(\Deleted)`)
	c.ok("expunge")
	delete(want["Work"], work[1].name)
	c.ok("close")
	m := syncMsg("oi-new", 0)
	all[m.name] = m
	s.deliverTo("alice", "Work", m.raw)
	want["Work"][m.name] = ""
	run(3)
	check("two-way", "server", "local")
	run(4)
	check("two-way again", "server", "local")
	if n := slices.Collect(maps.Keys(want["Work"])); len(n) != 10 {
		t.Errorf("bookkeeping: Work should hold 10 messages, has %d", len(n))
	}
	c.logout()
}
