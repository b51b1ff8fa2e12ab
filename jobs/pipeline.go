package jobs

import (
	"context"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"dozor/internal/pacer"
	"dozor/storage"
)

// Config is what the stages need; dozor's command line fills it from the
// environment.
type Config struct {
	Store      *storage.Store
	Fetcher    Fetcher
	Summarizer Summarizer
	// Telegram sends alerts; nil runs every stage but delivery.
	Telegram Telegram
	// Pacer is the one pacer of everything the bot sends (nil: delivery
	// makes its own).
	Pacer *pacer.Pacer
	// Index is the search index the index stage keeps; nil runs none.
	Index SearchIndex
	// Observer is told what every stage does (nil: nothing).
	Observer Observer

	Backlog       time.Duration // ALERT_BACKLOG
	FullText      bool          // FETCH_FULL_TEXT
	FetchWorkers  int           // FETCH_CONCURRENCY
	SummaryLang   string        // SUMMARY_LANGUAGE
	Deadline      time.Duration // SUMMARY_DEADLINE
	SummaryWorker int           // LLM_CONCURRENCY; two more summaries may be in progress, for stories summarised already or by the extractive fallback
	Log           *slog.Logger
}

// Pipeline is dozor's stages wired together: each one wakes the next when
// it queued work for it.
type Pipeline struct {
	Watcher   *Watcher
	Pager     *Pager
	Folder    *Folder
	Summaries *Summaries
	Fanout    *Fanout
	Deliverer *Deliverer // nil without Telegram
	Digests   *Digests   // nil without Telegram
	Indexer   *Indexer   // nil without a search index
}

// New wires the stages.
func New(c Config) *Pipeline {
	pages, folds, sums, fans, sends, index := NewSignal(), NewSignal(), NewSignal(), NewSignal(), NewSignal(), NewSignal()
	p := &Pipeline{
		Watcher: &Watcher{Store: c.Store, Fetcher: c.Fetcher, Backlog: c.Backlog, FullText: c.FullText,
			// Feeds are fetched by twice the fetch slots: parsing overlaps
			// the next source's request.
			Workers: 2 * max(1, c.FetchWorkers), Log: c.Log, Observe: c.Observer,
			Queued: func() { pages.Notify(); folds.Notify(); index.Notify() }},
		Pager:     &Pager{Store: c.Store, Fetcher: c.Fetcher, Workers: max(1, c.FetchWorkers), Wake: pages, Next: folds, Log: c.Log, Observe: c.Observer},
		Folder:    &Folder{Store: c.Store, Wake: folds, Next: sums, Log: c.Log, Observe: c.Observer},
		Summaries: &Summaries{Store: c.Store, Summarizer: c.Summarizer, Lang: c.SummaryLang, Deadline: c.Deadline, Workers: max(1, c.SummaryWorker) + 2, Wake: sums, Next: fans, Log: c.Log, Observe: c.Observer},
		Fanout:    &Fanout{Store: c.Store, Wake: fans, Next: sends, Log: c.Log, Observe: c.Observer},
	}
	if c.Index != nil {
		p.Indexer = &Indexer{Store: c.Store, Index: c.Index, Wake: index, Log: c.Log, Observe: c.Observer}
	}
	if c.Telegram != nil {
		p.Deliverer = &Deliverer{Store: c.Store, API: c.Telegram, Pacer: c.Pacer, Wake: sends, SummaryLang: c.SummaryLang, Log: c.Log, Observe: c.Observer}
		p.Digests = &Digests{Store: c.Store, Next: sends, Log: c.Log, Observe: c.Observer}
	}
	return p
}

// Run runs every stage after the watch pass until ctx ends; the watch pass
// itself runs on its schedule (Schedule). It returns when every stage has
// stopped, their work in flight finished or left queued.
func (p *Pipeline) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.Pager.Run(ctx) })
	g.Go(func() error { return p.Folder.Run(ctx) })
	g.Go(func() error { return p.Summaries.Run(ctx) })
	g.Go(func() error { return p.Fanout.Run(ctx) })
	if p.Deliverer != nil {
		g.Go(func() error { return p.Deliverer.Run(ctx) })
	}
	if p.Digests != nil {
		g.Go(func() error { return p.Digests.Run(ctx) })
	}
	if p.Indexer != nil {
		g.Go(func() error { return p.Indexer.Run(ctx) })
	}
	return g.Wait()
}
