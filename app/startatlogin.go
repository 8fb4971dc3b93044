package app

import (
	"context"
	"fmt"
	"strings"

	"earshot/app/autostart"
)

// cmdAutostart is `earshot autostart on|off|status`: start Earshot when the
// user logs in (off until turned on).
func cmdAutostart(_ context.Context, env *Env, args []string) error {
	if len(args) != 1 {
		return usagef("autostart: say on, off or status")
	}
	entry, err := env.autostartEntry()
	if err != nil {
		return fmt.Errorf("find where log-in programs are kept: %w", err)
	}
	switch args[0] {
	case "on":
		cmd, err := autostart.Command(autostartArgs()...)
		if err != nil {
			return err
		}
		if err := entry.Enable(cmd); err != nil {
			return err
		}
		st, _ := entry.Status()
		fmt.Fprintf(env.Stdout, "Earshot will start when you log in (%s).\n", st.Where)
	case "off":
		if err := entry.Disable(); err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, "Earshot will not start when you log in.")
	case "status":
		st, err := entry.Status()
		if err != nil {
			return err
		}
		switch {
		case st.Foreign:
			fmt.Fprintf(env.Stdout, "off: %s is there but was not written by Earshot (left as it is)\n", st.Where)
		case !st.On:
			fmt.Fprintln(env.Stdout, "off")
		case st.Stale:
			fmt.Fprintf(env.Stdout, "on, but it starts %s, not this Earshot: run `earshot autostart on` again (%s)\n", strings.Join(st.Command, " "), st.Where)
		default:
			fmt.Fprintf(env.Stdout, "on (%s)\n", st.Where)
		}
	default:
		return usagef("autostart: %q is not on, off or status", args[0])
	}
	return nil
}

// autostartArgs are the arguments a log-in start passes: none, so the
// desktop process starts as on any launch, staying in the tray (it opens
// its window only when there is no tray to go back to).
func autostartArgs() []string { return nil }

// autostartEntry is the entry Env uses (tests point it elsewhere).
func (env *Env) autostartEntry() (autostart.Entry, error) {
	if env.Autostart != nil {
		return env.Autostart, nil
	}
	return autostart.NewEntry()
}

// Autostart turns "start Earshot when I log in" on or off for the tray
// menu and the window: the same entry `earshot autostart` edits.
func Autostart(on bool) error {
	entry, err := autostart.NewEntry()
	if err != nil {
		return err
	}
	if !on {
		return entry.Disable()
	}
	cmd, err := autostart.Command(autostartArgs()...)
	if err != nil {
		return err
	}
	return entry.Enable(cmd)
}

// AutostartOn reports whether Earshot starts when the user logs in.
func AutostartOn() (bool, error) {
	entry, err := autostart.NewEntry()
	if err != nil {
		return false, err
	}
	st, err := entry.Status()
	return st.On, err
}
