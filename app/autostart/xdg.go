package autostart

import (
	"os"
	"path/filepath"
	"strings"
)

// xdgMark marks a desktop entry Earshot wrote (desktop entries may carry
// X- keys of their own; session managers ignore them).
const xdgMark = "X-Earshot-Autostart=true"

// xdgEntry is the XDG autostart entry in configHome/autostart.
func xdgEntry(configHome string) fileEntry {
	return fileEntry{
		path:   filepath.Join(configHome, "autostart", AppID+".desktop"),
		mark:   xdgMark,
		render: renderDesktopEntry,
		parse:  parseDesktopExec,
	}
}

// xdgConfigHome is $XDG_CONFIG_HOME, or ~/.config (the XDG default: an
// unset or relative value is ignored).
func xdgConfigHome() (string, error) {
	if d := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".config"), nil
}

func renderDesktopEntry(command []string) string {
	var b strings.Builder
	b.WriteString("[Desktop Entry]\n")
	b.WriteString("Type=Application\n")
	b.WriteString("Name=Earshot\n")
	b.WriteString("Comment=Scanner radio in the tray; started at log-in (turn off with `earshot autostart off`)\n")
	b.WriteString("Exec=" + desktopExec(command) + "\n")
	b.WriteString("Icon=" + AppID + "\n")
	b.WriteString("Terminal=false\n")
	b.WriteString("NoDisplay=true\n")
	b.WriteString("X-GNOME-Autostart-enabled=true\n")
	b.WriteString(xdgMark + "\n")
	return b.String()
}

// desktopExec quotes a command for a desktop entry's Exec key: every
// argument in double quotes, with `"`, "`", `$` and `\` backslash-escaped
// inside them (the Exec quoting rules), and every backslash then doubled
// again (the string-value escaping the whole key goes through first). A
// literal % is %%.
func desktopExec(command []string) string {
	quoted := make([]string, len(command))
	for i, arg := range command {
		var a strings.Builder
		a.WriteByte('"')
		for i := 0; i < len(arg); i++ { // bytes: a path need not be valid UTF-8
			switch arg[i] {
			case '"', '`', '$', '\\':
				a.WriteByte('\\')
			}
			a.WriteByte(arg[i])
		}
		a.WriteByte('"')
		quoted[i] = strings.NewReplacer(`\`, `\\`, "%", "%%", "\n", "", "\r", "").Replace(a.String())
	}
	return strings.Join(quoted, " ")
}

// parseDesktopExec reads back the command of an Exec key desktopExec
// wrote.
func parseDesktopExec(content string) []string {
	for _, line := range strings.Split(content, "\n") {
		v, ok := strings.CutPrefix(line, "Exec=")
		if !ok {
			continue
		}
		return splitExec(unescapeString(v))
	}
	return nil
}

// unescapeString undoes a desktop entry string value's escapes.
func unescapeString(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
			switch v[i] {
			case 's':
				b.WriteByte(' ')
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(v[i])
			}
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// splitExec splits an (unescaped) Exec value into arguments by the Exec
// quoting rules, and turns %% back into %.
func splitExec(v string) []string {
	var (
		a       argList
		inQuote bool
	)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(v):
			i++
			a.add(v[i : i+1])
		case c == '"':
			inQuote = !inQuote
			a.open()
		case !inQuote && c == ' ':
			a.end()
		case c == '%' && i+1 < len(v) && v[i+1] == '%':
			i++
			a.add("%")
		default:
			a.add(v[i : i+1])
		}
	}
	return a.done()
}
