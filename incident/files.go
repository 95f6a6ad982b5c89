package incident

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// InputFile is one log file named by the case file's globs.
type InputFile struct {
	Source int    // index into Case.Logs
	Path   string // absolute path, or "-" for standard input
	Rel    string // as shown to people: relative to the case file where possible
	Size   int64  // -1 for standard input
}

// ExpandGlobs resolves every logs[].paths glob relative to the case file's
// directory. A glob that matches nothing is an error naming it. The same file
// named twice (by two globs, or through a link) is listed once.
func (c *Case) ExpandGlobs() ([]InputFile, error) {
	var out []InputFile
	seen := map[string]bool{}
	var infos []os.FileInfo
	for i, src := range c.Logs {
		for j, g := range src.Paths {
			if g == "-" {
				if !seen["-"] {
					seen["-"] = true
					out = append(out, InputFile{Source: i, Path: "-", Rel: "-", Size: -1})
					infos = append(infos, nil)
				}
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
				n++
				if seen[m] || sameAsAny(fi, infos) {
					continue
				}
				seen[m] = true
				rel, err := filepath.Rel(c.Dir, m)
				if err != nil {
					rel = m
				}
				out = append(out, InputFile{Source: i, Path: m, Rel: rel, Size: fi.Size()})
				infos = append(infos, fi)
			}
			if n == 0 {
				return nil, fmt.Errorf("logs[%d].paths[%d]: %q matches no file (relative to %s); check the path or remove the entry", i, j, g, c.Dir)
			}
		}
	}
	return out, nil
}

func sameAsAny(fi os.FileInfo, infos []os.FileInfo) bool {
	for _, o := range infos {
		if o != nil && os.SameFile(fi, o) {
			return true
		}
	}
	return false
}
