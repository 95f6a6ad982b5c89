package bounce

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDSN: no message, and no mbox, makes the parser panic.
func FuzzDSN(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.eml"))
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n!!\n--b--\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := Parse(raw)
		if err == nil && d == nil {
			t.Fatal("Parse returned neither a DSN nor an error")
		}
		if err == nil {
			for _, r := range d.Recipients {
				if !statusRE.MatchString(r.Status) || !actions[r.Action] {
					t.Fatalf("recipient %+v: invalid status or action accepted", r)
				}
			}
		}
		_ = SplitMbox(bytes.NewReader(raw), func(int, []byte) error { return nil })
	})
}
