package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"dozor/internal/summary"
	"dozor/storage"
)

// Summarizer writes a story's summary and never fails: on a dead or slow
// endpoint it falls back to an extractive summary. dozor/internal/summary
// implements it.
type Summarizer interface {
	Summarize(ctx context.Context, a summary.Article) summary.Summary
}

// Summaries is the summarize stage: one summary per story and language,
// ever, written from the article's best text, then the alert goes on to
// the fan-out stage. It never waits for pages: an alert's own page was
// fetched ahead of the bulk before the alert was queued.
type Summaries struct {
	Store      *storage.Store
	Summarizer Summarizer
	// Lang is SUMMARY_LANGUAGE.
	Lang string
	// Deadline counts from the moment the article matched: past it the
	// extractive summary is used at once, so an alert never waits long on
	// a dead endpoint, even after a restart.
	Deadline time.Duration
	// Workers bounds summaries in progress; the model's own concurrency
	// (LLM_CONCURRENCY) is enforced by the summarizer.
	Workers int
	// Wake is notified when alerts were queued.
	Wake Signal
	// Next is notified after each commit, for the fan-out stage.
	Next    Signal
	Now     func() time.Time
	Log     *slog.Logger
	Observe Observer
}

const (
	summaryBatch = 50
	summaryFlush = 200 * time.Millisecond
)

// Run summarises until ctx ends; alerts in progress at shutdown stay
// queued, and no fallback the deadline did not call for is stored.
func (s *Summaries) Run(ctx context.Context) error {
	q := &summaryQueue{s: s, made: map[uint64]*storage.Summary{}, busy: map[uint64][]storage.Alert{}}
	pool(ctx, s.Workers, s.Wake, summaryFlush, q, s.Observe, "summarize", func(what string, err error) {
		s.log().Error("summarize stage: "+what, "err", err)
	})
	return nil
}

func (s *Summaries) log() *slog.Logger { return logOr(s.Log) }

func (s *Summaries) now() time.Time { return nowOr(s.Now) }

// summaryQueue is the stage's state, owned by the pool's goroutine.
type summaryQueue struct {
	s    *Summaries
	fifo []storage.Alert
	last uint64
	made map[uint64]*storage.Summary // summaries not committed yet, by story
	// busy holds, per story with a summary in progress, the further alerts
	// on it: two alerts on one story (a reprint that matched another
	// topic) must not make two model calls, so the second waits for the
	// first and reuses its summary.
	busy  map[uint64][]storage.Alert
	batch []storage.Summarized
	usage storage.Usage
	// later holds alerts a store error held up, retried from laterAt.
	later   []storage.Alert
	laterAt time.Time
}

// retryStoreErr is how long an alert waits after a store error.
const retryStoreErr = 5 * time.Second

type summaryJob struct {
	alert storage.Alert
	have  *storage.Summary // made by an earlier job, not committed yet
}

type summaryDone struct {
	sum   *storage.Summary // nil: stored already, or none could be made
	usage storage.Usage
	err   error
}

func (q *summaryQueue) refill() error {
	alerts, err := q.s.Store.PendingAlerts(q.last, 0)
	if err != nil {
		return err
	}
	for _, a := range alerts {
		q.fifo = append(q.fifo, a)
		q.last = a.ID
	}
	return nil
}

func (q *summaryQueue) next(now time.Time) (summaryJob, bool, time.Duration) {
	if len(q.fifo) == 0 && len(q.later) > 0 {
		if now.Before(q.laterAt) {
			return summaryJob{}, false, q.laterAt.Sub(now)
		}
		q.fifo, q.later = q.later, nil
	}
	for len(q.fifo) > 0 {
		a := q.fifo[0]
		q.fifo = q.fifo[1:]
		if waiting, ok := q.busy[a.StoryID]; ok {
			q.busy[a.StoryID] = append(waiting, a)
			continue
		}
		q.busy[a.StoryID] = nil
		return summaryJob{alert: a, have: q.made[a.StoryID]}, true, 0
	}
	return summaryJob{}, false, 0
}

