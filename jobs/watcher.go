// Package jobs holds dozor's background work: the watcher pass that turns
// feeds into stored, matched articles, and the scheduler that runs it.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"dozor/internal/analysis"
	"dozor/internal/canon"
	"dozor/internal/dedup"
	"dozor/internal/feed"
	"dozor/internal/fetch"
	"dozor/internal/query"
	"dozor/storage"
)

// Fetcher gets a URL politely; dozor/fetch implements it.
type Fetcher interface {
	Get(ctx context.Context, req fetch.Request) (*fetch.Response, error)
}

// Backoff after consecutive failures: 1m, 2m, 4m … capped at an hour, and a
// failing source is retried at the cap for ever.
const (
	backoffBase = time.Minute
	backoffMax  = time.Hour
	holdMax     = 24 * time.Hour // longest Retry-After we honour
)

// Backoff returns the wait after n consecutive failures.
func Backoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := backoffBase
	for i := 1; i < n && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}

// Watcher runs watcher passes.
type Watcher struct {
	Store   *storage.Store
	Fetcher Fetcher
	// Backlog: items already in a feed at its first fetch alert only when
	// published within it, so adding a source never floods subscribers.
	Backlog time.Duration
	Workers int
	Now     func() time.Time
	Log     *slog.Logger
}

// Match is a new article that matched at least one topic. Its Article
// carries no text: a pass may report tens of thousands of matches, and the
// text is in the store.
type Match struct {
	Article  storage.Article
	Topics   []string
	NewStory bool
	// Alert is nil for backlog items and for reprints of a story that
	// already alerted on these topics.
	Alert *storage.Alert
}

// Failure is a source that could not be fetched or parsed.
type Failure struct {
	Source storage.Source
	Err    error
}

// Report sums up one pass.
type Report struct {
	Sources     int // sources fetched this pass
	Skipped     int // not due (backing off or held by Retry-After)
	NotModified int
	NewArticles int
	NewStories  int
	Matches     []Match
	Failures    []Failure
	Elapsed     time.Duration
}

// PassOptions tune one pass.
type PassOptions struct {
	// Force fetches sources that are backing off after failures (an admin
	// asked for a pass now); a server's Retry-After is still honoured.
	Force bool
}

type topic struct {
	name string
	q    *query.Query
}

