package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"dozor/internal/analysis"
	"dozor/internal/backoff"
	"dozor/internal/dedup"
	"dozor/internal/extract"
	"dozor/internal/fetch"
	"dozor/internal/query"
	"dozor/storage"
)

// Pager is the page stage: it fetches queued article pages, extracts their
// main text, matches the topics again on it and hands each article to the
// fold stage with the signature of its best text.
//
// Fetching is fair across hosts: each host has its own queue, at most one
// of its pages is in flight, and hosts take turns, so with pages pending on
// Workers hosts or more, Workers fetches run at once. Urgent pages (of
// articles that matched a topic and wait for their summary) go first: a
// host's urgent pages before its bulk ones, hosts with urgent pages before
// the others, and the fetcher puts them ahead of other waiting requests.
type Pager struct {
	Store   *storage.Store
	Fetcher Fetcher
	// Workers is how many pages are fetched at once (FETCH_CONCURRENCY).
	Workers int
	// Wake is notified when the watch stage queued pages.
	Wake Signal
	// Next is notified after each commit, for the fold stage, and Embed
	// for the embed stage (nil when embeddings are off).
	Next    Signal
	Embed   Signal
	Now     func() time.Time
	Log     *slog.Logger
	Observe Observer
}

// hostDown is how long a host that failed several times in a row is left
// alone; its pages meanwhile go on with the feed's text, so a dead site
// does not hold thousands of pages for a timeout each.
var hostDown = backoff.Policy{Base: 30 * time.Second, Max: 30 * time.Minute}

const (
	hostFailuresDown = 3         // consecutive failures that take a host down
	holdCap          = time.Hour // longest Retry-After a host is held for
	// Page results are committed 250 at a time or every 2 s, so commits
	// grow with batches, not pages; an urgent result (an alert waits for
	// it) goes in the next commit, at most pageFlush later.
	pageBatch     = 250
	pageBatchWait = 2 * time.Second
	pageFlush     = 200 * time.Millisecond
)

const pageAccept = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"

// Run fetches pages until ctx ends.
func (p *Pager) Run(ctx context.Context) error {
	q := &pageQueue{p: p, hosts: map[string]*hostPages{}, topics: &topicCache{store: p.Store, log: p.log()}}
	pool(ctx, p.Workers, p.Wake, pageFlush, q, p.Observe, "page", func(what string, err error) {
		p.log().Error("page stage: "+what, "err", err)
	})
	return nil
}

func (p *Pager) log() *slog.Logger { return logOr(p.Log) }

// hostPages is one host's queue and state.
type hostPages struct {
	name         string
	urgent, bulk []storage.PageJob
	busy         bool
	holdUntil    time.Time // Retry-After: nothing is fetched before
	downUntil    time.Time // failing: pages go on without fetching
	failures     int
	inTurn       bool // in the rotation: pages queued or in flight
}

func (h *hostPages) empty() bool { return len(h.urgent)+len(h.bulk) == 0 }

// pageQueue is the page stage's state, owned by the pool's goroutine.
type pageQueue struct {
	p       *Pager
	topics  *topicCache
	hosts   map[string]*hostPages // also those without pages, while they are held or failing
	order   []*hostPages          // round-robin over hosts with pages
	turn    int
	last    [2]uint64 // highest article id read per lane: urgent, bulk
	results []storage.PageResult
	since   time.Time // when the oldest uncommitted result came in
	urgent  bool      // an uncommitted result is urgent
}

// pageJob is one fetch: the queued page and the topics to match.
type pageJob struct {
	storage.PageJob
	host   *hostPages
	topics *query.Set
	fetch  bool // false: go on with the feed's text (host down or held)
}

type pageDone struct {
	result   storage.PageResult
	err      error         // the page could not be had; the feed's text is used
	hold     time.Duration // the host asked us to wait (429/503 Retry-After)
	failed   bool          // a fetch failure that counts against the host
	notFound bool          // the article is gone
}

