package jobs

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"dozor/internal/embed"
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
	// Embedder makes embeddings (EMBEDDINGS_MODEL); nil folds by words
	// alone. Entities finds the named entities the fold rule compares;
	// EmbedWait bounds how long folding waits for a vector
	// (EMBEDDINGS_DEADLINE), and FoldThreshold is FOLD_THRESHOLD.
	Embedder      Embedder
	Entities      *embed.Entities
	EmbedWait     time.Duration
	FoldThreshold float32

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
	Editor    *Editor    // nil without Telegram
	Embeds    *Embeds    // nil without an Embedder
	Indexer   *Indexer   // nil without a search index
}

// New wires the stages.
func New(c Config) *Pipeline {
	pages, folds, sums, fans, sends, index := NewSignal(), NewSignal(), NewSignal(), NewSignal(), NewSignal(), NewSignal()
	var embeds Signal // nil: notifying it does nothing
	if c.Embedder != nil {
		embeds = NewSignal()
	}
	c.Store.EmbedBeforeFold(c.Embedder != nil)
	p := &Pipeline{
		Watcher: &Watcher{Store: c.Store, Fetcher: c.Fetcher, Backlog: c.Backlog, FullText: c.FullText,
			// Feeds are fetched by twice the fetch slots: parsing overlaps
			// the next source's request.
			Workers: 2 * max(1, c.FetchWorkers), Log: c.Log, Observe: c.Observer,
			Queued: func() { pages.Notify(); folds.Notify(); index.Notify(); embeds.Notify() }},
		Pager:     &Pager{Store: c.Store, Fetcher: c.Fetcher, Workers: max(1, c.FetchWorkers), Wake: pages, Next: folds, Embed: embeds, Log: c.Log, Observe: c.Observer},
		Folder:    &Folder{Store: c.Store, Wake: folds, Next: sums, Log: c.Log, Observe: c.Observer},
		Summaries: &Summaries{Store: c.Store, Summarizer: c.Summarizer, Lang: c.SummaryLang, Deadline: c.Deadline, Workers: max(1, c.SummaryWorker) + 2, Wake: sums, Next: fans, Log: c.Log, Observe: c.Observer},
		Fanout:    &Fanout{Store: c.Store, Wake: fans, Next: sends, Log: c.Log, Observe: c.Observer},
	}
	if c.Embedder != nil {
		p.Embeds = &Embeds{Store: c.Store, Embedder: c.Embedder, Entities: c.Entities, Wake: embeds, Next: folds, Log: c.Log, Observe: c.Observer}
		p.Folder.Vectors, p.Folder.Model, p.Folder.Embed = true, c.Embedder.Model(), embeds
		p.Folder.Threshold = cmp.Or(c.FoldThreshold, embed.DefaultThreshold(c.Embedder.Model()))
		p.Folder.EmbedWait = cmp.Or(c.EmbedWait, 10*time.Second)
	}
	if c.Index != nil {
		p.Indexer = &Indexer{Store: c.Store, Index: c.Index, Wake: index, Log: c.Log, Observe: c.Observer}
	}
	if c.Telegram != nil {
		p.Deliverer = &Deliverer{Store: c.Store, API: c.Telegram, Pacer: c.Pacer, Wake: sends, SummaryLang: c.SummaryLang, Log: c.Log, Observe: c.Observer}
		p.Digests = &Digests{Store: c.Store, Next: sends, Log: c.Log, Observe: c.Observer}
		p.Editor = &Editor{Store: c.Store, API: c.Telegram, Pacer: c.Pacer, SummaryLang: c.SummaryLang, Log: c.Log, Observe: c.Observer}
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
	if p.Editor != nil && p.Editor.Pacer != nil {
		g.Go(func() error { return p.Editor.Run(ctx) })
	}
	if p.Embeds != nil {
		g.Go(func() error { return p.Embeds.Run(ctx) })
	}
	if p.Indexer != nil {
		g.Go(func() error { return p.Indexer.Run(ctx) })
	}
	return g.Wait()
}
