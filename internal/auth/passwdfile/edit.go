package passwdfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// newFileMode is the mode of a users file created by Add.
const newFileMode = 0o600

// Add appends e to the file at path, creating the file (mode 0600) if it
// does not exist. It fails with ErrExists if the user is already there.
func Add(path string, e Entry) error {
	line, err := Format(e)
	if err != nil {
		return err
	}
	return edit(path, true, func(data []byte) ([]byte, error) {
		if _, found := findUser(data, e.User); found {
			return nil, fmt.Errorf("%w: %q", ErrExists, e.User)
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			data = append(data, '\n')
		}
		data = append(data, line...)
		return append(data, '\n'), nil
	})
}

// SetPassword replaces the password field of user's entry (the first one,
// which is the one Dovecot uses) with hash, keeping every other byte of the
// file. It fails with ErrNotFound if the user is not there.
func SetPassword(path, user, hash string) error {
	if err := ValidUser(user); err != nil {
		return err
	}
	if err := validField("password", hash, true); err != nil {
		return err
	}
	return edit(path, false, func(data []byte) ([]byte, error) {
		start, found := findUser(data, user)
		if !found {
			return nil, fmt.Errorf("%w: %q", ErrNotFound, user)
		}
		end := lineEnd(data, start)
		line := string(data[start:end]) // includes the terminator, if any
		// rest is what follows the password field: the ':' before the uid
		// field, or just the line terminator.
		var rest string
		after := line[len(user):]
		if !strings.HasPrefix(after, ":") {
			rest = after // "user" alone: no password field yet
		} else if pw := after[1:]; strings.IndexByte(pw, ':') >= 0 {
			rest = pw[strings.IndexByte(pw, ':'):]
		} else {
			rest = pw[len(strings.TrimRight(pw, "\r\n")):]
		}
		newLine := user + ":" + hash + rest
		out := make([]byte, 0, len(data)-len(line)+len(newLine))
		out = append(out, data[:start]...)
		out = append(out, newLine...)
		return append(out, data[end:]...), nil
	})
}

// Delete removes user's lines (every line for that user, so that a
// shadowed duplicate cannot take its place), keeping every other byte of the
// file. It fails with ErrNotFound if the user is not there.
func Delete(path, user string) error {
	if err := ValidUser(user); err != nil {
		return err
	}
	return edit(path, false, func(data []byte) ([]byte, error) {
		out := make([]byte, 0, len(data))
		found := false
		for start := 0; start < len(data); {
			end := lineEnd(data, start)
			if lineUser(string(data[start:end])) == user {
				found = true
			} else {
				out = append(out, data[start:end]...)
			}
			start = end
		}
		if !found {
			return nil, fmt.Errorf("%w: %q", ErrNotFound, user)
		}
		return out, nil
	})
}

// lineEnd returns the offset just past the line starting at start,
// including its '\n'.
func lineEnd(data []byte, start int) int {
	if i := bytes.IndexByte(data[start:], '\n'); i >= 0 {
		return start + i + 1
	}
	return len(data)
}

// findUser returns the offset of the first line for user.
func findUser(data []byte, user string) (int, bool) {
	for start := 0; start < len(data); {
		end := lineEnd(data, start)
		if lineUser(string(data[start:end])) == user {
			return start, true
		}
		start = end
	}
	return 0, false
}

// edit runs change on the file's contents under an exclusive lock and
// replaces the file atomically: temporary file in the same directory with
// the same mode (and owner, when permitted), fsync, rename, fsync of the
// directory. create allows a missing file (treated as empty).
func edit(path string, create bool, change func([]byte) ([]byte, error)) (err error) {
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()

	mode := fs.FileMode(newFileMode)
	owner := -1
	group := -1
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		st, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("passwd-file: %w", err)
		}
		mode = st.Mode().Perm()
		owner, group = fileOwner(st)
	case errors.Is(err, fs.ErrNotExist) && create:
		data = nil
	default:
		return fmt.Errorf("passwd-file: %w", err)
	}

	out, err := change(data)
	if err != nil {
		return err
	}

	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("passwd-file: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("passwd-file: %w", err)
	}
	if owner >= 0 && (owner != os.Geteuid() || group != os.Getegid()) {
		// Keep the owner when we may (root editing a file owned by the
		// server's user); otherwise the mode still protects the file.
		_ = tmp.Chown(owner, group)
	}
	if _, err = tmp.Write(out); err != nil {
		return fmt.Errorf("passwd-file: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("passwd-file: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("passwd-file: %w", err)
	}
	if err = os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("passwd-file: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("passwd-file: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("passwd-file: fsync %s: %w", dir, err)
	}
	return nil
}
