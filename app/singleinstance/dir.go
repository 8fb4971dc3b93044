package singleinstance

import (
	"fmt"
	"os"
	"path/filepath"

	"earshot/relay/safefile"
)

// Dir is the user's private instance directory: earshot/ in
// $XDG_RUNTIME_DIR when that is a private directory of this user's (as
// the XDG spec says it is), else earshot/run in the user's cache directory
// (%LocalAppData% on Windows, ~/Library/Caches on macOS). Never a shared
// directory such as /tmp, where another user could plant a link in its
// place. Claim creates it 0700 and checks it.
func Dir() (string, error) {
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" && privateRuntimeDir(rt) {
		return filepath.Join(rt, "earshot"), nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a private directory for the instance lock: %w", err)
	}
	return filepath.Join(base, "earshot", "run"), nil
}

// privateRuntimeDir reports whether dir is what XDG_RUNTIME_DIR must be: an
// absolute path to a real directory owned by this user that no one else
// may enter.
func privateRuntimeDir(dir string) bool {
	if !filepath.IsAbs(dir) {
		return false
	}
	fi, err := os.Lstat(dir)
	return err == nil && fi.IsDir() && fi.Mode()&os.ModeSymlink == 0 &&
		fi.Mode().Perm()&0o077 == 0 && safefile.OwnedByCurrentUser(fi)
}
