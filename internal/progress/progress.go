// Package progress draws a progress bar on a terminal, and nothing otherwise.
package progress

import (
	"io"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Bar follows a counter until stopped.
type Bar struct {
	bar  *progressbar.ProgressBar
	done chan struct{}
	wait chan struct{}
}

// Start draws a bar on w (when terminal is true) following counter up to
// total, in bytes when bytes is set, else in items. Stop it with Stop.
func Start(w io.Writer, terminal bool, total int64, desc string, bytes bool, counter *atomic.Int64) *Bar {
	return StartDescribed(w, terminal, total, func() string { return desc }, bytes, counter)
}

// StartDescribed is Start with a description computed at every redraw
// (e.g. "sent 1200 · failed 3").
func StartDescribed(w io.Writer, terminal bool, total int64, describe func() string, bytes bool, counter *atomic.Int64) *Bar {
	if !terminal || total <= 0 {
		return nil
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(describe()),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionClearOnFinish(),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	} else {
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString("msg"))
	}
	b := &Bar{bar: progressbar.NewOptions64(total, opts...), done: make(chan struct{}), wait: make(chan struct{})}
	go func() {
		defer close(b.wait)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-b.done:
				_ = b.bar.Set64(counter.Load())
				return
			case <-t.C:
				b.bar.Describe(describe())
				_ = b.bar.Set64(counter.Load())
			}
		}
	}()
	return b
}

// Stop removes the bar. A nil Bar is a no-op.
func (b *Bar) Stop() {
	if b == nil {
		return
	}
	close(b.done)
	<-b.wait
	_ = b.bar.Finish()
	_ = b.bar.Clear()
}
