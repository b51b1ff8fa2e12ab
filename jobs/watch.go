package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"dozor/internal/analysis"
	"dozor/internal/backoff"
	"dozor/internal/canon"
	"dozor/internal/dedup"
	"dozor/internal/feed"
	"dozor/internal/fetch"
	"dozor/internal/query"
	"dozor/storage"
)

// Fetcher gets a URL politely; dozor/internal/fetch implements it.
type Fetcher interface {
	Get(ctx context.Context, req fetch.Request) (*fetch.Response, error)
}

// sourceBackoff spaces the retries of a failing source: 1m, 2m, 4m …
// capped at an hour, and a failing source is retried at the cap for ever.
var sourceBackoff = backoff.Policy{Base: time.Minute, Max: time.Hour}

// holdMax is the longest Retry-After a source is held for.
const holdMax = 24 * time.Hour

// TeaserChars is the median item text, in characters, under which a feed
// counts as carrying only teasers, so that pages are worth fetching.
const TeaserChars = 1000

const feedAccept = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"

// Watcher is the watch stage: it fetches every due source, keeps the items
// not stored yet, matches them against the topics on the feed's text and
// queues each one for its page or straight for the fold stage.
type Watcher struct {
	Store   *storage.Store
	Fetcher Fetcher
	// Backlog: items already in a feed at its first fetch alert only when
	// published within it, so adding a source never floods subscribers.
	Backlog time.Duration
	// FullText is FETCH_FULL_TEXT: false never fetches article pages.
	FullText bool
	Workers  int
	// Queued is called after each batch is committed, to wake the page
	// and fold stages.
	Queued func()
	Now    func() time.Time
	Log    *slog.Logger
	// Observe is told about fetches, matches and passes.
	Observe Observer

	topics *topicCache
}

