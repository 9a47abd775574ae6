package app

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/roost-mail/roost/internal/config"
)

// Identity is the user Roost runs as after it has bound its listeners.
type Identity struct {
	User   string // name, for messages ("roost", or "uid 1234" when numeric)
	UID    int
	GID    int
	Groups []int // supplementary groups, the user's as in initgroups(3); always holds GID
	// Setting names the setting that chose the user (default_internal_user
	// or mail_uid), for error messages.
	Setting string
}

// Root reports whether the identity is root: Roost then keeps its
// privileges (only when written so in the configuration).
func (id Identity) Root() bool { return id.UID == 0 }

// accountDB is the part of os/user that ResolveIdentity needs; tests fake it.
type accountDB interface {
	Lookup(name string) (*user.User, error)
	LookupID(uid string) (*user.User, error)
	LookupGroup(name string) (*user.Group, error)
	GroupIDs(u *user.User) ([]string, error)
}

type osAccounts struct{}

func (osAccounts) Lookup(name string) (*user.User, error)       { return user.Lookup(name) }
func (osAccounts) LookupID(uid string) (*user.User, error)      { return user.LookupId(uid) }
func (osAccounts) LookupGroup(name string) (*user.Group, error) { return user.LookupGroup(name) }
func (osAccounts) GroupIDs(u *user.User) ([]string, error)      { return u.GroupIds() }

// ResolveIdentity returns the user a root-started Roost runs as: mail_uid
// (with mail_gid, or else the user's primary group) when set, otherwise
// default_internal_user. Names and numbers are accepted, as in Dovecot. A
// user that does not exist is an error telling the admin to create it or
// to set the setting.
func ResolveIdentity(cfg *config.Config) (Identity, error) {
	return resolveIdentity(cfg.MailUID, cfg.MailGID, cfg.DefaultInternalUser, osAccounts{})
}

func resolveIdentity(mailUID, mailGID, internalUser string, db accountDB) (Identity, error) {
	setting, name := "default_internal_user", internalUser
	if mailUID != "" {
		setting, name = "mail_uid", mailUID
	}
	if name == "" {
		return Identity{}, errors.New("default_internal_user is empty: set it to the unprivileged user Roost runs as (default roost)")
	}
	id := Identity{Setting: setting, User: name}
	u, err := lookupUser(db, name)
	switch {
	case err != nil && !isUnknown(err):
		return Identity{}, fmt.Errorf("%s = %s: %w", setting, name, err)
	case err != nil && isNumber(name) && mailGID != "":
		// A numeric uid needs no passwd entry when the group is given.
		id.UID, _ = strconv.Atoi(name)
		id.User = "uid " + name
	case err != nil:
		return Identity{}, fmt.Errorf("%s = %s: no such user. Roost is started as root and switches to this user after "+
			"opening its ports; create it (useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin %s) "+
			"or set %s to an existing unprivileged user (docs/SECURITY.md)", setting, name, name, setting)
	default:
		id.User = u.Username
		id.UID, _ = strconv.Atoi(u.Uid)
		id.GID, _ = strconv.Atoi(u.Gid)
		if gids, err := db.GroupIDs(u); err == nil {
			for _, g := range gids {
				if n, err := strconv.Atoi(g); err == nil && n != id.GID {
					id.Groups = append(id.Groups, n)
				}
			}
		}
	}
	if mailGID != "" {
		gid, err := lookupGroup(db, mailGID)
		if err != nil {
			return Identity{}, fmt.Errorf("mail_gid = %s: %w", mailGID, err)
		}
		id.GID, id.Groups = gid, nil // the user's other groups go with its primary group
	}
	id.Groups = append([]int{id.GID}, id.Groups...)
	return id, nil
}

func lookupUser(db accountDB, name string) (*user.User, error) {
	if isNumber(name) {
		return db.LookupID(name)
	}
	return db.Lookup(name)
}

func lookupGroup(db accountDB, name string) (int, error) {
	if isNumber(name) {
		return strconv.Atoi(name)
	}
	g, err := db.LookupGroup(name)
	if err != nil {
		if isUnknown(err) {
			return 0, errors.New("no such group")
		}
		return 0, err
	}
	return strconv.Atoi(g.Gid)
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 31)
	return err == nil
}

func isUnknown(err error) bool {
	var (
		un user.UnknownUserError
		ui user.UnknownUserIdError
		ug user.UnknownGroupError
	)
	return errors.As(err, &un) || errors.As(err, &ui) || errors.As(err, &ug)
}