func (q *summaryQueue) work(ctx context.Context, j summaryJob) summaryDone {
	if j.have != nil {
		return summaryDone{}
	}
	d, err := q.s.summarize(ctx, j.alert)
	if err != nil {
		return summaryDone{err: err}
	}
	return d
}

// summarize writes the story's summary unless one is stored; it stores
// nothing itself.
func (s *Summaries) summarize(ctx context.Context, al storage.Alert) (summaryDone, error) {
	if _, err := s.Store.Summary(al.StoryID, s.Lang); err == nil {
		return summaryDone{}, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return summaryDone{}, err
	}
	a, err := s.Store.Article(al.ArticleID)
	if err != nil {
		return summaryDone{}, err
	}
	in := summary.Article{Title: a.Title, Source: a.Source, URL: a.URL, Lang: a.Lang,
		Text: a.BestText(), Published: a.Published, Topics: al.Topics}
	var out summary.Summary
	if deadline := al.Created.Add(s.Deadline); s.Deadline > 0 && !s.now().Before(deadline) {
		out = summary.Extractive(in, 0)
	} else {
		sctx := ctx
		if s.Deadline > 0 {
			var cancel context.CancelFunc
			sctx, cancel = context.WithDeadline(ctx, deadline)
			defer cancel()
		}
		out = s.Summarizer.Summarize(sctx, in)
	}
	if err := ctx.Err(); err != nil {
		// Shutting down: don't store a fallback the deadline did not call for.
		return summaryDone{}, err
	}
	d := summaryDone{
		sum: &storage.Summary{StoryID: al.StoryID, Lang: s.Lang, Text: out.Text, KeyPoints: out.KeyPoints,
			Extractive: out.Extractive, Model: out.Model, Created: s.now()},
		usage: storage.Usage{PromptTokens: out.PromptTokens, CompletionTokens: out.CompletionTokens},
	}
	if out.Extractive {
		d.usage.Fallbacks = 1
	} else {
		d.usage.Calls = 1
	}
	return d, nil
}

func (q *summaryQueue) done(j summaryJob, d summaryDone, aborted bool) bool {
	// The story's other alerts go first now, and reuse what this one made.
	q.fifo = append(q.busy[j.alert.StoryID], q.fifo...)
	delete(q.busy, j.alert.StoryID)
	if aborted {
		q.fifo = append([]storage.Alert{j.alert}, q.fifo...)
		return false
	}
	if d.err != nil && !errors.Is(d.err, storage.ErrNotFound) {
		// A store error: try again later rather than alert without a summary.
		q.s.log().Error("summarize stage", "story_id", j.alert.StoryID, "err", d.err)
		q.later = append(q.later, j.alert)
		q.laterAt = time.Now().Add(retryStoreErr)
		return false
	}
	if d.sum != nil && q.made[j.alert.StoryID] == nil {
		q.made[j.alert.StoryID] = d.sum
		q.usage = addUsage(q.usage, d.usage)
	}
	q.batch = append(q.batch, storage.Summarized{Alert: j.alert, Summary: q.made[j.alert.StoryID]})
	return len(q.batch) >= summaryBatch
}

func addUsage(a, b storage.Usage) storage.Usage {
	a.Calls += b.Calls
	a.Fallbacks += b.Fallbacks
	a.PromptTokens += b.PromptTokens
	a.CompletionTokens += b.CompletionTokens
	return a
}

func (q *summaryQueue) flush(bool) error {
	if len(q.batch) == 0 {
		return nil
	}
	if err := q.s.Store.SaveSummaries(q.batch, q.s.now(), q.usage); err != nil {
		return err
	}
	q.batch, q.usage = q.batch[:0], storage.Usage{}
	clear(q.made)
	q.s.Next.Notify()
	return nil
}
