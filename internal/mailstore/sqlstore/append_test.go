package sqlstore

import (
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

func TestImportUID(t *testing.T) {
	for _, tc := range []struct {
		want, next, got mailstore.UID
		kind            mailstore.Kind
	}{
		{want: 9, next: 5, got: 9},      // the source's UID is kept
		{want: 4, next: 5, got: 5},      // below UIDNEXT: the next one
		{want: 0, next: 5, got: 5},      // no source UID
		{want: MaxUID, next: 5, got: 5}, // out of range: the next one
		{want: 9, next: MaxUID, kind: mailstore.KindLimit},
	} {
		got, err := ImportUID(tc.want, tc.next)
		bad := err != nil && mailstore.KindOf(err) != tc.kind || err == nil && tc.kind != 0
		if got != tc.got || bad {
			t.Errorf("ImportUID(%d, %d) = %d, %v; want %d, kind %v", tc.want, tc.next, got, err, tc.got, tc.kind)
		}
	}
}

func TestInternalDate(t *testing.T) {
	d := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("", -5*3600))
	if got, tz := InternalDate(d); !got.Equal(d) || tz != -5*3600 {
		t.Errorf("InternalDate(%v) = %v, %d", d, got, tz)
	}
	before := time.Now()
	if got, _ := InternalDate(time.Time{}); got.Before(before) || time.Since(got) > time.Minute {
		t.Errorf("InternalDate(zero) = %v, want now", got)
	}
}
