package backend

import (
	"fmt"
	"testing"
)

// FuzzWholeRange: a server's Content-Range is taken as "the whole file"
// only when it says bytes 0 to total-1 of total.
func FuzzWholeRange(f *testing.F) {
	f.Add("bytes 0-99/100")
	f.Add("bytes 0-49/100")
	f.Add("bytes */100")
	f.Add("bytes -1--2/-1")
	f.Fuzz(func(t *testing.T, cr string) {
		if !wholeRange(cr) {
			return
		}
		var first, last, total int64
		if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &first, &last, &total); err != nil || first != 0 || total <= 0 || last != total-1 {
			t.Fatalf("%q taken for the whole file", cr)
		}
	})
}
