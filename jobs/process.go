package jobs

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"dozor/internal/analysis"
	"dozor/internal/extract"
	"dozor/internal/fetch"
	"dozor/internal/summary"
	"dozor/storage"
)

// Summarizer writes a story's summary and never fails: on a dead or slow
// endpoint it falls back to an extractive summary. dozor/summary
// implements it.
type Summarizer interface {
	Summarize(ctx context.Context, a summary.Article) summary.Summary
}

// Processor takes what a watcher pass queued further: it fetches the full
// text of new articles (and matches topics against it), writes one summary
// per story and language, and fans each alert out to the subscribers'
// outbox.
type Processor struct {
	Store      *storage.Store
	Fetcher    Fetcher
	Summarizer Summarizer
	// Lang is SUMMARY_LANGUAGE.
	Lang string
	// Deadline counts from the alert's creation: past it the extractive
	// summary is used at once, so an alert never waits long on a dead
	// endpoint, even after a restart.
	Deadline time.Duration
	// FullText fetches article pages; off, the feed's text is all we use.
	FullText bool
	// Workers bounds page fetches and summaries in flight.
	Workers int
	Now     func() time.Time
	Log     *slog.Logger

	// One summary in flight per story: two alerts on one story (a reprint
	// that matched another topic) must not make two model calls.
	flight singleflight.Group
}

var errNotStarted = errors.New("jobs: shutting down; alert left queued")

// Processed is a story that got its summary in this run.
type Processed struct {
	Alert   storage.Alert
	Article storage.Article
	Summary storage.Summary
	Queued  int // outbox messages queued for subscribers
}

// Run works through everything queued and returns what it summarised.
// Alerts go first, each fetching its own article's page, so a long queue
// of pages to fetch never pushes an alert past its deadline; then the other
// new articles get their full text, and any alerts that produced are
// processed too.
func (p *Processor) Run(ctx context.Context) ([]Processed, error) {
	topics, err := loadTopics(p.Store, p.Log)
	if err != nil {
		return nil, err
	}
	done, err1 := p.processAlerts(ctx, topics)
	err2 := p.enrichAll(ctx, topics)
	more, err3 := p.processAlerts(ctx, topics)
	return append(done, more...), errors.Join(err1, err2, err3)
}

func (p *Processor) processAlerts(ctx context.Context, topics []topic) ([]Processed, error) {
	alerts, err := p.Store.PendingAlerts(0)
	if err != nil {
		return nil, err
	}
	out := make([]Processed, len(alerts))
	errs := make([]error, len(alerts))
	for i := range errs {
		// parallel starts nothing once ctx ends: those alerts stay queued.
		errs[i] = errNotStarted
	}
	p.parallel(ctx, len(alerts), func(i int) {
		errs[i] = nil
		if p.Store.NeedsEnrich(alerts[i].ArticleID) {
			if err := p.enrich(ctx, alerts[i].ArticleID, topics); err != nil {
				errs[i] = err
				return
			}
		}
		out[i], errs[i] = p.process(ctx, alerts[i])
	})
	var done []Processed
	for i := range out {
		if errs[i] == nil {
			done = append(done, out[i])
		}
	}
	return done, errors.Join(errs...)
}

func (p *Processor) process(ctx context.Context, al storage.Alert) (Processed, error) {
	a, err := p.Store.Article(al.ArticleID)
	if err != nil {
		return Processed{}, err
	}
	sum, err := p.summary(ctx, al, a)
	if err != nil {
		return Processed{}, err
	}
	n, err := p.Store.FanOut(al.ID, p.now())
	if err != nil {
		return Processed{}, err
	}
	return Processed{Alert: al, Article: a, Summary: sum, Queued: n}, nil
}

// summary returns the story's stored summary, or writes it: one model call
// per story and language, ever.
func (p *Processor) summary(ctx context.Context, al storage.Alert, a storage.Article) (storage.Summary, error) {
	v, err, _ := p.flight.Do(strconv.FormatUint(al.StoryID, 10), func() (any, error) {
		return p.summarize(ctx, al, a)
	})
	if err != nil {
		return storage.Summary{}, err
	}
	return v.(storage.Summary), nil
}