// PrepareDataDir makes dir usable by id before privileges are dropped: a
// missing directory is created (mode 0700) and given to id; an existing one
// must already belong to id. Roost never changes the owner of an existing
// tree: that could be a mistake in mail_location, and a big tree is the
// admin's to chown. Call it as root only.
func PrepareDataDir(dir string, id Identity) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
		return os.Chown(dir, id.UID, id.GID)
	}
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return checkOwner(dir, st, id)
}

func checkOwner(dir string, st os.FileInfo, id Identity) error {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if int(sys.Uid) != id.UID {
		return fmt.Errorf("data directory %s belongs to uid %d, but Roost runs as %s (uid %d, %s): "+
			"give it to that user (chown -R %d:%d %s) or change %s", dir, sys.Uid, id.User, id.UID, id.Setting,
			id.UID, id.GID, dir, id.Setting)
	}
	return nil
}

// dropPrivileges switches the whole process (every thread; Go does this on
// Linux since 1.16) to id: supplementary groups, then group, then user, so
// that root's groups are gone before the uid that could change them is.
// It then checks that root cannot be regained.
func dropPrivileges(id Identity) error {
	if err := syscall.Setgroups(id.Groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(id.GID); err != nil {
		return fmt.Errorf("setgid %d: %w", id.GID, err)
	}
	if err := syscall.Setuid(id.UID); err != nil {
		return fmt.Errorf("setuid %d: %w", id.UID, err)
	}
	if syscall.Setuid(0) == nil {
		return errors.New("setuid: root privileges could be regained after dropping them")
	}
	return nil
}

// SwitchUser is what roost serve does before opening the store, for the
// commands that open it themselves: as root it checks the data directory
// and becomes the configured unprivileged user; as another user it does
// nothing. It changes the whole process.
func SwitchUser(cfg *config.Config, log *slog.Logger) error { return switchUser(cfg, log) }

// switchUser is Start's privilege step: as root it checks the data
// directory and becomes id; as another user it does nothing.
func switchUser(cfg *config.Config, log *slog.Logger) error {
	if os.Geteuid() != 0 {
		log.Debug("not started as root: keeping the current user", "uid", os.Getuid())
		return nil
	}
	id, err := ResolveIdentity(cfg)
	if err != nil {
		return err
	}
	if id.Root() {
		log.Warn("running as root: " + id.Setting + " is root; set it to an unprivileged user (docs/SECURITY.md)")
		return nil
	}
	if cfg.MailLocation.Path != "" {
		if err := PrepareDataDir(cfg.MailLocation.Path, id); err != nil {
			return err
		}
	}
	if err := dropPrivileges(id); err != nil {
		return fmt.Errorf("switch to user %s (%s): %w", id.User, id.Setting, err)
	}
	log.Info("switched user", "user", id.User, "uid", id.UID, "gid", id.GID)
	return nil
}

// GiveTo hands the embedded data directory to id when Roost is started as
// root: the directory itself (so that id can reach the mail store inside
// it) and the users file (which the passdb re-reads after the switch). The
// certificate, key and config stay root's: they are read before the
// switch. Only files still owned by root are changed, never a tree.
func (e *Embedded) GiveTo(id Identity) error {
	for _, p := range []string{e.Dir, filepath.Join(e.Dir, "users")} {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid == 0 {
			if err := os.Chown(p, id.UID, id.GID); err != nil {
				return fmt.Errorf("embedded default: %w", err)
			}
		}
	}
	return nil
}

// socketPermissions applies a unix_listener's mode, and as root its user
// and group (names or numbers; as another user they must be unset).
func socketPermissions(ul config.UnixListener) error {
	if err := os.Chmod(ul.Path, os.FileMode(ul.Mode)); err != nil {
		return err
	}
	if ul.User == "" && ul.Group == "" {
		return nil
	}
	if os.Geteuid() != 0 {
		return errors.New("user and group can be set only when Roost is started as root")
	}
	uid, gid := -1, -1
	if ul.User != "" {
		u, err := lookupUser(osAccounts{}, ul.User)
		if err != nil {
			return fmt.Errorf("user %s: %w", ul.User, err)
		}
		uid, _ = strconv.Atoi(u.Uid)
	}
	if ul.Group != "" {
		g, err := lookupGroup(osAccounts{}, ul.Group)
		if err != nil {
			return fmt.Errorf("group %s: %w", ul.Group, err)
		}
		gid = g
	}
	return os.Chown(ul.Path, uid, gid)
}
