package sqlite

// ChangeStamp implements mailstore.ChangeStamper. Every commit, by any
// process, writes a fresh random nonce to the account's change file after
// it commits (bumpChanges); this process also counts its own commits, so
// that one whose change-file write failed still changes the stamp here.
// Reading the file is an open, a pread and a close (readChanges), where
// reading the changes themselves is a SQLite read transaction with its
// locks on the -shm file.
func (a *account) ChangeStamp() (uint64, bool) {
	n := readChanges(a.cpath)
	return n ^ a.commits.Load()*0x9e3779b97f4a7c15, true
}
