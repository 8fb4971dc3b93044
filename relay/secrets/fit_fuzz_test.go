package secrets

import (
	"context"
	"strings"
	"testing"
)

// memRaw is a rawStore in memory.
type memRaw map[string]string

func (m memRaw) getItem(_ context.Context, name string) (string, error) {
	v, ok := m[name]
	if !ok {
		return "", ErrNotFound
	}
	return v, nil
}
func (m memRaw) setItem(_ context.Context, name, value string) error { m[name] = value; return nil }
func (m memRaw) deleteItem(_ context.Context, name string) error {
	if _, ok := m[name]; !ok {
		return ErrNotFound
	}
	delete(m, name)
	return nil
}

// FuzzFittedItems: any value up to MaxValueLen comes back as stored, in
// items no larger than maxPartLen; and whatever the keyring holds under
// an item and its parts (damaged, forged), reading it never panics and
// never returns more than MaxValueLen.
func FuzzFittedItems(f *testing.F) {
	f.Add("a password", "")
	f.Add(strings.Repeat("x", 5000), splitMark+"3:0011223344556677:abc")
	f.Add(splitMark+"looks split", splitMark+"9:zz:")
	f.Fuzz(func(t *testing.T, value, forged string) {
		if len(value) > MaxValueLen {
			return
		}
		ctx := context.Background()
		m := memRaw{}
		if err := setFitted(ctx, m, "key", value); err != nil {
			t.Fatal(err)
		}
		for name, v := range m {
			if len(v) > maxPartLen {
				t.Fatalf("item %q holds %d bytes", name, len(v))
			}
		}
		if got, err := getFitted(ctx, m, "key"); err != nil || got != value {
			t.Fatalf("read back %d bytes, %v; stored %d", len(got), err, len(value))
		}
		m["key"] = forged
		if got, err := getFitted(ctx, m, "key"); err == nil && len(got) > MaxValueLen+maxPartLen {
			t.Fatalf("a forged item read as %d bytes", len(got))
		}
	})
}