func laneIndex(l storage.PageLane) int {
	if l == storage.PageUrgent {
		return 0
	}
	return 1
}

func (q *pageQueue) refill() error {
	for _, lane := range []storage.PageLane{storage.PageUrgent, storage.PageBulk} {
		jobs, err := q.p.Store.QueuedPages(lane, q.last[laneIndex(lane)])
		if err != nil {
			return err
		}
		for _, j := range jobs {
			q.add(j, false)
			q.last[laneIndex(lane)] = j.ArticleID
		}
	}
	return nil
}

// add queues a job at the back of its host's lane, or at the front when it
// comes back from an interrupted fetch.
func (q *pageQueue) add(j storage.PageJob, front bool) {
	h := q.hosts[j.Host]
	if h == nil {
		h = &hostPages{name: j.Host}
		q.hosts[j.Host] = h
	}
	if !h.inTurn {
		h.inTurn = true
		q.order = append(q.order, h)
	}
	lane := &h.bulk
	if j.Lane == storage.PageUrgent {
		lane = &h.urgent
	}
	if front {
		*lane = append([]storage.PageJob{j}, *lane...)
	} else {
		*lane = append(*lane, j)
	}
}

// drop takes a host with nothing left out of the rotation. Its hold and
// failures are kept while they last: the next page for it must wait too.
func (q *pageQueue) drop(h *hostPages, now time.Time) {
	h.inTurn = false
	for i, x := range q.order {
		if x == h {
			q.order = append(q.order[:i], q.order[i+1:]...)
			if q.turn > i {
				q.turn--
			}
			break
		}
	}
	if len(q.order) > 0 {
		q.turn %= len(q.order)
	} else {
		q.turn = 0
	}
	if !now.Before(h.holdUntil) && !now.Before(h.downUntil) && h.failures == 0 {
		delete(q.hosts, h.name)
	}
	if len(q.hosts) > 4*len(q.order)+1024 {
		// Forget the failing hosts whose rest is over.
		for name, x := range q.hosts {
			if !x.inTurn && !now.Before(x.holdUntil) && !now.Before(x.downUntil) {
				delete(q.hosts, name)
			}
		}
	}
}

// next takes the next host's turn: hosts with urgent pages first, then the
// others, round-robin, skipping busy and held hosts.
func (q *pageQueue) next(now time.Time) (pageJob, bool, time.Duration) {
	var wait time.Duration
	for _, urgentOnly := range []bool{true, false} {
		for i := range q.order {
			h := q.order[(q.turn+i)%len(q.order)]
			if h.busy || (urgentOnly && len(h.urgent) == 0) || h.empty() {
				continue
			}
			held := now.Before(h.holdUntil)
			if held && len(h.urgent) == 0 {
				if d := h.holdUntil.Sub(now); wait == 0 || d < wait {
					wait = d
				}
				continue
			}
			topics, err := q.topics.get()
			if err != nil {
				q.p.log().Error("page stage: load topics", "err", err)
				return pageJob{}, false, time.Second
			}
			var j storage.PageJob
			if len(h.urgent) > 0 {
				j, h.urgent = h.urgent[0], h.urgent[1:]
			} else {
				j, h.bulk = h.bulk[0], h.bulk[1:]
			}
			h.busy = true
			q.turn = (q.turn + i + 1) % len(q.order)
			// An alert never waits for a held or failing host: its page
			// is skipped and its summary written from the feed's text.
			fetch := !held && !now.Before(h.downUntil)
			return pageJob{PageJob: j, host: h, topics: topics, fetch: fetch}, true, 0
		}
	}
	return pageJob{}, false, wait
}