// Match is a new article that matched at least one topic on its feed
// text. Its Article carries no text: a pass may report tens of thousands
// of matches, and the text is in the store.
type Match struct {
	Article storage.Article
	Topics  []string
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
	Pages       int // new articles queued for their page
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

// Pass fetches every due source once and stores what is new.
func (w *Watcher) Pass(ctx context.Context, opt PassOptions) (*Report, error) {
	start := w.now()
	if w.topics == nil {
		w.topics = &topicCache{store: w.Store, log: w.log()}
	}
	topics, err := w.topics.get()
	if err != nil {
		return nil, err
	}
	sources, err := w.Store.Sources()
	if err != nil {
		return nil, err
	}
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

	// The writer drains outcomes while a bounded group fetches; Go blocks
	// at the limit, so sources are handed out as fetchers free up.
	results := make(chan outcome)
	var writer errgroup.Group
	writer.Go(func() error { return w.write(results, rep) })
	var fetches errgroup.Group
	fetches.SetLimit(max(1, min(w.Workers, len(due))))
	for _, src := range due {
		if ctx.Err() != nil {
			break
		}
		fetches.Go(func() error {
			results <- w.fetchSource(ctx, src, topics)
			return nil
		})
	}
	_ = fetches.Wait() // fetches never fail: failures are outcomes
	close(results)
	werr := writer.Wait()
	rep.Elapsed = w.now().Sub(start)
	if werr != nil {
		return rep, werr
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("watcher: pass interrupted: %w", err)
	}
	observerOr(w.Observe).PassDone(rep.Elapsed, w.now())
	return rep, nil
}

// outcome is one source's fetch, ready to be written.
type outcome struct {
	src     storage.Source
	result  storage.FetchResult
	err     error // the fetch or parse failure, already folded into result
	notMod  bool
	aborted bool // the pass was cancelled: nothing to record
}

// write saves outcomes in batches: a bbolt commit costs an fsync, so one
// commit per source would cap a pass at a few hundred sources a second.
// Draining results also keeps the fetchers from blocking.
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
		saved, err := w.Store.SaveFetches(frs)
		if err != nil {
			w.log().Error("save fetch results", "err", err, "sources", len(batch))
			firstErr = cmpOr(firstErr, err)
		} else {
			for i, o := range batch {
				w.account(rep, o, saved[i])
			}
			if w.Queued != nil {
				w.Queued()
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
			if o.aborted {
				continue
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

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (w *Watcher) account(rep *Report, o outcome, saved []storage.Article) {
	obs := observerOr(w.Observe)
	if o.err != nil {
		obs.Fetched("error")
		rep.Failures = append(rep.Failures, Failure{Source: o.src, Err: o.err})
		w.log().Warn("source failed", "source", o.src.URL, "failures", o.src.Failures+1, "err", o.err)
		return
	}
	if o.notMod {
		rep.NotModified++
		obs.Fetched("not_modified")
	} else {
		obs.Fetched("ok")
	}
	lanes := make(map[string]storage.PageLane, len(o.result.Articles))
	for _, na := range o.result.Articles {
		lanes[na.Key] = na.Page
	}
	for _, a := range saved {
		rep.NewArticles++
		if lanes[a.Key] != storage.PageNone {
			rep.Pages++
		}
		if len(a.Topics) > 0 {
			a.Text, a.FullText = "", ""
			rep.Matches = append(rep.Matches, Match{Article: a, Topics: a.Topics})
			obs.Matched(1)
		}
	}
	w.log().Debug("source fetched", "source", o.src.URL, "new", len(saved), "not_modified", o.notMod)
}

// fetchSource fetches and parses one source. A failure is recorded on the
// source and reported; a cancelled pass records nothing, since the source
// did not fail.
func (w *Watcher) fetchSource(ctx context.Context, src storage.Source, topics *query.Set) outcome {
	o := outcome{src: src, result: storage.FetchResult{SourceID: src.ID}}
	resp, err := w.Fetcher.Get(ctx, fetch.Request{URL: src.URL, ETag: src.ETag, LastModified: src.LastModified, Accept: feedAccept})
	if ctx.Err() != nil {
		o.aborted = true
		return o
	}
	now := w.now()
	if err == nil && resp.NotModified {
		o.notMod = true
		o.result.Update = succeeded(now, resp, nil)
		return o
	}
	var parsed *feed.Feed
	if err == nil {
		parsed, err = feed.Decode(resp.Body, resp.ContentType, resp.URL)
	}
	if err != nil {
		o.err = err
		o.result.Update = failed(now, err)
		return o
	}
	if parsed.Broken != "" {
		w.log().Warn("malformed feed recovered", "source", src.URL, "problem", parsed.Broken)
	}
	o.result.Update = succeeded(now, resp, parsed)
	o.result.Articles = w.newArticles(src, parsed, topics, now)
	return o
}

func succeeded(now time.Time, resp *fetch.Response, f *feed.Feed) func(*storage.Source) {
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
		if f == nil {
			return // 304: what we knew of the feed still holds
		}
		if f.Title != "" {
			s.Title = f.Title
		}
		s.Broken = f.Broken
		if len(f.Items) > 0 {
			s.MedianText = medianText(f.Items)
		}
	}
}

func failed(now time.Time, err error) func(*storage.Source) {
	return func(s *storage.Source) {
		s.LastAttempt, s.ErrorAt = now, now
		s.LastError = err.Error()
		s.Failures++
		s.NextDue = now.Add(sourceBackoff.Delay(s.Failures))
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

// medianText is the median length, in characters, of the items' text: what
// tells a feed of full articles from a feed of teasers.
func medianText(items []feed.Item) int {
	n := make([]int, len(items))
	for i, it := range items {
		n[i] = utf8.RuneCountInString(it.Text)
	}
	slices.Sort(n)
	return n[len(n)/2]
}

// newArticles turns the feed items not stored yet into articles, analysed
// once and matched against every topic, each with the lane its page goes
// to.
func (w *Watcher) newArticles(src storage.Source, f *feed.Feed, topics *query.Set, now time.Time) []storage.NewArticle {
	keys := make([]string, len(f.Items))
	for i, it := range f.Items {
		keys[i] = canon.KeyFor(it.URL, it.GUID, it.Title)
	}
	known, err := w.Store.KnownKeys(keys)
	if err != nil {
		w.log().Error("look up known articles", "source", src.URL, "err", err)
		known = map[string]bool{}
	}
	name := src.Name
	if name == "" {
		name = f.Title
	}
	if name == "" {
		name = src.URL
	}
	teasers := len(f.Items) > 0 && medianText(f.Items) < TeaserChars
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
		na := storage.NewArticle{Article: storage.Article{
			Key: key, URL: link, GUID: it.GUID, Title: it.Title, Text: it.Text,
			SourceID: src.ID, Source: name, Published: it.Published, Fetched: now, Lang: doc.Lang,
			Topics: topics.Match(doc),
			Backlog: src.NeverFetched() &&
				(it.Published.IsZero() || now.Sub(it.Published) > w.Backlog),
		}}
		if len(na.Topics) > 0 {
			na.Matched = now
		}
		na.Page = w.pageLane(src, &na.Article, teasers)
		if na.Page != storage.PageNone {
			na.Host = storage.HostOf(link)
		} else {
			na.Sig, na.HasSig = dedup.Sign(doc.Stems())
		}
		out = append(out, na)
	}
	return out
}

// pageLane decides whether an article's page is fetched, and how soon. A
// page is fetched only where it can change the outcome:
//   - never with FETCH_FULL_TEXT=false or a source set to fulltext=off, nor
//     for backlog, which never alerts;
//   - at once (the urgent lane) for an article that matched a topic on its
//     feed text: its summary is written from the page;
//   - in the bulk lane for every other article of a source set to
//     fulltext=on, or of a teaser-only source in auto mode, where the full
//     text may match a topic the teaser did not.
func (w *Watcher) pageLane(src storage.Source, a *storage.Article, teasers bool) storage.PageLane {
	mode := src.FullTextMode()
	switch {
	case !w.FullText || mode == storage.FullTextOff || a.Backlog || a.URL == "" || storage.HostOf(a.URL) == "":
		return storage.PageNone
	case len(a.Topics) > 0:
		return storage.PageUrgent
	case mode == storage.FullTextOn || teasers:
		return storage.PageBulk
	}
	return storage.PageNone
}

func (w *Watcher) now() time.Time { return nowOr(w.Now) }

func (w *Watcher) log() *slog.Logger { return logOr(w.Log) }
