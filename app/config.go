package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"earshot/relay/alerts"
	"earshot/relay/archive"
	"earshot/relay/loudness"
	"earshot/relay/priority"
	"earshot/relay/quiet"
	"earshot/relay/safefile"
)

// Config is config.json: where the account lives and how the relay runs.
// It never holds a secret; those are in the keyring.
type Config struct {
	// Server is the OpenScanner base URL, e.g. https://scanner.example.org.
	Server string `json:"server,omitempty"`
	// User is the account name; empty for public-access servers.
	User string `json:"user,omitempty"`
	// LastServer and LastUser are the account signed out of last: the
	// sign-in window offers them again (no secret: the keyring items are
	// gone with the sign-out).
	LastServer string `json:"lastServer,omitempty"`
	LastUser   string `json:"lastUser,omitempty"`
	// Listen is the relay's address; empty means DefaultListen.
	Listen string `json:"listen,omitempty"`
	// Hosts are names the relay also answers to in a request's Host
	// besides loopback ones (a local alias, or the name of a --listen
	// address other machines reach); everything else is refused (DNS
	// rebinding). `earshot relay --host NAME` adds to them.
	Hosts []string `json:"hosts,omitempty"`
	// PasswordChangeRequested: the server asked, at the last sign-in, that
	// the user change the password in its web page. The next relay run
	// shows it in its status once and clears it here.
	PasswordChangeRequested bool `json:"passwordChangeRequested,omitempty"`
	// CacheMB bounds the audio cache; 0 means DefaultCacheMB.
	CacheMB int64 `json:"cacheMB,omitempty"`
	// Preferences holds UI settings (volume, selection, …) as the UI owns them.
	Preferences map[string]json.RawMessage `json:"preferences,omitempty"`
	// Archive keeps calls beyond the audio cache; nil (or not enabled)
	// keeps none.
	Archive *ArchiveSettings `json:"archive,omitempty"`
	// Servers holds what belongs to one server (its alert rules, …), by
	// ServerKey: a listener's choices on one server mean nothing on another.
	Servers map[string]*ServerSettings `json:"servers,omitempty"`
	// QuietHours is the listener's quiet-hours schedule (relay/quiet);
	// nil: none.
	QuietHours *quiet.Hours `json:"quietHours,omitempty"`
	// Levelling set to false turns loudness levelling off; nil means on.
	Levelling *bool `json:"levelling,omitempty"`
	// OnInterrupt is what becomes of a call a priority call cuts short:
	// "requeue" (the default) or "drop".
	OnInterrupt priority.OnInterrupt `json:"onInterrupt,omitempty"`
}

// ArchiveSettings are config.json's "archive" (relay/archive owns their
// format; the window's settings edit them too).
type ArchiveSettings = archive.Settings

// Archive defaults.
const (
	DefaultArchiveDays = archive.DefaultDays
	DefaultArchiveMB   = archive.DefaultMB
)

// LevellingOn reports whether calls are brought to one loudness (on unless
// the listener turned it off).
func (c *Config) LevellingOn() bool { return c.Levelling == nil || *c.Levelling }

// ServerSettings are the settings that belong to one server.
type ServerSettings struct {
	// Alerts are the alert rules for this server's calls.
	Alerts []alerts.Rule `json:"alerts,omitempty"`
	// Priority are the listener's priority talkgroups.
	Priority []priority.TG `json:"priority,omitempty"`
	// Volume are the per-talkgroup volume offsets (-20 to +10 dB).
	Volume loudness.Offsets `json:"volume,omitempty"`
}

// DemoServerKey is the ServerKey of the built-in demo server.
const DemoServerKey = "demo"

// ServerKey names the server whose settings apply: the configured server's
// URL, or DemoServerKey for the demo server (with no account, or --demo).
func (c *Config) ServerKey(demo bool) string {
	if demo || !c.HasAccount() {
		return DemoServerKey
	}
	return c.Server
}

// ServerSettings returns the settings of the server named key (a zero
// value when it has none); changing it changes c.
func (c *Config) ServerSettings(key string) *ServerSettings {
	if c.Servers == nil {
		c.Servers = map[string]*ServerSettings{}
	}
	s := c.Servers[key]
	if s == nil {
		s = &ServerSettings{}
		c.Servers[key] = s
	}
	return s
}

// AlertRules returns the alert rules of the server named key.
func (c *Config) AlertRules(key string) []alerts.Rule {
	if s := c.Servers[key]; s != nil {
		return s.Alerts
	}
	return nil
}

// Defaults.
const (
	DefaultListen  = "127.0.0.1:7373"
	DefaultCacheMB = 256
	maxConfigBytes = 1 << 20
)

// HasAccount reports whether a server is configured.
func (c *Config) HasAccount() bool { return c.Server != "" }

