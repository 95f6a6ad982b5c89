package logs

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
)

// TestReadJSONRecords: an exported array or pretty-printed records are
// framed by JSON values; a record counts as a line and a reject names the
// line its record begins on.
func TestReadJSONRecords(t *testing.T) {
	dir := t.TempDir()
	fields := map[string]string{"time": "t", "path": "p", "status": "s", "cache": "c"}
	pretty := "{\n  \"t\": 1,\n  \"p\": \"/a\",\n  \"s\": 200,\n  \"c\": \"HIT\"\n}\n{\n  \"t\": 2,\n  \"p\": \"/b\",\n  \"s\": 200,\n  \"c\": \"MISS\",\n  \"x\": {\"y\": [1, {\"z\": \"}]\"}]}\n}\n"
	tests := []struct {
		name      string
		data      string
		gz        bool
		chunk     int
		maxLine   int
		want      FileStats
		wantLines []string
	}{
		{name: "array on one line", data: `[{"t":1,"p":"/a","s":200,"c":"HIT"},{"t":2,"p":"/b","s":200,"c":"MISS"}]`,
			want: FileStats{Lines: 2, Parsed: 2, Kept: 2, Coarse: 2, Records: true}, wantLines: []string{"0:1:1", "0:1:2"}},
		{name: "pretty-printed records", data: pretty, chunk: 16,
			want: FileStats{Lines: 2, Parsed: 2, Kept: 2, Coarse: 2, Records: true}, wantLines: []string{"0:1:1", "0:7:2"}},
		{name: "pretty-printed array, gzip, a reject at its first line", gz: true,
			data: "[\n  {\n    \"t\": 1,\n    \"p\": \"/a\",\n    \"s\": 200,\n    \"c\": \"HIT\"\n  },\n  {\n    \"t\": 2,\n    \"p\": \"a\",\n    \"s\": 200,\n    \"c\": \"HIT\"\n  }\n]\n",
			want: FileStats{Lines: 2, Parsed: 1, Rejected: 1, Kept: 1, Coarse: 1, Compressed: true, Records: true,
				Rejects: []Reject{{8, `request target "a" is neither a path beginning with / nor a full URL`}}},
			wantLines: []string{"0:2:1"}},
		{name: "truncated inside a record", data: "[\n{\"t\":1,\"p\":\"/a\",\"s\":200,\"c\":\"HIT\"},\n{\"t\":2,\n\"p\":\"/b\"",
			want: FileStats{Lines: 2, Parsed: 1, Rejected: 1, Kept: 1, Coarse: 1, Records: true, Truncated: true,
				ReadError: "the file ends inside the JSON record that begins on line 3 (truncated?)",
				Rejects:   []Reject{{3, "the file ends inside this JSON record (truncated?)"}}},
			wantLines: []string{"0:2:1"}},
		{name: "array without its closing bracket", data: "[\n{\"t\":1,\"p\":\"/a\",\"s\":200,\"c\":\"HIT\"}\n",
			want: FileStats{Lines: 1, Parsed: 1, Kept: 1, Coarse: 1, Records: true, Truncated: true,
				ReadError: "the file ends before the ']' closing its JSON array (truncated?)"},
			wantLines: []string{"0:2:1"}},
		{name: "text between records is a reject of its own", data: "{\n\"t\":1,\"p\":\"/a\",\"s\":200,\"c\":\"HIT\"}\nnot json\n{\"t\":3,\n\"p\":\"/c\",\"s\":200,\"c\":\"HIT\"}",
			want: FileStats{Lines: 3, Parsed: 2, Rejected: 1, Kept: 2, Coarse: 2, Records: true,
				Rejects: []Reject{{3, "not a JSON object (does not start with '{')"}}},
			wantLines: []string{"0:1:1", "0:4:3"}},
		{name: "a line break inside a string stays invalid", data: "{\n\"t\":1,\"p\":\"/a\nb\",\"s\":200,\"c\":\"HIT\"}\n",
			want: FileStats{Lines: 1, Rejected: 1, Records: true, Rejects: []Reject{{1, "malformed JSON at byte 15: control character inside a string"}}}},
		{name: "a record longer than the limit", maxLine: 40, data: "[{\"t\":1,\"p\":\"/a\",\"s\":200,\"c\":\"HIT\",\"pad\":\"" + strings.Repeat("x", 50) + "\"},\n{\"t\":2,\"p\":\"/b\",\"s\":200,\"c\":\"HIT\"}]",
			want: FileStats{Lines: 2, Parsed: 1, Rejected: 1, Kept: 1, Coarse: 1, Records: true,
				Rejects: []Reject{{1, "longer than 40 bytes"}}},
			wantLines: []string{"0:2:2"}},
		{name: "JSON lines stay lines", data: "{\"t\":1,\"p\":\"/a\",\"s\":200,\"c\":\"HIT\"}\n[1]\n",
			want:      FileStats{Lines: 2, Parsed: 1, Rejected: 1, Kept: 1, Coarse: 1, Rejects: []Reject{{2, "not a JSON object (does not start with '{')"}}},
			wantLines: []string{"0:1:1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewJSONL(fields, Identity{})
			if err != nil {
				t.Fatal(err)
			}
			path := writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "_"), []byte(tc.data), tc.gz)
			var mu sync.Mutex
			var seen []string
			stats, err := Read(context.Background(), []Input{{Path: path, Name: "f", Parser: p}}, Options{
				Workers: 2, ChunkSize: max(tc.chunk, 64), MaxLine: tc.maxLine,
				NewSink: func(int) Sink { return collect{&mu, &seen} },
			})
			if err != nil {
				t.Fatal(err)
			}
			got := stats[0]
			got.Bytes = 0
			if tc.want.Rejects == nil {
				tc.want.Rejects = got.Rejects[:0:0]
				if got.Rejects == nil {
					tc.want.Rejects = nil
				}
			}
			if got.UnknownCache != nil {
				t.Errorf("unknown cache values %v", got.UnknownCache)
				got.UnknownCache = nil
			}
			if want := tc.want; !reflect.DeepEqual(got, want) {
				t.Errorf("stats\n got %+v\nwant %+v", got, want)
			}
			sort.Strings(seen)
			if !reflect.DeepEqual(seen, tc.wantLines) {
				t.Errorf("records %v, want %v", seen, tc.wantLines)
			}
		})
	}
}
