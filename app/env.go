package app

import (
	"os"

	"golang.org/x/term"
)

// systemEnv is the Env of a real run: the process's streams, the user's
// directories and the system keyring.
func systemEnv() (*Env, error) {
	cfgDir, err := ConfigDir()
	if err != nil {
		return nil, err
	}
	cacheDir, err := CacheDir()
	if err != nil {
		return nil, err
	}
	dataDir, err := DataDir()
	if err != nil {
		return nil, err
	}
	fd := int(os.Stdin.Fd())
	return &Env{
		Stdin:            os.Stdin,
		Stdout:           os.Stdout,
		Stderr:           os.Stderr,
		ConfigDir:        cfgDir,
		CacheDir:         cacheDir,
		DataDir:          dataDir,
		StdinIsTerminal:  func() bool { return term.IsTerminal(fd) },
		ReadPassword:     func() ([]byte, error) { return term.ReadPassword(fd) },
		StderrIsTerminal: func() bool { return term.IsTerminal(int(os.Stderr.Fd())) },
	}, nil
}