// Pass fetches every due source once, stores new articles, folds reprints
// into stories and queues alerts for stories that are news on a topic.
func (w *Watcher) Pass(ctx context.Context, opt PassOptions) (*Report, error) {
	start := w.now()
	topics, err := loadTopics(w.Store, w.Log)
	if err != nil {
		return nil, err
	}
	sources, err := w.Store.Sources()
	if err != nil {
		return nil, err
	}
	w.Store.PruneStoryIndex(start)

	rep := &Report{}
	var due []storage.Source
	for _, src := range sources {
		if start.Before(src.HoldUntil) || (!opt.Force && start.Before(src.NextDue)) {
			rep.Skipped++
			continue
		}
		due = append(due, src)
	}
	rep.Sources = len(due)

	jobs := make(chan storage.Source)
	results := make(chan outcome)
	var wg sync.WaitGroup
	for range max(1, min(w.Workers, len(due))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for src := range jobs {
				results <- w.fetchSource(ctx, src, topics)
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, src := range due {
			select {
			case jobs <- src:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	werr := w.write(results, rep)
	rep.Elapsed = w.now().Sub(start)
	if werr != nil {
		return rep, werr
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("watcher: pass interrupted: %w", err)
	}
	return rep, nil
}

// outcome is one source's fetch, ready to be written.
type outcome struct {
	src    storage.Source
	result storage.FetchResult
	err    error // the fetch or parse failure, already folded into result
	notMod bool
}

// write saves outcomes in batches: a bbolt commit costs an fsync, so one
// commit per source would cap a pass at a few hundred sources a second.
// Draining results also keeps the workers from blocking.
func (w *Watcher) write(results <-chan outcome, rep *Report) error {
	const maxBatch, maxArticles = 200, 2000
	var (
		batch    []outcome
		articles int
		firstErr error
	)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		frs := make([]storage.FetchResult, len(batch))
		for i, o := range batch {
			frs[i] = o.result
		}
		saved, err := w.Store.SaveFetches(frs, w.now())
		if err != nil {
			w.Log.Error("save fetch results", "err", err, "sources", len(batch))
			if firstErr == nil {
				firstErr = err
			}
		} else {
			for i, o := range batch {
				w.account(rep, o, saved[i])
			}
		}
		batch, articles = batch[:0], 0
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case o, ok := <-results:
			if !ok {
				flush()
				return firstErr
			}
			batch = append(batch, o)
			articles += len(o.result.Articles)
			if len(batch) >= maxBatch || articles >= maxArticles {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

func (w *Watcher) account(rep *Report, o outcome, saved []storage.Saved) {
	if o.err != nil {
		rep.Failures = append(rep.Failures, Failure{Source: o.src, Err: o.err})
		w.Log.Warn("source failed", "source", o.src.URL, "failures", o.src.Failures+1, "err", o.err)
		return
	}
	if o.notMod {
		rep.NotModified++
	}
	for _, s := range saved {
		rep.NewArticles++
		if s.NewStory {
			rep.NewStories++
		}
		if len(s.Article.Topics) > 0 {
			a := s.Article
			a.Text, a.FullText = "", ""
			rep.Matches = append(rep.Matches, Match{Article: a, Topics: a.Topics, NewStory: s.NewStory, Alert: s.Alert})
		}
	}
	w.Log.Debug("source fetched", "source", o.src.URL, "new", len(saved), "not_modified", o.notMod)
}

// fetchSource fetches and parses one source. It never fails: a failure is
// recorded on the source and reported.
func (w *Watcher) fetchSource(ctx context.Context, src storage.Source, topics []topic) outcome {
	o := outcome{src: src, result: storage.FetchResult{SourceID: src.ID}}
	resp, err := w.Fetcher.Get(ctx, fetch.Request{
		URL: src.URL, ETag: src.ETag, LastModified: src.LastModified,
		Accept: "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
	})
	now := w.now()
	if err == nil && resp.NotModified {
		o.notMod = true
		o.result.Update = succeeded(now, resp, "")
		return o
	}
	var parsed *feed.Feed
	if err == nil {
		parsed, err = parseFeed(resp)
	}
	if err != nil {
		o.err = err
		o.result.Update = failed(now, err)
		return o
	}
	o.result.Update = succeeded(now, resp, parsed.Title)
	o.result.Articles = w.newArticles(src, parsed, topics, now)
	return o
}

func parseFeed(resp *fetch.Response) (*feed.Feed, error) {
	body, _, err := fetch.DecodeFeed(resp.Body, resp.ContentType)
	if err != nil {
		return nil, err
	}
	return feed.Parse(body, resp.URL)
}

func succeeded(now time.Time, resp *fetch.Response, title string) func(*storage.Source) {
	return func(s *storage.Source) {
		s.LastAttempt, s.LastSuccess = now, now
		s.LastError, s.Failures = "", 0
		s.NextDue, s.HoldUntil = time.Time{}, time.Time{}
		if !resp.NotModified || resp.ETag != "" {
			s.ETag = resp.ETag
		}
		if !resp.NotModified || resp.LastModified != "" {
			s.LastModified = resp.LastModified
		}
		if title != "" {
			s.Title = title
		}
	}
}

func failed(now time.Time, err error) func(*storage.Source) {
	return func(s *storage.Source) {
		s.LastAttempt, s.ErrorAt = now, now
		s.LastError = err.Error()
		s.Failures++
		s.NextDue = now.Add(Backoff(s.Failures))
		var fe *fetch.Error
		if errors.As(err, &fe) && fe.RetryAfter > 0 {
			s.HoldUntil = now.Add(min(fe.RetryAfter, holdMax))
			s.NextDue = later(s.NextDue, s.HoldUntil)
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// newArticles turns the feed items not stored yet into articles, analysed
// once and matched against every topic.
func (w *Watcher) newArticles(src storage.Source, f *feed.Feed, topics []topic, now time.Time) []storage.NewArticle {
	keys := make([]string, len(f.Items))
	for i, it := range f.Items {
		keys[i] = canon.KeyFor(it.URL, it.GUID, it.Title)
	}
	known, err := w.Store.KnownKeys(keys)
	if err != nil {
		w.Log.Error("look up known articles", "source", src.URL, "err", err)
		known = map[string]bool{}
	}
	name := src.Name
	if name == "" {
		name = f.Title
	}
	if name == "" {
		name = src.URL
	}
	var out []storage.NewArticle
	seen := make(map[string]bool)
	for i, it := range f.Items {
		key := keys[i]
		if key == "" || known[key] || seen[key] {
			continue
		}
		seen[key] = true
		link := it.URL
		if c, err := canon.URL(it.URL); err == nil {
			link = c
		}
		site := link // Analyze reduces it to the host
		if analysis.SiteOf(link) == "" {
			site = src.URL
		}
		doc := analysis.Analyze(it.Title, it.Text, site)
		a := storage.Article{
			Key: key, URL: link, GUID: it.GUID, Title: it.Title, Text: it.Text,
			SourceID: src.ID, Source: name, Published: it.Published, Fetched: now, Lang: doc.Lang,
		}
		a.Topics = matchTopics(doc, topics)
		sig, ok := dedup.Sign(doc.Stems())
		alertable := !src.NeverFetched() ||
			(!it.Published.IsZero() && now.Sub(it.Published) <= w.Backlog)
		out = append(out, storage.NewArticle{Article: a, Sig: sig, HasSig: ok, Alertable: alertable})
	}
	return out
}

// loadTopics compiles the stored topics once per pass.
func loadTopics(st *storage.Store, log *slog.Logger) ([]topic, error) {
	stored, err := st.Topics()
	if err != nil {
		return nil, err
	}
	out := make([]topic, 0, len(stored))
	for _, t := range stored {
		q, err := query.Parse(t.Query)
		if err != nil {
			// Queries are validated when saved; a stored bad one is skipped, not fatal.
			log.Error("stored topic has a bad query", "topic", t.Name, "err", err)
			continue
		}
		out = append(out, topic{name: t.Name, q: q})
	}
	return out, nil
}

func (w *Watcher) now() time.Time { return nowOr(w.Now) }

func nowOr(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

// matchTopics returns the names of the topics a document matches.
func matchTopics(doc *analysis.Doc, topics []topic) []string {
	var names []string
	for _, t := range topics {
		if t.q.Match(doc) {
			names = append(names, t.name)
		}
	}
	return names
}
