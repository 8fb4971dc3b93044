package autostart

import (
	"errors"
	"fmt"
	"strings"
)

// The Windows entry: a value named AppID under the user's Run key, holding
// the command line. The logic is here, over a small interface, so its
// tests run on every platform; runkey_windows.go opens the real key.

// runKeyPath is where the value lives (shown in Status).
const runKeyPath = `HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run`

// errValueNotFound is what a registryValues answers for a missing value.
var errValueNotFound = errors.New("the value does not exist")

// registryValues is the Run key's string values.
type registryValues interface {
	GetString(name string) (string, error) // errValueNotFound when missing
	SetString(name, value string) error
	DeleteValue(name string) error
}

type runKeyEntry struct {
	open func() (registryValues, func(), error)
}

func (e runKeyEntry) Enable(command []string) error {
	k, done, err := e.open()
	if err != nil {
		return fmt.Errorf("open %s: %w", runKeyPath, err)
	}
	defer done()
	if err := k.SetString(AppID, windowsCommandLine(command)); err != nil {
		return fmt.Errorf("write %s\\%s: %w", runKeyPath, AppID, err)
	}
	return nil
}

func (e runKeyEntry) Disable() error {
	k, done, err := e.open()
	if err != nil {
		return fmt.Errorf("open %s: %w", runKeyPath, err)
	}
	defer done()
	if _, err := k.GetString(AppID); errors.Is(err, errValueNotFound) {
		return nil
	}
	if err := k.DeleteValue(AppID); err != nil && !errors.Is(err, errValueNotFound) {
		return fmt.Errorf("remove %s\\%s: %w", runKeyPath, AppID, err)
	}
	return nil
}

func (e runKeyEntry) Status() (State, error) {
	st := State{Where: runKeyPath + `\` + AppID}
	k, done, err := e.open()
	if err != nil {
		return st, fmt.Errorf("open %s: %w", runKeyPath, err)
	}
	defer done()
	v, err := k.GetString(AppID)
	switch {
	case errors.Is(err, errValueNotFound):
		return st, nil
	case err != nil:
		return st, fmt.Errorf("read %s: %w", st.Where, err)
	}
	st.On = true
	st.Command = splitWindowsCommandLine(v)
	st.Stale = isStale(st.Command)
	return st, nil
}

// windowsCommandLine quotes command the way Windows programs (and Go's
// os.Args on Windows) split it back: each argument in double quotes,
// backslashes doubled only where they precede a quote.
func windowsCommandLine(command []string) string {
	parts := make([]string, len(command))
	for i, a := range command {
		var b strings.Builder
		b.WriteByte('"')
		slashes := 0
		for i := 0; i < len(a); i++ {
			switch a[i] {
			case '\\':
				slashes++
			case '"':
				b.WriteString(strings.Repeat(`\`, slashes+1))
				slashes = 0
			default:
				slashes = 0
			}
			b.WriteByte(a[i])
		}
		b.WriteString(strings.Repeat(`\`, slashes))
		b.WriteByte('"')
		parts[i] = b.String()
	}
	return strings.Join(parts, " ")
}

// splitWindowsCommandLine splits a command line as windowsCommandLine
// writes it (the CommandLineToArgvW rules for quoted arguments).
func splitWindowsCommandLine(s string) []string {
	var (
		a       argList
		inQuote bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			n := 0
			for i < len(s) && s[i] == '\\' {
				n++
				i++
			}
			if i < len(s) && s[i] == '"' {
				a.add(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					a.add(`"`)
				} else {
					inQuote = !inQuote
				}
			} else {
				a.add(strings.Repeat(`\`, n))
				i--
			}
		case c == '"':
			inQuote = !inQuote
			a.open()
		case (c == ' ' || c == '\t') && !inQuote:
			a.end()
		default:
			a.add(s[i : i+1])
		}
	}
	return a.done()
}
