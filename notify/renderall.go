package notify

import (
	"context"
	"runtime"
	"sync"
)

// RenderAll renders notices on workers goroutines (GOMAXPROCS when
// workers <= 0) and calls emit once per notice, in the order of notices,
// from the calling goroutine, with the message or the render error (a
// *RecipientError for an unusable recipient: record it with Outbox.Reject
// and go on). It stops at the first error emit returns, or when ctx ends,
// and returns that error.
func RenderAll(ctx context.Context, r *Renderer, notices []Notice, workers int, emit func(*Message, error) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers > len(notices) {
		workers = len(notices)
	}
	if workers <= 1 {
		for i := range notices {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := emit(r.Render(notices[i])); err != nil {
				return err
			}
		}
		return nil
	}

	// Notices go to the workers in chunks, so that the hand-offs cost
	// little next to the rendering; order holds each chunk's results in
	// input order, and its capacity bounds how far rendering runs ahead of
	// emit.
	const chunk = 32
	type result struct {
		m   *Message
		err error
	}
	type job struct {
		lo, hi int
		out    chan []result
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job)
	order := make(chan chan []result, workers*2)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				res := make([]result, j.hi-j.lo)
				for i := range res {
					if ctx.Err() != nil {
						break
					}
					res[i].m, res[i].err = r.Render(notices[j.lo+i])
				}
				j.out <- res
			}
		}()
	}
	go func() {
		defer close(order)
		defer close(jobs)
		for lo := 0; lo < len(notices); lo += chunk {
			hi := min(lo+chunk, len(notices))
			out := make(chan []result, 1)
			select {
			case order <- out:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{lo, hi, out}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var err error
	emitted := 0
	for out := range order {
		if err != nil {
			continue // drain
		}
		var res []result
		select {
		case res = <-out:
		case <-ctx.Done():
			err = ctx.Err()
			continue
		}
		for _, x := range res {
			if err = ctx.Err(); err != nil {
				break
			}
			if err = emit(x.m, x.err); err != nil {
				cancel()
				break
			}
			emitted++
		}
	}
	wg.Wait()
	if err == nil && emitted < len(notices) {
		err = parent.Err() // stopped early: only a cancelled context does that
	}
	return err
}
