package incident

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

// InputFile is one log file named by the case file's globs.
type InputFile struct {
	Source int    // index into Case.Logs
	Path   string // absolute path, or "-" for standard input
	Rel    string // as shown to people: relative to the case file where possible
	Size   int64  // -1 for standard input
	Glob   int    // index into Case.Logs[Source].Paths of the glob that found it
	// Globs names every logs[i].paths[j] glob that matched the file, as
	// "i.j" (a file two globs match is listed once).
	Globs []string
}

// ExpandGlobs resolves every logs[].paths glob relative to the case file's
// directory. A glob that matches nothing is an error naming it. The same file
// named twice (by two globs, or through a link) is listed once. Directories
// are skipped; anything else that is not a regular file (a FIFO, a device, a
// socket, or a link to one) is an error: only regular files are evidence, and
// reading a FIFO would wait for a writer forever.
func (c *Case) ExpandGlobs() ([]InputFile, error) { return c.expandGlobs(false) }

// ExpandGlobsHere is ExpandGlobs for one machine's share of the logs
// (breachctl load): a glob that matches nothing here is no error (its
// files are on another machine), and standard input is refused.
func (c *Case) ExpandGlobsHere() ([]InputFile, error) { return c.expandGlobs(true) }

func (c *Case) expandGlobs(here bool) ([]InputFile, error) {
	var out []InputFile
	seen := map[string]int{} // path -> index in out
	var infos []os.FileInfo
	for i, src := range c.Logs {
		for j, g := range src.Paths {
			if g == "-" {
				if here {
					return nil, fmt.Errorf("logs[%d].paths[%d]: standard input (\"-\") cannot be loaded: a load reads files (save it to a file and name that)", i, j)
				}
				if _, ok := seen["-"]; !ok {
					seen["-"] = len(out)
					out = append(out, InputFile{Source: i, Path: "-", Rel: "-", Size: -1, Glob: j})
					infos = append(infos, nil)
				}
				k := seen["-"]
				out[k].Globs = append(out[k].Globs, fmt.Sprintf("%d.%d", i, j))
				continue
			}
			pattern := g
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(c.Dir, pattern)
			}
			matches, err := filepath.Glob(pattern)
			if err != nil {
				return nil, fmt.Errorf("logs[%d].paths[%d]: %q is not a valid glob: %w", i, j, g, err)
			}
			sort.Strings(matches)
			n := 0
			for _, m := range matches {
				fi, err := os.Stat(m)
				if err != nil {
					return nil, fmt.Errorf("logs[%d].paths[%d]: %w", i, j, err)
				}
				if fi.IsDir() {
					continue
				}
				if !fi.Mode().IsRegular() {
					return nil, fmt.Errorf("logs[%d].paths[%d]: %w", i, j, &NotRegularError{Path: m, Mode: fi.Mode()})
				}
				n++
				glob := fmt.Sprintf("%d.%d", i, j)
				if k, ok := seen[m]; ok {
					out[k].Globs = append(out[k].Globs, glob)
					continue
				}
				if k := sameAsAny(fi, infos); k >= 0 {
					out[k].Globs = append(out[k].Globs, glob)
					continue
				}
				seen[m] = len(out)
				rel, err := filepath.Rel(c.Dir, m)
				if err != nil {
					rel = m
				}
				out = append(out, InputFile{Source: i, Path: m, Rel: rel, Size: fi.Size(), Glob: j, Globs: []string{glob}})
				infos = append(infos, fi)
			}
			if n == 0 && !here {
				return nil, fmt.Errorf("logs[%d].paths[%d]: %q matches no file (relative to %s); check the path or remove the entry", i, j, g, c.Dir)
			}
		}
	}
	return out, nil
}

// sameAsAny is the index of the file in infos fi is (through a link), or -1.
func sameAsAny(fi os.FileInfo, infos []os.FileInfo) int {
	for k, o := range infos {
		if o != nil && os.SameFile(fi, o) {
			return k
		}
	}
	return -1
}

// NotRegularError says a log path is not a regular file, and what to do.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file: only regular files are read as evidence; copy the data to a regular file first, or give \"-\" as the path and pipe the data to standard input", e.Path, describeMode(e.Mode))
}

func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return "a special file"
}

// OpenRegular opens path for reading when it is a regular file (or a link to
// one), and refuses anything else with a *NotRegularError. It never blocks:
// the file is opened with O_NONBLOCK (which reads of regular files ignore)
// and checked after the open, so a file swapped for a FIFO after it was
// listed is refused instead of waiting for a writer.
func OpenRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return f, nil
}
