package singleinstance

import (
	"encoding/json"
	"path/filepath"
)

func writeInfoForTest(dir string, in info) error {
	data, _ := json.Marshal(in)
	return writePrivate(filepath.Join(dir, infoFile), data)
}
