package incident

import (
	"context"
	"fmt"
)

// MaxLine is the longest log line accepted, by validate's sample and by
// ingest's reader alike (logs.DefaultMaxLine is this value): a longer line is
// rejected, with TooLongReason, and counted. The line ending is not counted.
const MaxLine = 1 << 20

// TooLongReason is why a line longer than max bytes is rejected.
func TooLongReason(max int) string { return fmt.Sprintf("longer than %d bytes", max) }

// DefaultSampleLines is how many lines of each file validate parses.
const DefaultSampleLines = 1000

// A LogSample is what the configured parser made of the first lines of one
// file: validate reads them exactly as ingest will (the same parser, the
// same reader), so "it parses" means what ingest means by it.
type LogSample struct {
	Compressed bool
	Lines      int64 // data lines read (a format's own header lines are not data)
	Parsed     int64
	Rejected   int64
	Rejects    []LogReject      // the first few, in line order
	Unknown    map[string]int64 // cache results the format does not know: value -> lines
	ReadError  string           // why the file ended early (a truncated gzip), if it did
}

// LogReject is a rejected line: where and why.
type LogReject struct {
	Line   int64
	Reason string
}

// SampleFunc parses the first maxLines lines of one file with the parser of
// its logs[] entry (validate's is built on the log parsers, which this
// package cannot import).
type SampleFunc func(ctx context.Context, f InputFile, maxLines int64) (LogSample, error)

// mostlyRejected says a sample is not in its declared format (or not with
// its configuration): no line parsed, or at least half were rejected.
func (s LogSample) mostlyRejected() bool { return s.Parsed == 0 || s.Rejected*2 >= s.Lines }
