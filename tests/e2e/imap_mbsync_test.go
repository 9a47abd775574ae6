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

// TestIMAPMbsync (SSLType, not TLSType: Debian 12 has isync 1.4): two-way sync between a local Maildir and the server with
// mbsync (isync): the first sync pulls 550 messages intact, changes on both
// sides converge on the second, the third changes nothing.
func TestIMAPMbsync(t *testing.T) {
	t.Parallel()
	mbsync := requireTool(t, "mbsync", "isync")
	s := startServer(t, serverOpts{imap: true})

	var inbox, folder []corpusMsg
	for i := range 500 {
		inbox = append(inbox, syncMsg("inbox", i))
	}
	for i := range 50 {
		folder = append(folder, syncMsg("folder", i))
	}
	c := s.imaplib(t, "ssl", "")
	c.ok("login", "alice", alicePass)
	c.ok("create", "Folder")
	s.deliverMany("", inbox)
	s.deliverMany("Folder", folder)

	local := filepath.Join(s.dir, "maildir")
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(s.dir, "mbsyncrc")
	// Host localhost: mbsync 1.4 matches the certificate against DNS
	// names only, not the IP address SAN.
	conf := fmt.Sprintf(`IMAPAccount roost
Host localhost
Port %d
User alice
Pass %s
SSLType IMAPS
CertificateFile %s
AuthMechs LOGIN

IMAPStore remote
Account roost

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns INBOX Folder
Create Both
Expunge Both
SyncState *
`, s.imapsPort, alicePass, caFile, local, local)
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(round int) {
		t.Helper()
		out, errb, code := runCmd(t, nil, mbsync, "-c", rc, "-a")
		if code != 0 {
			t.Fatalf("mbsync round %d: exit %d\nstdout:\n%s\nstderr:\n%s", round, code, out, errb)
		}
		t.Logf("mbsync round %d: %s%s", round, bytes.TrimSpace(out), bytes.TrimSpace(errb))
	}
	run(1)

	// Round 1: everything pulled, byte for byte (a Maildir holds LF).
	for _, f := range []struct {
		name string
		msgs []corpusMsg
	}{{"INBOX", inbox}, {"Folder", folder}} {
		loc, dups := maildirState(t, filepath.Join(local, f.name))
		if len(dups) > 0 || len(loc) != len(f.msgs) {
			t.Fatalf("%s after the first sync: %d messages locally, duplicates %v; want %d", f.name, len(loc), dups, len(f.msgs))
		}
		for _, m := range f.msgs {
			if got := withoutTUID(loc[m.name].body); !bytes.Equal(got, lf(m.raw)) {
				t.Errorf("%s/%s: %s", f.name, m.name, diffAt(got, lf(m.raw)))
			}
		}
	}

	// Changes on both sides.
	loc, _ := maildirState(t, filepath.Join(local, "INBOX"))
	want := map[string]string{} // id -> Maildir flag letters expected after round 2
	for _, m := range inbox {
		want[m.name] = ""
	}
	for i := 0; i < 50; i++ { // read locally
		setMaildirFlags(t, loc[inbox[i].name], "S")
		want[inbox[i].name] = "S"
	}
	for i := 50; i < 60; i++ { // flagged locally
		setMaildirFlags(t, loc[inbox[i].name], "F")
		want[inbox[i].name] = "F"
	}
	for i := 60; i < 70; i++ { // deleted locally
		if err := os.Remove(loc[inbox[i].name].path); err != nil {
			t.Fatal(err)
		}
		delete(want, inbox[i].name)
	}
	for i := range 3 { // written locally
		m := syncMsg("local", i)
		p := filepath.Join(local, "INBOX", "new", fmt.Sprintf("1790000000.local%d.e2e", i))
		if err := os.WriteFile(p, lf(m.raw), 0o644); err != nil {
			t.Fatal(err)
		}
		want[m.name] = ""
	}
	rem, _ := remoteState(t, c, "INBOX", false)
	c.ok("select", "INBOX")
	uids := func(from, to int) string {
		var u []string
		for i := from; i < to; i++ {
			u = append(u, rem[inbox[i].name].uid)
		}
		return joinComma(u)
	}
	c.ok("uid", "STORE", uids(100, 110), "+FLAGS", `(\Flagged)`)
	for i := 100; i < 110; i++ {
		want[inbox[i].name] = "F"
	}
	c.ok("uid", "STORE", uids(110, 120), "+FLAGS", `(\Deleted)`)
	c.ok("expunge")
	for i := 110; i < 120; i++ {
		delete(want, inbox[i].name)
	}
	c.ok("close")
	var fresh []corpusMsg
	for i := range 20 {
		fresh = append(fresh, syncMsg("new", i))
		want[fresh[i].name] = ""
	}
	s.deliverMany("", fresh)
	fl, _ := maildirState(t, filepath.Join(local, "Folder"))
	wantFolder := map[string]string{}
	for i, m := range folder {
		wantFolder[m.name] = ""
		if i < 5 {
			setMaildirFlags(t, fl[m.name], "F")
			wantFolder[m.name] = "F"
		}
	}

	run(2)
	all := map[string]corpusMsg{}
	for _, m := range append(append(append([]corpusMsg{}, inbox...), folder...), fresh...) {
		all[m.name] = m
	}
	for i := range 3 {
		all[syncMsg("local", i).name] = syncMsg("local", i)
	}
	check := func(round int) (map[string]remoteMsg, map[string]localMsg) {
		t.Helper()
		var remAll map[string]remoteMsg
		var locAll map[string]localMsg
		for _, f := range []struct {
			name string
			want map[string]string
		}{{"INBOX", want}, {"Folder", wantFolder}} {
			rem, rdups := remoteState(t, c, f.name, true)
			loc, ldups := maildirState(t, filepath.Join(local, f.name))
			if len(rdups) > 0 || len(ldups) > 0 {
				t.Errorf("round %d %s: duplicates: server %v, Maildir %v", round, f.name, rdups, ldups)
			}
			if got := slices.Sorted(maps.Keys(rem)); !slices.Equal(got, slices.Sorted(maps.Keys(f.want))) {
				t.Errorf("round %d %s: server has %d messages, want %d: %v", round, f.name, len(got), len(f.want), diffKeys(got, slices.Sorted(maps.Keys(f.want))))
			}
			if got := slices.Sorted(maps.Keys(loc)); !slices.Equal(got, slices.Sorted(maps.Keys(f.want))) {
				t.Errorf("round %d %s: Maildir has %d messages, want %d: %v", round, f.name, len(got), len(f.want), diffKeys(got, slices.Sorted(maps.Keys(f.want))))
			}
			bad := 0
			for id, wf := range f.want {
				r, l := rem[id], loc[id]
				if got := imapFlagLetters(r.flags); got != wf && bad < 10 {
					bad++
					t.Errorf("round %d %s/%s: server FLAGS %v, want %q", round, f.name, id, r.flags, wf)
				}
				if l.flags != wf && bad < 10 {
					bad++
					t.Errorf("round %d %s/%s: Maildir flags %q, want %q", round, f.name, id, l.flags, wf)
				}
				orig := lf(all[id].raw)
				if !bytes.Equal(withoutTUID(r.body), orig) && bad < 10 {
					bad++
					t.Errorf("round %d %s/%s on the server: %s", round, f.name, id, diffAt(withoutTUID(r.body), orig))
				}
				if !bytes.Equal(withoutTUID(l.body), orig) && bad < 10 {
					bad++
					t.Errorf("round %d %s/%s in the Maildir: %s", round, f.name, id, diffAt(withoutTUID(l.body), orig))
				}
			}
			if f.name == "INBOX" {
				remAll, locAll = rem, loc
			}
		}
		return remAll, locAll
	}
	rem2, loc2 := check(2)

	// A third sync changes nothing on either side.
	run(3)
	rem3, loc3 := check(3)
	for id, r := range rem2 {
		if r3 := rem3[id]; r3.uid != r.uid || !slices.Equal(r3.flags, r.flags) {
			t.Errorf("third sync changed %s on the server: %+v -> %+v", id, r, r3)
		}
	}
	for id, l := range loc2 {
		if l3 := loc3[id]; l3.path != l.path {
			t.Errorf("third sync changed %s in the Maildir: %s -> %s", id, l.path, l3.path)
		}
	}
	c.logout()
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

// diffKeys describes what got lacks and has too many of.
func diffKeys(got, want []string) string {
	var missing, extra []string
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if _, ok := slices.BinarySearch(want, g); !ok {
			extra = append(extra, g)
		}
	}
	return fmt.Sprintf("missing %v, extra %v", missing, extra)
}
