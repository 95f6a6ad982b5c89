package serve

import (
	"context"
	"errors"
	"sync"
	"time"
)

// maxBatch bounds one group commit.
const maxBatch = 500

// batcher group-commits: items that arrive while a commit is in flight wait
// and go together in the next one, so many concurrent requests cost one
// transaction, and each request has its answer only once the transaction
// holding its item has committed. A committer goroutine runs only while
// items are waiting. run returns one result per item, in order.
type batcher[In, Out any] struct {
	run     func(context.Context, []In) ([]Out, error)
	mu      sync.Mutex
	pending []*batchWait[In, Out]
	running bool
}

type batchWait[In, Out any] struct {
	in   In
	out  Out
	err  error
	done chan struct{}
}

func newBatcher[In, Out any](run func(context.Context, []In) ([]Out, error)) *batcher[In, Out] {
	return &batcher[In, Out]{run: run}
}

// do returns the items' results once they are committed, or the error that
// kept them from being committed.
func (b *batcher[In, Out]) do(ctx context.Context, ins ...In) ([]Out, error) {
	ws := make([]*batchWait[In, Out], len(ins))
	b.mu.Lock()
	for i, in := range ins {
		ws[i] = &batchWait[In, Out]{in: in, done: make(chan struct{})}
		b.pending = append(b.pending, ws[i])
	}
	if !b.running && len(ws) > 0 {
		b.running = true
		go b.commit()
	}
	b.mu.Unlock()
	outs := make([]Out, len(ws))
	for i, w := range ws {
		select {
		case <-w.done:
			if w.err != nil {
				return nil, w.err
			}
			outs[i] = w.out
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return outs, nil
}

func (b *batcher[In, Out]) commit() {
	for {
		b.mu.Lock()
		n := min(len(b.pending), maxBatch)
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		ins := make([]In, len(batch))
		for i, w := range batch {
			ins[i] = w.in
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		outs, err := b.run(ctx, ins)
		cancel()
		if err == nil && len(outs) != len(batch) {
			err = errBatchShape
		}
		for i, w := range batch {
			if w.err = err; err == nil {
				w.out = outs[i]
			}
			close(w.done)
		}
	}
}

// errBatchShape: a batch's run gave another number of results than items
// (a program error).
var errBatchShape = errors.New("serve: a group commit returned the wrong number of results")
