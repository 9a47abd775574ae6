package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseBool parses Dovecot's boolean syntax: "yes" or "no" (any case).
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q (use yes or no)", s)
}

func formatBool(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// parseUint parses a non-negative decimal integer no larger than max.
func parseUint(s string, max int) (int, error) {
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil || int(n) > max {
		return 0, fmt.Errorf("invalid number %q (expected 0 to %d)", s, max)
	}
	return int(n), nil
}

// sizeUnits maps Dovecot's size suffixes to multipliers (settings-parser.c
// settings_get_size): b, k/kb, m/mb, g/gb, t/tb, case-insensitive, with or
// without a space.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40,
}

// parseSize parses Dovecot's size syntax ("100M", "10 k", "1G", "512").
func parseSize(s string) (int64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q (e.g. \"100M\", \"10 k\")", s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 63)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, err)
	}
	unit, ok := sizeUnits[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q", s, strings.TrimSpace(s[i:]))
	}
	if n > (1<<62)/unit {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n * unit, nil
}

// formatSize writes n in the largest unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"k", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// timeUnits maps Dovecot's time unit names to durations (settings-parser.c
// settings_get_time): ms/msec(s)/millisecond(s), s/sec(s)/second(s),
// m/min(s)/minute(s), h/hour(s), d/day(s), w/week(s).
var timeUnits = map[string]time.Duration{
	"ms": time.Millisecond, "msec": time.Millisecond, "msecs": time.Millisecond,
	"millisecond": time.Millisecond, "milliseconds": time.Millisecond,
	"s": time.Second, "sec": time.Second, "secs": time.Second,
	"second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute,
	"minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour,
}

// maxDuration bounds time settings so that arithmetic on them cannot
// overflow; no Dovecot time setting is meaningful beyond a year.
const maxDuration = 366 * 24 * time.Hour

// parseDuration parses Dovecot's time syntax: a number with an optional
// unit, with or without a space ("2 secs", "2s", "500 ms", "1 min"). A plain
// number is seconds.
func parseDuration(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid time %q (e.g. \"2 secs\", \"500 ms\")", s)
	}
	n, err := strconv.ParseUint(s[:i], 10, 63)
	if err != nil {
		return 0, fmt.Errorf("invalid time %q: %w", s, err)
	}
	unitName := strings.ToLower(strings.TrimSpace(s[i:]))
	unit := time.Second
	if unitName != "" {
		var ok bool
		if unit, ok = timeUnits[unitName]; !ok {
			return 0, fmt.Errorf("invalid time %q: unknown unit %q", s, unitName)
		}
	}
	if n > uint64(maxDuration/unit) {
		return 0, fmt.Errorf("invalid time %q: too large", s)
	}
	return time.Duration(n) * unit, nil
}

// formatDuration writes d in Dovecot's time syntax, exactly (d is a whole
// number of milliseconds, as parseDuration produces).
func formatDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%d secs", d/time.Second)
	}
	return fmt.Sprintf("%d ms", d/time.Millisecond)
}

// checkSize accepts Dovecot's size syntax: a number with an optional unit
// (B, k, M, G, T, with or without a trailing B), or "unlimited".
func checkSize(s string) error {
	if strings.EqualFold(s, "unlimited") {
		return nil
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return fmt.Errorf("invalid size %q (e.g. \"256M\")", s)
	}
	switch strings.ToLower(strings.TrimSpace(s[i:])) {
	case "", "b", "k", "kb", "m", "mb", "g", "gb", "t", "tb":
		return nil
	}
	return fmt.Errorf("invalid size %q (e.g. \"256M\")", s)
}

// splitList splits a list value on white space and commas, as Dovecot does
// for listen and protocols. It returns nil for an empty list.
func splitList(s string) []string {
	out := strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == ','
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

var errNotFile = errors.New(`must be written as "<path" (a file), e.g. ssl_cert = </etc/roost/cert.pem`)
