package jobs

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"
)

// workQueue is a stage as the worker pool sees it. Every method but work is
// called from the pool's one owner goroutine, so a stage's scheduling state
// needs no locks; work runs on a worker and must not touch that state.
type workQueue[J, R any] interface {
	// refill reads what was queued in the store since the last refill.
	refill() error
	// next is the job to start now. When none is ready it returns false
	// and how long until one may be (0: not before something is queued).
	next(now time.Time) (job J, ok bool, wait time.Duration)
	// work does the job outside any transaction.
	work(ctx context.Context, job J) R
	// done takes a job's result back (aborted: cut off by shutdown, so it
	// stays queued); it returns true when enough results are collected to
	// be worth a commit now.
	done(job J, r R, aborted bool) bool
	// flush commits the collected results in one transaction, or, unless
	// final, may keep them for a bigger batch; with none it does nothing.
	// Results it fails to commit are kept for the next flush.
	flush(final bool) error
}

// pool runs a stage: it keeps up to workers jobs in flight, takes results
// back, commits them in batches (at least every flushEvery), and reads the
// store again when woken or every idle period. When ctx ends it stops
// starting jobs, waits for those in flight (their ctx is cancelled too, so
// aborted jobs stay queued in the store), commits what finished and
// returns.
func pool[J, R any](ctx context.Context, workers int, wake Signal, flushEvery time.Duration, q workQueue[J, R], obs Observer, stage string, onErr func(string, error)) {
	obs = observerOr(obs)
	type result struct {
		job     J
		r       R
		aborted bool
	}
	results := make(chan result)
	var g errgroup.Group // workers are bounded by inflight below
	inflight := 0
	flush := func(final bool) {
		if err := q.flush(final); err != nil {
			obs.StageDone(stage, 0, 0, err)
			onErr("commit", err)
		}
	}
	refill := func() {
		if err := q.refill(); err != nil {
			onErr("read queue", err)
		}
	}
	refill()
	flushT := time.NewTicker(flushEvery)
	defer flushT.Stop()
	idleT := time.NewTicker(idle)
	defer idleT.Stop()
	readyT := time.NewTimer(time.Hour)
	defer readyT.Stop()
	for {
		var wait time.Duration
		for inflight < max(1, workers) && ctx.Err() == nil {
			job, ok, w := q.next(time.Now())
			if !ok {
				wait = w
				break
			}
			inflight++
			g.Go(func() error {
				start := time.Now()
				r := q.work(ctx, job)
				if ctx.Err() == nil {
					obs.StageDone(stage, 1, time.Since(start), nil)
				}
				results <- result{job: job, r: r, aborted: ctx.Err() != nil}
				return nil
			})
		}
		if wait > 0 {
			readyT.Reset(wait)
		}
		select {
		case <-ctx.Done():
			for ; inflight > 0; inflight-- {
				res := <-results
				q.done(res.job, res.r, res.aborted)
			}
			_ = g.Wait()
			flush(true)
			return
		case res := <-results:
			inflight--
			if q.done(res.job, res.r, res.aborted) {
				flush(false)
			}
		case <-wake:
			refill()
		case <-idleT.C:
			refill()
		case <-flushT.C:
			flush(false)
		case <-readyT.C:
		}
	}
}
