package singleinstance

import (
	"encoding/json"
	"path/filepath"

	"earshot/relay/safefile"
)

func writeInfoForTest(dir string, in info) error {
	data, _ := json.Marshal(in)
	return safefile.WriteAtomic(filepath.Join(dir, infoFile), data, 0o600)
}