// Validate checks values a hand-edited file could get wrong.
func (c *Config) Validate() error {
	if c.Server != "" {
		if _, err := NormalizeServerURL(c.Server); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	if len(c.User) > 256 || strings.ContainsAny(c.User, "\x00\r\n") {
		return errors.New("user: not a valid account name")
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return fmt.Errorf("listen: %q is not host:port", c.Listen)
		}
	}
	if len(c.Hosts) > maxHosts {
		return fmt.Errorf("hosts: at most %d names", maxHosts)
	}
	for _, h := range c.Hosts {
		if err := ValidHostName(h); err != nil {
			return fmt.Errorf("hosts: %w", err)
		}
	}
	if c.CacheMB < 0 || c.CacheMB > 1<<20 {
		return errors.New("cacheMB: must be between 0 and 1048576")
	}
	if c.Archive != nil {
		if err := c.Archive.Validate(); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
	}
	if len(c.Servers) > maxServers {
		return fmt.Errorf("servers: settings for at most %d servers", maxServers)
	}
	for key, s := range c.Servers {
		if key != DemoServerKey {
			if _, err := NormalizeServerURL(key); err != nil {
				return fmt.Errorf("servers: %q is neither %q nor a server URL", key, DemoServerKey)
			}
		}
		if s == nil {
			continue
		}
		if err := alerts.ValidateRules(s.Alerts); err != nil {
			return fmt.Errorf("servers: %s: alerts: %w", key, err)
		}
		if err := priority.Validate(s.Priority); err != nil {
			return fmt.Errorf("servers: %s: priority: %w", key, err)
		}
		if err := s.Volume.Validate(); err != nil {
			return fmt.Errorf("servers: %s: volume: %w", key, err)
		}
	}
	if c.QuietHours != nil {
		if _, err := quiet.Compile(*c.QuietHours, nil); err != nil {
			return fmt.Errorf("quietHours: %w", err)
		}
	}
	return nil
}

// maxServers caps Config.Servers.
const maxServers = 64

// maxHosts caps Config.Hosts.
const maxHosts = 32

// ValidHostName checks a name the relay may answer to: a DNS name (letters,
// digits and hyphens in dot-separated labels) or an IP address, without a
// port, brackets or a trailing dot.
func ValidHostName(h string) error {
	if ip := net.ParseIP(h); ip != nil {
		return nil
	}
	if h == "" || len(h) > 253 {
		return fmt.Errorf("%q is not a host name", h)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a host name (give a name such as earshot.lan, without a port)", h)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("%q is not a host name (give a name such as earshot.lan, without a port)", h)
			}
		}
	}
	return nil
}

// NormalizeServerURL checks an OpenScanner base URL and returns it without a
// trailing slash. Only http and https are accepted; user info, queries and
// fragments are refused (they would end up in every request).
func NormalizeServerURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if len(raw) > 2048 {
		return "", errors.New("the server URL is too long")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("the server URL must start with https:// (or http://), got %q", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("the server URL %q has no host", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("the server URL must not contain a user name, password, query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u.String(), nil
}

// ConfigDir is where config.json and tokens.json live.
func ConfigDir() (string, error) {
	if d := os.Getenv("EARSHOT_CONFIG_DIR"); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the configuration directory: %w", err)
	}
	return filepath.Join(base, "earshot"), nil
}

// CacheDir is where the audio cache lives.
func CacheDir() (string, error) {
	if d := os.Getenv("EARSHOT_CACHE_DIR"); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the cache directory: %w", err)
	}
	return filepath.Join(base, "earshot", "audio"), nil
}

// DataDir is where Earshot keeps what the user means to keep (the call
// archive): EARSHOT_DATA_DIR, else earshot/ in the platform's place for
// user data (userDataDir).
func DataDir() (string, error) {
	if d := os.Getenv("EARSHOT_DATA_DIR"); d != "" {
		return d, nil
	}
	base, err := userDataDir()
	if err != nil {
		return "", fmt.Errorf("find the data directory: %w", err)
	}
	return filepath.Join(base, "earshot"), nil
}

// LoadConfig reads config.json from dir. A missing file is an empty config.
// It refuses a file others can write: someone could point Earshot at their
// own server and collect the user's password.
func LoadConfig(dir string) (*Config, error) {
	if err := safefile.PrivateDir(dir); err != nil {
		return nil, fmt.Errorf("the configuration directory: %w", err)
	}
	path := filepath.Join(dir, "config.json")
	f, err := safefile.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	if err := checkPrivate(f, path); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return ParseConfig(data, path)
}

// ParseConfig decodes and validates config.json's contents; path is only
// for messages.
func ParseConfig(data []byte, path string) (*Config, error) {
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes; it is not an Earshot configuration", path, maxConfigBytes)
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON (%v); fix or delete it", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s has data after the JSON object; fix or delete it", path)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// checkPrivate refuses files that group or others may write, and
// anything but a regular file (a FIFO would block the read).
func checkPrivate(f *os.File, path string) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file; move it away and start again", path)
	}
	if safefile.WritableByOthers(st) {
		return fmt.Errorf("%s can be changed by other users (mode %v); run `chmod 600 %s` and start again", path, st.Mode().Perm(), path)
	}
	return nil
}

// SaveConfig writes config.json atomically with mode 0600.
func SaveConfig(dir string, c *Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode configuration: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, "config.json"), append(data, '\n'))
}

// writeFileAtomic writes data to path (mode 0600) through a temporary file
// in the same directory, so a crash leaves either the old file or the new
// one; the directory must be a private one of the user's.
func writeFileAtomic(path string, data []byte) error {
	if err := safefile.PrivateDir(filepath.Dir(path)); err != nil {
		return err
	}
	return safefile.WriteAtomic(path, data, 0o600)
}
