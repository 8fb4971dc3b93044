package export

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// output writes an export into a partial beside Out (a hidden directory
// or file) and puts it in place only when whole.
type output struct {
	out  string
	tmp  string
	f    *os.File    // the partial zip file
	zip  *zip.Writer // nil for a directory
	done bool
}

func newWriter(out string) (*output, error) {
	o := &output{out: out}
	parent := filepath.Dir(filepath.Clean(out))
	if isZip(out) {
		f, err := os.CreateTemp(parent, ".earshot-export-*.partial")
		if err != nil {
			return nil, fmt.Errorf("write the export: %w", err)
		}
		o.f, o.tmp, o.zip = f, f.Name(), zip.NewWriter(f)
		return o, nil
	}
	dir, err := os.MkdirTemp(parent, ".earshot-export-*.partial")
	if err != nil {
		return nil, fmt.Errorf("write the export: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("write the export: %w", err)
	}
	o.tmp = dir
	return o, nil
}

// add writes one file, dated mod.
func (o *output) add(name string, mod time.Time, data []byte) error {
	if o.zip != nil {
		// Audio is compressed already; the index compresses well.
		method := zip.Store
		if strings.HasSuffix(name, ".csv") || strings.HasSuffix(name, ".json") {
			method = zip.Deflate
		}
		w, err := o.zip.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: mod})
		if err == nil {
			_, err = w.Write(data)
		}
		if err != nil {
			return fmt.Errorf("write %s into %s: %w", name, o.out, err)
		}
		return nil
	}
	path := filepath.Join(o.tmp, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	_ = os.Chtimes(path, mod, mod) // the call's time, for file managers
	return nil
}

// commit puts the whole export in place.
func (o *output) commit() error {
	if o.zip != nil {
		if err := o.zip.Close(); err != nil {
			return fmt.Errorf("write %s: %w", o.out, err)
		}
		if err := o.f.Sync(); err != nil {
			return fmt.Errorf("write %s: %w", o.out, err)
		}
		if err := o.f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", o.out, err)
		}
		if err := os.Chmod(o.tmp, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", o.out, err)
		}
	} else {
		_ = os.Remove(o.out) // the empty directory asked for, if any
	}
	if err := os.Rename(o.tmp, o.out); err != nil {
		return fmt.Errorf("put the export at %s: %w", o.out, err)
	}
	o.done = true
	return nil
}

// abort removes the partial export (nothing after commit).
func (o *output) abort() {
	if o.done {
		return
	}
	if o.f != nil {
		o.f.Close()
	}
	os.RemoveAll(o.tmp)
}

// index is calls.json.
type index struct {
	Server     string     `json:"server,omitempty"`
	From       time.Time  `json:"from"`
	To         time.Time  `json:"to"`
	ExportedAt time.Time  `json:"exportedAt"`
	Calls      []Exported `json:"calls"`
	Failed     []Failure  `json:"failed,omitempty"`
	Problem    string     `json:"problem,omitempty"`
}

// addIndex writes calls.csv and calls.json.
func (o *output) addIndex(res Result, opts Options) error {
	now := opts.Now()
	calls := res.Calls
	if calls == nil {
		calls = []Exported{}
	}
	js, err := json.MarshalIndent(index{
		Server: opts.Server, From: opts.From.In(opts.Location), To: opts.To.In(opts.Location), ExportedAt: now.In(opts.Location),
		Calls: calls, Failed: res.Failed, Problem: res.Problem,
	}, "", "  ")
	if err != nil {
		return err
	}
	if err := o.add("calls.json", now, append(js, '\n')); err != nil {
		return err
	}
	return o.add("calls.csv", now, callsCSV(res.Calls, opts.Location))
}

// csvHeader names calls.csv's columns.
var csvHeader = []string{
	"file", "time", "unix_time", "call_id", "system_id", "system", "talkgroup_id", "talkgroup", "talkgroup_name",
	"group", "tag", "frequency_hz", "duration_s", "unit", "talker_alias", "site", "channel", "transcript",
	"source", "format", "bytes", "sha256",
}

func callsCSV(calls []Exported, loc *time.Location) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(csvHeader)
	for _, e := range calls {
		c := e.Call
		_ = w.Write([]string{
			e.File, c.Time().In(loc).Format(time.RFC3339), itoa(c.DateTime), itoa(c.ID),
			itoa(c.SystemID), cell(c.SystemLabel), itoa(c.TalkgroupID), cell(c.TalkgroupLabel), cell(c.TalkgroupName),
			cell(c.TalkgroupGroup), cell(c.TalkgroupTag), zeroEmpty(c.Frequency), duration(c.Duration), zeroEmpty(c.Source),
			cell(c.TalkerAlias), cell(c.Site), cell(c.Channel), cell(c.Transcript),
			e.Source, e.Format, itoa(e.Bytes), e.SHA256,
		})
	}
	w.Flush()
	return b.Bytes()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func zeroEmpty(n int64) string {
	if n == 0 {
		return ""
	}
	return itoa(n)
}

func duration(s float64) string {
	if s == 0 {
		return ""
	}
	return strconv.FormatFloat(s, 'f', -1, 64)
}

// cell keeps a text from the server from being taken for a formula by a
// spreadsheet that opens calls.csv (a leading =, +, -, @, tab or CR).
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
