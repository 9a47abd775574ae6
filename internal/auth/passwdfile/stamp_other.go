//go:build !linux

package passwdfile

import "io/fs"

// stampOf without inode and ctime: size and mtime only.
func stampOf(st fs.FileInfo) fileStamp {
	return fileStamp{size: st.Size(), mtime: st.ModTime().UnixNano()}
}