func (q *pageQueue) work(ctx context.Context, j pageJob) pageDone {
	a, err := q.p.Store.ArticleHead(j.ArticleID)
	if errors.Is(err, storage.ErrNotFound) {
		return pageDone{result: storage.PageResult{ArticleID: j.ArticleID, Lane: j.Lane}, notFound: true}
	}
	if err != nil {
		return pageDone{err: err, result: storage.PageResult{ArticleID: j.ArticleID, Lane: j.Lane}}
	}
	d := pageDone{}
	text := ""
	if j.fetch {
		text, d.err = q.fullText(ctx, a, j.Lane == storage.PageUrgent)
		var fe *fetch.Error
		switch {
		case ctx.Err() != nil:
			return d // aborted: the pool puts it back
		case errors.As(d.err, &fe) && fe.RetryAfter > 0:
			d.hold = min(fe.RetryAfter, holdCap)
		case errors.As(d.err, &fe) && (fe.Retryable() || fe.Kind == fetch.KindTLS):
			d.failed = true
		}
	}
	d.result = analysePage(a, text, j.topics, q.p.now())
	d.result.Lane = j.Lane
	return d
}

// analysePage decides what an article's page changes: a better text, the
// topics that text matches, and the signature the fold stage compares.
func analysePage(a storage.Article, pageText string, topics *query.Set, now time.Time) storage.PageResult {
	r := storage.PageResult{ArticleID: a.ID, Topics: a.Topics}
	best := a.Text
	if b := extract.Best(pageText, a.Text); b != a.Text {
		r.FullText, best = b, b
	}
	doc := analysis.Analyze(a.Title, best, a.URL)
	if r.FullText != "" {
		r.Topics = union(a.Topics, topics.Match(doc))
		if len(a.Topics) == 0 && len(r.Topics) > 0 {
			r.Matched = now
		}
	}
	r.Sig, r.HasSig = dedup.Sign(doc.Stems())
	return r
}

func union(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, s := range b {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (q *pageQueue) fullText(ctx context.Context, a storage.Article, urgent bool) (string, error) {
	resp, err := q.p.Fetcher.Get(ctx, fetch.Request{URL: a.URL, Accept: pageAccept, Urgent: urgent})
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

func (q *pageQueue) done(j pageJob, d pageDone, aborted bool) bool {
	h := j.host
	h.busy = false
	now := time.Now() // holds are politeness, in real time like the fetcher's
	switch {
	case aborted:
		q.add(j.PageJob, true)
		return false
	case d.hold > 0:
		h.holdUntil = now.Add(d.hold)
		if j.Lane != storage.PageUrgent {
			q.add(j.PageJob, true) // fetched after the hold
			return false
		}
		q.p.log().Info("site asks to wait: urgent page goes on with the feed's text", "host", h.name, "hold", d.hold)
	case d.failed:
		h.failures++
		if h.failures >= hostFailuresDown {
			h.downUntil = now.Add(hostDown.Delay(h.failures - hostFailuresDown + 1))
			q.p.log().Warn("site keeps failing: its pages go on with the feeds' text for a while",
				"host", h.name, "failures", h.failures, "until", h.downUntil, "err", d.err)
		}
	case d.err == nil && j.fetch:
		h.failures = 0
	}
	if d.err != nil && !d.notFound {
		q.p.log().Debug("full text unavailable; using the feed's text", "article_id", j.ArticleID, "err", d.err)
	}
	if h.empty() && !h.busy && h.inTurn {
		q.drop(h, now)
	}
	if len(q.results) == 0 {
		q.since = now
	}
	q.results = append(q.results, d.result)
	q.urgent = q.urgent || j.Lane == storage.PageUrgent
	return len(q.results) >= pageBatch
}

func (q *pageQueue) flush(final bool) error {
	if len(q.results) == 0 {
		return nil
	}
	if !final && !q.urgent && len(q.results) < pageBatch && time.Since(q.since) < pageBatchWait {
		return nil
	}
	if err := q.p.Store.SavePages(q.results); err != nil {
		return err
	}
	q.results, q.urgent = q.results[:0], false
	q.p.Next.Notify()
	q.p.Embed.Notify()
	return nil
}

func (p *Pager) now() time.Time { return nowOr(p.Now) }