func (p *Processor) summarize(ctx context.Context, al storage.Alert, a storage.Article) (storage.Summary, error) {
	if s, err := p.Store.Summary(al.StoryID, p.Lang); err == nil {
		return s, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return storage.Summary{}, err
	}
	in := summary.Article{Title: a.Title, Source: a.Source, URL: a.URL, Lang: a.Lang,
		Text: a.BestText(), Published: a.Published, Topics: al.Topics}
	var s summary.Summary
	if deadline := al.Created.Add(p.Deadline); p.Deadline > 0 && !p.now().Before(deadline) {
		s = summary.Extractive(in, 0)
	} else {
		sctx := ctx
		if p.Deadline > 0 {
			var cancel context.CancelFunc
			sctx, cancel = context.WithDeadline(ctx, deadline)
			defer cancel()
		}
		s = p.Summarizer.Summarize(sctx, in)
	}
	if ctx.Err() != nil {
		// Shutting down: don't store a fallback the deadline did not call for.
		return storage.Summary{}, ctx.Err()
	}
	u := storage.Usage{PromptTokens: s.PromptTokens, CompletionTokens: s.CompletionTokens}
	if s.Extractive {
		u.Fallbacks = 1
	} else {
		u.Calls = 1
	}
	if err := p.Store.AddUsage(p.now(), u); err != nil {
		p.Log.Error("count model usage", "err", err)
	}
	return p.Store.PutSummary(storage.Summary{
		StoryID: al.StoryID, Lang: p.Lang, Text: s.Text, KeyPoints: s.KeyPoints,
		Extractive: s.Extractive, Model: s.Model, Created: p.now(),
	})
}

// enrichAll fetches the page of every article queued for its full text.
func (p *Processor) enrichAll(ctx context.Context, topics []topic) error {
	ids, err := p.Store.PendingEnrich(0)
	if err != nil || len(ids) == 0 {
		return err
	}
	var mu sync.Mutex
	var errs []error
	p.parallel(ctx, len(ids), func(i int) {
		if err := p.enrich(ctx, ids[i], topics); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	})
	return errors.Join(errs...)
}

func (p *Processor) enrich(ctx context.Context, id uint64, topics []topic) error {
	a, err := p.Store.Article(id)
	if err != nil {
		return err
	}
	full := ""
	if p.FullText && a.URL != "" {
		text, err := p.fullText(ctx, a)
		if ctx.Err() != nil {
			return ctx.Err() // keep it queued for the next run
		}
		if err != nil {
			p.Log.Info("full text unavailable; using the feed's text", "url", a.URL, "err", err)
		}
		if best := extract.Best(text, a.Text); best != a.Text {
			full = best
		}
	}
	var matched []string
	if full != "" {
		matched = matchTopics(analysis.Analyze(a.Title, full, a.URL), topics)
	}
	_, err = p.Store.SaveEnriched(storage.Enriched{ArticleID: id, FullText: full, Topics: matched}, p.now())
	return err
}

func (p *Processor) fullText(ctx context.Context, a storage.Article) (string, error) {
	resp, err := p.Fetcher.Get(ctx, fetch.Request{URL: a.URL, Accept: "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"})
	if err != nil {
		return "", err
	}
	page, _ := fetch.DecodeHTML(resp.Body, resp.ContentType)
	res, err := extract.Text(page, resp.URL)
	if err != nil {
		return "", err
	}
	return res.Text, nil
}

// parallel runs fn(0..n-1) on at most Workers goroutines and waits.
func (p *Processor) parallel(ctx context.Context, n int, fn func(i int)) {
	sem := make(chan struct{}, max(1, p.Workers))
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

func (p *Processor) now() time.Time { return nowOr(p.Now) }

// Loop runs the processor whenever wake fires (after a watcher pass) and
// at least every interval, until ctx ends; after is called with what each
// run summarised.
func (p *Processor) Loop(ctx context.Context, wake <-chan struct{}, interval time.Duration, after func([]Processed)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		done, err := p.Run(ctx)
		if err != nil && ctx.Err() == nil {
			p.Log.Error("processing queued alerts", "err", err)
		}
		if after != nil {
			after(done)
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
		}
	}
}
