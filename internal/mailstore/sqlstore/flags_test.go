package sqlstore

import (
	"slices"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// TestApplyFlags walks one message through STORE FLAGS, +FLAGS and -FLAGS
// (RFC 9051 section 6.4.6) as both backends compute it.
func TestApplyFlags(t *testing.T) {
	seen, kws, err := ParseFlags([]string{`\Seen`, "$Junk"})
	if err != nil {
		t.Fatal(err)
	}
	bits, stored := ApplyFlags(mailstore.FlagsReplace, 0, "", seen, kws)
	if got := FlagList(bits, stored); !slices.Equal(got, []string{"$Junk", `\Seen`}) {
		t.Fatalf("FLAGS (\\Seen $Junk) = %q", got)
	}
	add, addKws, _ := ParseFlags([]string{`\Flagged`, "Work", "$Junk"})
	bits, stored = ApplyFlags(mailstore.FlagsAdd, bits, stored, add, addKws)
	if stored != "$Junk Work" {
		t.Fatalf("+FLAGS keywords stored as %q, want sorted without repeats", stored)
	}
	if got := FlagList(bits, stored); !slices.Equal(got, []string{"$Junk", "Work", `\Flagged`, `\Seen`}) {
		t.Fatalf("+FLAGS = %q", got)
	}
	rm, rmKws, _ := ParseFlags([]string{`\Seen`, "$Junk"})
	bits, stored = ApplyFlags(mailstore.FlagsRemove, bits, stored, rm, rmKws)
	if got := FlagList(bits, stored); !slices.Equal(got, []string{"Work", `\Flagged`}) {
		t.Fatalf("-FLAGS = %q", got)
	}
	if got := FlagList(0, ""); got != nil {
		t.Fatalf("no flags = %q, want nil", got)
	}
	if _, _, err := ParseFlags([]string{`\Recent`}); err == nil {
		t.Fatal(`\Recent accepted in a flag list`)
	}
}
