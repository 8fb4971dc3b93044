package app

import (
	"slices"
	"testing"

	"earshot/ui/ipc"
)

func TestWindowEnvNamesEnglishUnderTheCLocale(t *testing.T) {
	for _, c := range []struct {
		env   []string
		debug bool
		added []string
	}{
		{env: []string{"LANG=C.UTF-8"}, added: []string{"LANGUAGE=en"}},
		{env: []string{"LANG=en_US.UTF-8", "LC_ALL=C.UTF-8"}, added: []string{"LANGUAGE=en"}},
		{env: []string{"LC_MESSAGES=POSIX.UTF-8"}, added: []string{"LANGUAGE=en"}},
		{env: []string{"LANG=C.UTF-8", "LANGUAGE=fr"}},        // the user's choice stands
		{env: []string{"LANG=de_DE.UTF-8"}},                   // a real locale: Fyne reads it
		{env: []string{"LANG=C"}},                             // plain C: Fyne takes it for English itself
		{env: []string{"LC_ALL=en_GB.UTF-8", "LANG=C.UTF-8"}}, // LC_ALL wins
		{env: []string{"LANG=C.UTF-8"}, debug: true, added: []string{ipc.DebugEnv + "=1", "LANGUAGE=en"}},
	} {
		got := windowEnv(c.env, c.debug)
		want := append(slices.Clone(c.env), c.added...)
		if !slices.Equal(got, want) {
			t.Errorf("%q (debug %v): %q, want %q", c.env, c.debug, got, want)
		}
	}
}
