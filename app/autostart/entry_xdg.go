//go:build !windows && !darwin

package autostart

// NewEntry is the user's XDG autostart entry.
func NewEntry() (Entry, error) {
	home, err := xdgConfigHome()
	if err != nil {
		return nil, err
	}
	return xdgEntry(home), nil
}
