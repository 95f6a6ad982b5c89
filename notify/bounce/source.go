package bounce

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/breachctl/breachctl/incident"
)

// maxMessage bounds one message of an mbox or one .eml file.
const maxMessage = 64 << 20

// Message is one message of a source: its DSN, or NotDSN when it is not one.
type Message struct {
	Position int // 1-based, in the file
	DSN      *DSN
	NotDSN   bool
}

// MessageError is a message that says it is a DSN and cannot be read as one.
type MessageError struct {
	Path     string
	Position int
	Err      error
}

func (e *MessageError) Error() string {
	return fmt.Sprintf("%s message %d: not a readable delivery status notification: %v", e.Path, e.Position, e.Err)
}

func (e *MessageError) Unwrap() error { return e.Err }

// Source is a file read: its SHA-256 (of exactly the bytes parsed) and
// its messages.
type Source struct {
	Path     string
	SHA256   string
	Bytes    int64
	Messages []Message
}

// ReadSource reads path, an mbox (mbox true) or a single message (.eml),
// hashing it as it is read. A message that cannot be read as a DSN although
// it says it is one is an error naming the file and the message.
func ReadSource(ctx context.Context, path string, mbox bool) (*Source, error) {
	f, err := incident.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	cr := &countReader{r: f, h: h, ctx: ctx}
	src := &Source{Path: path}
	add := func(pos int, raw []byte) error {
		m := Message{Position: pos}
		d, err := Parse(raw)
		switch {
		case errors.Is(err, ErrNotDSN):
			m.NotDSN = true
		case err != nil:
			return &MessageError{Path: path, Position: pos, Err: err}
		default:
			m.DSN = d
		}
		src.Messages = append(src.Messages, m)
		return nil
	}
	if mbox {
		err = SplitMbox(cr, add)
	} else {
		var raw []byte
		raw, err = io.ReadAll(io.LimitReader(cr, maxMessage+1))
		if err == nil && len(raw) > maxMessage {
			err = fmt.Errorf("larger than %d MiB: not a message", maxMessage>>20)
		}
		if err == nil {
			err = add(1, raw)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var me *MessageError
		if errors.As(err, &me) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	src.SHA256 = hex.EncodeToString(h.Sum(nil))
	src.Bytes = cr.n
	return src, nil
}

type countReader struct {
	r   io.Reader
	h   hash.Hash
	n   int64
	ctx context.Context
}

func (c *countReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	k, err := c.r.Read(p)
	c.h.Write(p[:k])
	c.n += int64(k)
	return k, err
}

// SplitMbox calls fn with each message of an mbox (mboxo or mboxrd): a
// message starts at a "From " line at the start of the file or after an
// empty line; ">From " lines are unquoted one level. The From_ line is not
// part of the message.
func SplitMbox(r io.Reader, fn func(pos int, raw []byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		cur       bytes.Buffer
		pos       int
		prevEmpty = true
		lineNo    int
	)
	flush := func() error {
		if pos == 0 {
			return nil
		}
		b := cur.Bytes()
		// The empty line before the next From_ line separates, it is not the message's.
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		if err := fn(pos, b); err != nil {
			return err
		}
		cur.Reset()
		return nil
	}
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A long line: keep reading it whole.
			long := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
				if len(long) > maxMessage {
					return fmt.Errorf("message %d: a line longer than %d MiB: not an mbox", pos, maxMessage>>20)
				}
			}
			line = long
		}
		if len(line) > 0 {
			lineNo++
			if prevEmpty && bytes.HasPrefix(line, []byte("From ")) {
				if err := flush(); err != nil {
					return err
				}
				pos++
			} else {
				if pos == 0 {
					if len(bytes.TrimSpace(line)) == 0 {
						continue
					}
					return fmt.Errorf("line %d: not an mbox (a message must start with a \"From \" line)", lineNo)
				}
				if unq := bytes.TrimLeft(line, ">"); len(unq) < len(line) && bytes.HasPrefix(unq, []byte("From ")) {
					line = line[1:]
				}
				if cur.Len()+len(line) > maxMessage {
					return fmt.Errorf("message %d: larger than %d MiB", pos, maxMessage>>20)
				}
				cur.Write(line)
			}
			t := bytes.TrimRight(line, "\r\n")
			prevEmpty = len(t) == 0
		}
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			return err
		}
	}
}
