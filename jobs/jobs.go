// Package jobs is dozor's pipeline. Each stage is a small type with a Run
// method; it takes a batch from its own queue in bbolt, works outside any
// transaction, then writes its results and hands the batch on to the next
// queue in one write transaction, so a crash anywhere loses nothing and
// each stage picks up where it was:
//
//	watch (fetch → parse → keep new → match on feed text)
//	  → page (full text, then match again)
//	  → fold (story; is it news on a topic?)
//	  → summarize → fan out → deliver
//
// Stages wake each other with a Signal when they queued work, and also
// look at their queue on a timer, so a lost wake-up only delays work.
// Urgent work has its own lane wherever bulk work could hold it up: the
// page of an article that matched a topic is fetched ahead of the pages
// of articles that matched nothing.
package jobs

import (
	"context"
	"log/slog"
	"time"

	"dozor/internal/query"
	"dozor/storage"
)

// Signal wakes a stage. Notify never blocks, and wake-ups that arrive
// while the stage is busy fold into one.
type Signal chan struct{}

// NewSignal returns a Signal ready for use.
func NewSignal() Signal { return make(Signal, 1) }

// Notify wakes the stage that waits on s; a nil Signal ignores it.
func (s Signal) Notify() {
	if s == nil {
		return
	}
	select {
	case s <- struct{}{}:
	default:
	}
}

// Observer is told what the stages do; internal/metrics implements it.
type Observer interface {
	// StageDone records one step of a stage: items finished, how long it
	// took (0: not timed), whether it failed.
	StageDone(stage string, items int, d time.Duration, err error)
	Fetched(result string) // a feed fetch: "ok", "not_modified" or "error"
	Matched(n int)         // new articles that matched a topic
	PassDone(elapsed time.Duration, at time.Time)
}

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) StageDone(string, int, time.Duration, error) {}
func (nopObserver) Fetched(string)                              {}
func (nopObserver) Matched(int)                                 {}
func (nopObserver) PassDone(time.Duration, time.Time)           {}

func observerOr(o Observer) Observer {
	if o != nil {
		return o
	}
	return nopObserver{}
}

// idle is how often a stage looks at its queue when nobody wakes it: the
// backstop for work queued by another process (dozor poll) or a failed
// commit.
const idle = 5 * time.Second

// loop calls step until it reports no more work, then waits for wake, the
// idle timer or the end of ctx. A failing step is logged and retried at the
// next wake-up; it never stops the stage.
func loop(ctx context.Context, wake Signal, log *slog.Logger, obs Observer, stage string, step func(context.Context) (int, bool, error)) error {
	return loopUntil(ctx, wake, log, obs, stage, nil, step)
}

// loopUntil is loop for a stage that knows when it has work next: next,
// if not nil, is how long until then (0: not before a wake-up), and the
// stage looks no later than that or idle.
func loopUntil(ctx context.Context, wake Signal, log *slog.Logger, obs Observer, stage string, next func() time.Duration, step func(context.Context) (int, bool, error)) error {
	obs = observerOr(obs)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		for {
			start := time.Now()
			n, more, err := step(ctx)
			if n > 0 || err != nil {
				obs.StageDone(stage, n, time.Since(start), err)
			}
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				log.Error(stage+" stage", "err", err)
				break
			}
			if !more {
				break
			}
		}
		wait := idle
		if next != nil {
			if d := next(); d > 0 && d < wait {
				wait = d
			}
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-t.C:
		}
	}
}

// topicCache compiles the stored topics into a query.Set once, and again
// only after they changed, so a stage may ask for them on every batch.
type topicCache struct {
	store   *storage.Store
	log     *slog.Logger
	version uint64
	set     *query.Set
}

// get returns the compiled topics. Only one goroutine of a stage calls it;
// the Set it returns is read-only and may be shared.
func (c *topicCache) get() (*query.Set, error) {
	v := c.store.TopicsVersion()
	if c.set != nil && v == c.version {
		return c.set, nil
	}
	stored, err := c.store.Topics()
	if err != nil {
		return nil, err
	}
	var names []string
	var qs []*query.Query
	for _, t := range stored {
		q, err := query.Parse(t.Query)
		if err != nil {
			// Queries are validated when saved; a stored bad one is skipped, not fatal.
			c.log.Error("stored topic has a bad query", "topic", t.Name, "err", err)
			continue
		}
		names, qs = append(names, t.Name), append(qs, q)
	}
	c.set, c.version = query.NewSet(names, qs), v
	return c.set, nil
}

func nowOr(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

func logOr(log *slog.Logger) *slog.Logger {
	if log != nil {
		return log
	}
	return slog.New(slog.DiscardHandler)
}
