package jobs

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"dozor/internal/analysis"
	"dozor/internal/dedup"
	"dozor/internal/extract"
	"dozor/internal/fetch"
	"dozor/storage"
)

// The stage tests run one stage at a time on a real store (the harness's,
// in t.TempDir()) with real HTTP on loopback. Articles are queued as the
// watch stage would queue them, through storage.SaveFetches.

// serveOn starts a test server on one loopback address: politeness is per
// host name, so each host needs its own address (Linux routes all of
// 127/8 to loopback).
func serveOn(t *testing.T, ip string, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// queue stores articles as one source's fetch, queued for their page or
// for the fold stage as each says, and returns them with their ids.
func (h *harness) queue(arts ...storage.NewArticle) []storage.Article {
	h.t.Helper()
	src, _, err := h.store.AddSource(storage.NewSource{URL: "https://feed.example/rss"}, h.now)
	if err != nil {
		h.t.Fatal(err)
	}
	saved, err := h.store.SaveFetches([]storage.FetchResult{{SourceID: src.ID, Articles: arts}})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(saved[0]) != len(arts) {
		h.t.Fatalf("stored %d of %d articles", len(saved[0]), len(arts))
	}
	return saved[0]
}

// pageItem is a new article queued for its page in lane.
func pageItem(url, title, text string, lane storage.PageLane, now time.Time, topics ...string) storage.NewArticle {
	na := storage.NewArticle{Article: storage.Article{Key: url, URL: url, Title: title, Text: text,
		Source: "Лента", Published: now, Fetched: now, Topics: topics}, Page: lane, Host: storage.HostOf(url)}
	if len(topics) > 0 {
		na.Matched = now
	}
	return na
}

// foldItem is a new article that goes straight to the fold stage with the
// signature of its text, as the watch stage signs it.
func foldItem(url, title, text string, now time.Time, topics ...string) storage.NewArticle {
	doc := analysis.Analyze(title, text, url)
	na := storage.NewArticle{Article: storage.Article{Key: url, URL: url, Title: title, Text: text,
		Source: "Лента", Published: now, Fetched: now, Lang: doc.Lang, Topics: topics}}
	if len(topics) > 0 {
		na.Matched = now
	}
	na.Sig, na.HasSig = dedup.Sign(doc.Stems())
	return na
}

// pager is a page stage over the harness's store, on the harness's clock.
func (h *harness) pager(workers int) *Pager {
	return &Pager{Store: h.store,
		Fetcher: fetch.New(fetch.Options{AllowPrivate: true, Timeout: 10 * time.Second, MaxBodyBytes: 1 << 20, MaxConcurrent: 8}),
		Workers: workers, Wake: NewSignal(), Next: NewSignal(), Now: func() time.Time { return h.now }, Log: discard()}
}

func (h *harness) folder(now func() time.Time) *Folder {
	return &Folder{Store: h.store, Wake: NewSignal(), Next: NewSignal(), Now: now, Log: discard()}
}

// runFolder folds everything queued with a fresh fold stage.
func (h *harness) runFolder(f *Folder) {
	h.t.Helper()
	stop := h.start(f.Run)
	h.waitCounts("folding", func(c storage.Counts) bool { return c.Fold == 0 })
	stop()
}

// signal reports a server's first sight of something on a channel with
// room for one; it reports false, without blocking, after the first.
func signal(ch chan struct{}) bool {
	select {
	case ch <- struct{}{}:
		return true
	default:
		return false
	}
}

func notified(s Signal) bool {
	select {
	case <-s:
		return true
	default:
		return false
	}
}

// pathLog records the paths a server was asked for, in order.
type pathLog struct {
	mu    sync.Mutex
	paths []string
}

func (l *pathLog) add(p string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.paths = append(l.paths, p)
}

func (l *pathLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.paths)
}

func (l *pathLog) count(p string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, x := range l.paths {
		if x == p {
			n++
		}
	}
	return n
}

func TestPagerFullTextMatchesANewTopic(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	url := fs.handle("/finance/vtb-ai", servePage(vtbPage()))
	h.topic("vtb", "ВТБ Китай ИИ")
	h.topic("shanghai", "Шанхай Huawei")
	title, teaser := "Крупный банк готовит проект за рубежом", "Подробности проекта пока не раскрываются."
	topics, err := (&topicCache{store: h.store, log: discard()}).get()
	if err != nil {
		t.Fatal(err)
	}
	if m := topics.Match(analysis.Analyze(title, teaser, url)); len(m) != 0 {
		t.Fatalf("the teaser matches %v; the test needs one that matches nothing", m)
	}
	arts := h.queue(pageItem(url, title, teaser, storage.PageBulk, h.now))
	h.now = h.now.Add(10 * time.Minute) // when the page stage works
	p := h.pager(4)
	stop := h.start(p.Run)
	h.waitCounts("the page", func(c storage.Counts) bool { return c.PagesBulk == 0 && c.Fold == 1 })
	stop()

	a := h.article(arts[0].ID)
	if want := strings.Join(vtbParagraphs, "\n\n"); a.FullText != want {
		t.Errorf("full text:\n%s\nwant:\n%s", a.FullText, want)
	}
	if a.Text != teaser || !slices.Equal(a.Topics, []string{"shanghai", "vtb"}) || !a.Matched.Equal(h.now) {
		t.Errorf("article text %q topics %v matched %v; want the teaser kept, both topics, matched %v", a.Text, a.Topics, a.Matched, h.now)
	}
	if n := fs.Hits("/finance/vtb-ai"); n != 1 {
		t.Errorf("page fetched %d times, want 1", n)
	}
	if !notified(p.Next) {
		t.Error("the fold stage was not woken after the commit")
	}

	// The fold stage takes it from there: news on both topics, with the
	// deadline counted from when the page made it match.
	h.runFolder(h.folder(nil))
	al := h.pending()
	if len(al) != 1 || al[0].ArticleID != a.ID || !slices.Equal(al[0].Topics, []string{"shanghai", "vtb"}) || !al[0].Created.Equal(h.now) {
		t.Errorf("alerts %+v, want one for article %d on both topics created %v", al, a.ID, h.now)
	}
}

func TestPagerShorterPageKeepsTheFeedText(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	body := seedBody(t, "vtb-ai-centre-china.ru.txt")
	page := newsPage("Деловой вестник", vtbTitle, vtbParagraphs[:2])
	url := fs.handle("/short", servePage(page))
	// The page's text is real, just less than the feed carried.
	if res, err := extract.Text(page, url); err != nil || res.Text == "" || len(res.Text) >= len(body) {
		t.Fatalf("the page extracts to %d bytes (%v); want some, less than the feed's %d", len(res.Text), err, len(body))
	}
	arts := h.queue(pageItem(url, vtbTitle, body, storage.PageBulk, h.now))
	p := h.pager(4)
	stop := h.start(p.Run)
	h.waitCounts("the page", func(c storage.Counts) bool { return c.PagesBulk == 0 && c.Fold == 1 })
	stop()
	a := h.article(arts[0].ID)
	if a.FullText != "" || a.Text != body || a.BestText() != body {
		t.Errorf("full text %q: want the feed's longer text kept", a.FullText)
	}
	if n := fs.Hits("/short"); n != 1 {
		t.Errorf("page fetched %d times, want 1", n)
	}
}

func TestPagerMissingPageGoesOnWithTheFeedText(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	h.topic("vtb", "ВТБ Китай ИИ")
	teaser := "ВТБ рассматривает создание ИИ-центра в Китае."
	arts := h.queue(pageItem(fs.URL+"/gone", vtbTitle, teaser, storage.PageUrgent, h.now, "vtb"))
	matched := h.now
	h.now = h.now.Add(time.Minute)
	p := h.pager(4)
	stop := h.start(p.Run)
	h.waitCounts("the page", func(c storage.Counts) bool { return c.PagesUrgent == 0 && c.Fold == 1 })
	stop()
	a := h.article(arts[0].ID)
	if a.FullText != "" || a.Text != teaser || !slices.Equal(a.Topics, []string{"vtb"}) || !a.Matched.Equal(matched) {
		t.Errorf("article %+v: want the feed's text, its topic and its match time kept", a)
	}
	if n := fs.Hits("/gone"); n != 1 {
		t.Errorf("page fetched %d times, want 1", n)
	}
}

// A host that answers 429 with Retry-After is left alone for that long:
// its bulk pages wait, and are not fetched again before the hold ends,
// while another host's pages go on.
func TestPagerRetryAfterHoldsTheHostOnly(t *testing.T) {
	h := newHarness(t)
	busy := newFeedServer(t) // 127.0.0.1
	var busyLog pathLog
	busyHandler := func(w http.ResponseWriter, r *http.Request) {
		busyLog.add(r.URL.Path)
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}
	var okLog pathLog
	ok := serveOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		okLog.add(r.URL.Path)
		servePage(vtbPage())(w, r)
	}))
	var items []storage.NewArticle
	for i := range 3 {
		items = append(items, pageItem(busy.handle(fmt.Sprintf("/held/%d", i), busyHandler), fmt.Sprintf("Новость %d", i), "Анонс.", storage.PageBulk, h.now))
	}
	for i := range 5 {
		items = append(items, pageItem(fmt.Sprintf("%s/ok/%d", ok.URL, i), fmt.Sprintf("Статья %d", i), "Анонс.", storage.PageBulk, h.now))
	}
	arts := h.queue(items...)
	p := h.pager(4)
	stop := h.start(p.Run)
	h.waitCounts("the other host's pages", func(c storage.Counts) bool { return c.Fold == 5 })
	stop()

	if got := busyLog.get(); len(got) != 1 || got[0] != "/held/0" {
		t.Errorf("the held host was asked %d times, first %v; want /held/0 once, nothing more before Retry-After", len(got), got[:min(3, len(got))])
	}
	if got := okLog.get(); len(got) != 5 {
		t.Errorf("the other host was asked for %v, want its 5 pages", got)
	}
	bulk, err := h.store.QueuedPages(storage.PageBulk, 0)
	if err != nil {
		t.Fatal(err)
	}
	var held []uint64
	for _, j := range bulk {
		held = append(held, j.ArticleID)
	}
	if want := []uint64{arts[0].ID, arts[1].ID, arts[2].ID}; !slices.Equal(held, want) {
		t.Errorf("still queued %v, want the held host's pages %v", held, want)
	}
}

// An alert never waits for a held host: its page is not fetched and it
// goes on at once with the feed's text.
func TestPagerUrgentPageOnAHeldHostGoesOnAtOnce(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	var log pathLog
	handler := func(w http.ResponseWriter, r *http.Request) {
		log.add(r.URL.Path)
		if r.URL.Path == "/bulk" && signal(arrived) {
			<-release
		}
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}
	bulkURL, urgentURL := fs.handle("/bulk", handler), fs.handle("/urgent", handler)
	h.queue(pageItem(bulkURL, "Курс рубля", "Рубль укрепился.", storage.PageBulk, h.now))
	p := h.pager(4)
	stop := h.start(p.Run)
	wait(t, arrived, "the bulk page's request")
	// The alert's page is queued while the host is busy; the host answers
	// 429 with an hour's Retry-After.
	teaser := "ВТБ рассматривает создание ИИ-центра в Китае."
	arts := h.queue(pageItem(urgentURL, vtbTitle, teaser, storage.PageUrgent, h.now, "vtb"))
	p.Wake.Notify()
	close(release)
	h.waitCounts("the urgent page", func(c storage.Counts) bool { return c.PagesUrgent == 0 && c.Fold == 1 })
	stop()
	if got := log.get(); !slices.Equal(got, []string{"/bulk"}) {
		t.Errorf("the held host was asked %d times, first %v; want only /bulk", len(got), got[:min(3, len(got))])
	}
	a := h.article(arts[0].ID)
	if a.FullText != "" || a.Text != teaser || !slices.Equal(a.Topics, []string{"vtb"}) {
		t.Errorf("urgent article %+v, want it on with the feed's text", a)
	}
	if c := h.counts(); c.PagesBulk != 1 {
		t.Errorf("%d bulk pages queued, want the held one", c.PagesBulk)
	}
}

// A host's Retry-After outlives its queue: once the urgent page it
// answered 429 to has gone on, the next page queued for that host is not
// fetched before the hold ends either, while another host's is.
func TestPagerHoldOutlivesTheHostsQueue(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	var log pathLog
	handler := func(w http.ResponseWriter, r *http.Request) {
		log.add(r.URL.Path)
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}
	other := serveOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { servePage(vtbPage())(w, r) }))
	h.queue(pageItem(fs.handle("/urgent", handler), vtbTitle, "ВТБ и Китай.", storage.PageUrgent, h.now, "vtb"))
	p := h.pager(1)
	stop := h.start(p.Run)
	h.waitCounts("the urgent page", func(c storage.Counts) bool { return c.PagesUrgent == 0 && c.Fold == 1 })
	// One worker: the held host's page comes first in the queue, so a stage
	// that forgot the hold fetches it before the other host's.
	h.queue(
		pageItem(fs.handle("/later", handler), "Курс рубля", "Рубль укрепился.", storage.PageBulk, h.now),
		pageItem(other.URL+"/page", "Другая новость", "Анонс.", storage.PageBulk, h.now))
	p.Wake.Notify()
	h.waitCounts("the other host's page", func(c storage.Counts) bool { return c.Fold == 2 })
	stop()
	if got := log.get(); !slices.Equal(got, []string{"/urgent"}) {
		t.Errorf("the held host was asked for %v; want only /urgent before its Retry-After", got)
	}
	if c := h.counts(); c.PagesBulk != 1 {
		t.Errorf("%d bulk pages queued, want the held host's", c.PagesBulk)
	}
}

// A host that is down stays down for the pages queued after its queue
// emptied: they go on without fetching.
func TestPagerDownOutlivesTheHostsQueue(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	var log pathLog
	handler := func(w http.ResponseWriter, r *http.Request) {
		log.add(r.URL.Path)
		http.Error(w, "boom", http.StatusInternalServerError)
	}
	other := serveOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { servePage(vtbPage())(w, r) }))
	var items []storage.NewArticle
	for i := range 3 {
		items = append(items, pageItem(fs.handle(fmt.Sprintf("/p%d", i), handler), fmt.Sprintf("Новость %d", i), "Анонс.", storage.PageBulk, h.now))
	}
	h.queue(items...)
	p := h.pager(1)
	stop := h.start(p.Run)
	h.waitCounts("three failures", func(c storage.Counts) bool { return c.PagesBulk == 0 && c.Fold == 3 })
	h.queue(
		pageItem(fs.handle("/later", handler), "Курс рубля", "Рубль укрепился.", storage.PageBulk, h.now),
		pageItem(other.URL+"/page", "Другая новость", "Анонс.", storage.PageBulk, h.now))
	p.Wake.Notify()
	h.waitCounts("the later pages", func(c storage.Counts) bool { return c.PagesBulk == 0 && c.Fold == 5 })
	stop()
	if got, want := log.get(), []string{"/p0", "/p1", "/p2"}; !slices.Equal(got, want) {
		t.Errorf("the failing host was asked for %v, want %v: it is down", got, want)
	}
}

// Three failures in a row take a host down: its remaining pages go on with
// the feed's text without being fetched. A success in between starts the
// count again.
func TestPagerFailingHostGoesDown(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	var log pathLog
	handler := func(w http.ResponseWriter, r *http.Request) {
		log.add(r.URL.Path)
		if r.URL.Path == "/p2" {
			servePage(vtbPage())(w, r)
			return
		}
		http.Error(w, "boom", http.StatusInternalServerError)
	}
	var items []storage.NewArticle
	for i := range 8 {
		items = append(items, pageItem(fs.handle(fmt.Sprintf("/p%d", i), handler), fmt.Sprintf("Новость %d", i), "Анонс новости.", storage.PageBulk, h.now))
	}
	arts := h.queue(items...)
	p := h.pager(4)
	stop := h.start(p.Run)
	h.waitCounts("every page", func(c storage.Counts) bool { return c.PagesBulk == 0 && c.Fold == 8 })
	stop()
	// fail, fail, ok, fail, fail, fail: down; p6 and p7 are not fetched.
	if got, want := log.get(), []string{"/p0", "/p1", "/p2", "/p3", "/p4", "/p5"}; !slices.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
	for i, a := range arts {
		a = h.article(a.ID)
		if (a.FullText != "") != (i == 2) {
			t.Errorf("article %d full text %q", i, a.FullText)
		}
	}
}

// A host's urgent page is its next request, ahead of the bulk pages queued
// before it: with the host's one slot held by a slow request, the urgent
// page is the next request the server sees although 49 bulk pages wait.
func TestPagerUrgentBeforeBulkOnOneHost(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	slow, release := make(chan struct{}, 1), make(chan struct{})
	var log pathLog
	handler := func(w http.ResponseWriter, r *http.Request) {
		log.add(r.URL.Path)
		if r.URL.Path == "/bulk/0" && signal(slow) {
			<-release
		}
		fmt.Fprint(w, "<html><body><p>Короткая заметка.</p></body></html>")
	}
	var items []storage.NewArticle
	for i := range 50 {
		items = append(items, pageItem(fs.handle(fmt.Sprintf("/bulk/%d", i), handler), fmt.Sprintf("Новость %d", i), "Анонс.", storage.PageBulk, h.now))
	}
	h.queue(items...)
	probed := make(chan struct{}, 1)
	probe := serveOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		signal(probed)
		http.NotFound(w, r)
	}))
	p := h.pager(4)
	stop := h.start(p.Run)
	wait(t, slow, "the first bulk request")
	// The urgent page and, in the same commit, a page on another host: once
	// that one is asked for, the stage has read the urgent page too.
	h.queue(
		pageItem(fs.handle("/urgent", handler), vtbTitle, "ВТБ и Китай.", storage.PageUrgent, h.now, "vtb"),
		pageItem(probe.URL+"/probe", "Другая новость", "Анонс.", storage.PageUrgent, h.now, "vtb"))
	p.Wake.Notify()
	wait(t, probed, "the other host's urgent page")
	close(release)
	h.waitCounts("every page", func(c storage.Counts) bool { return c.PagesBulk+c.PagesUrgent == 0 && c.Fold == 52 })
	stop()
	got := log.get()
	if len(got) != 51 || got[0] != "/bulk/0" || got[1] != "/urgent" {
		t.Errorf("the host saw %d requests starting %v; want /bulk/0, then /urgent, then the rest", len(got), got[:min(3, len(got))])
	}
	for i := 1; i < 50 && len(got) == 51; i++ {
		if got[i+1] != fmt.Sprintf("/bulk/%d", i) {
			t.Errorf("request %d is %s, want the bulk pages in order", i+1, got[i+1])
			break
		}
	}
}

// Hosts take turns: with one worker, the urgent page queued last is the
// first request, then the two hosts' bulk pages alternate rather than one
// host's pages going first.
func TestPagerUrgentFirstThenHostsTakeTurns(t *testing.T) {
	h := newHarness(t)
	var log pathLog
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r.Host[:strings.IndexByte(r.Host, ':')] + r.URL.Path)
		fmt.Fprint(w, "<html><body><p>Короткая заметка.</p></body></html>")
	})
	a, b, c := serveOn(t, "127.0.0.2", handler), serveOn(t, "127.0.0.3", handler), serveOn(t, "127.0.0.4", handler)
	var items []storage.NewArticle
	for _, srv := range []*httptest.Server{a, b} {
		for i := range 3 {
			items = append(items, pageItem(fmt.Sprintf("%s/bulk/%d", srv.URL, i), fmt.Sprintf("Новость %d", i), "Анонс.", storage.PageBulk, h.now))
		}
	}
	items = append(items, pageItem(c.URL+"/urgent", vtbTitle, "ВТБ и Китай.", storage.PageUrgent, h.now, "vtb"))
	h.queue(items...)
	p := h.pager(1)
	stop := h.start(p.Run)
	h.waitCounts("every page", func(c storage.Counts) bool { return c.PagesBulk+c.PagesUrgent == 0 && c.Fold == 7 })
	stop()
	want := []string{"127.0.0.4/urgent",
		"127.0.0.2/bulk/0", "127.0.0.3/bulk/0", "127.0.0.2/bulk/1", "127.0.0.3/bulk/1", "127.0.0.2/bulk/2", "127.0.0.3/bulk/2"}
	if got := log.get(); !slices.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
}

func TestPagerFetchesAcross8HostsRun8AtATime(t *testing.T) {
	const hosts, perHost = 8, 20
	h := newHarness(t)
	var (
		mu       sync.Mutex
		inFlight int
		peak     int
		perHostN = map[string]int{}
		twoOnOne []string
		served   int
	)
	full := make(chan struct{})
	var fullOnce sync.Once
	handler := func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.Host)
		mu.Lock()
		inFlight++
		perHostN[host]++
		if perHostN[host] > 1 {
			twoOnOne = append(twoOnOne, host)
		}
		peak = max(peak, inFlight)
		if inFlight == hosts {
			fullOnce.Do(func() { close(full) })
		}
		mu.Unlock()
		// Hold every request until 8 are in flight at once; a stage that
		// cannot get there fails here instead of hanging.
		select {
		case <-full:
		case <-r.Context().Done():
			t.Errorf("%s: the client gave up before %d requests were in flight", r.URL, hosts)
		case <-time.After(5 * time.Second):
			t.Errorf("%s: only %d requests in flight after 5s, want %d", r.URL, func() int { mu.Lock(); defer mu.Unlock(); return inFlight }(), hosts)
		}
		mu.Lock()
		inFlight--
		perHostN[host]--
		served++
		mu.Unlock()
		fmt.Fprint(w, "<html><body><p>Короткая заметка.</p></body></html>")
	}
	// Host by host, so a stage that took pages in queue order would work on
	// one host at a time.
	var items []storage.NewArticle
	for i := range hosts {
		srv := serveOn(t, fmt.Sprintf("127.0.0.%d", i+2), http.HandlerFunc(handler))
		for j := range perHost {
			items = append(items, pageItem(fmt.Sprintf("%s/n/%d", srv.URL, j), fmt.Sprintf("Новость %d-%d", i, j), "Анонс.", storage.PageBulk, h.now))
		}
	}
	h.queue(items...)
	p := h.pager(8)
	stop := h.start(p.Run)
	h.waitCounts("every page", func(c storage.Counts) bool { return c.PagesBulk == 0 && c.Fold == hosts*perHost })
	stop()
	mu.Lock()
	defer mu.Unlock()
	if peak != hosts {
		t.Errorf("at most %d requests in flight, want %d", peak, hosts)
	}
	if len(twoOnOne) > 0 {
		t.Errorf("two requests at once on hosts %v", twoOnOne)
	}
	if served != hosts*perHost {
		t.Errorf("served %d pages, want %d", served, hosts*perHost)
	}
}

// reprintOf is text as a reprint carries it: the same story with a line
// added.
func reprintOf(text, line string) string { return text + " " + line }

func TestFolderReprintsJoinDifferentEventsDoNot(t *testing.T) {
	h := newHarness(t)
	ru, en := seedBody(t, "vtb-ai-centre-china.ru.txt"), seedBody(t, "finextra-sberbank-china-ai.en.txt")
	f := h.folder(nil)
	stop := h.start(f.Run)
	arts := h.queue(
		foldItem("https://one.example/vtb", vtbTitle, ru, h.now, "banks"),
		foldItem("https://two.example/n/1", "ВТБ рассматривает создание ИИ-центра в Китае", reprintOf(ru, "Источник: «Известия»."), h.now, "banks"),
		foldItem("https://www.finextra.com/newsarticle/1", "Putin orders Russian bank to cooperate with China on AI", en, h.now, "banks"))
	f.Wake.Notify()
	h.waitCounts("folding", func(c storage.Counts) bool { return c.Fold == 0 })
	// A later batch: the stage remembers the stories it started.
	later := h.queue(foldItem("https://reprint.example/sber", "Putin tells Sberbank to work with China on AI", reprintOf(en, "Source: Finextra."), h.now, "banks"))
	f.Wake.Notify()
	h.waitCounts("folding", func(c storage.Counts) bool { return c.Fold == 0 })
	stop()

	ids := make([]uint64, 0, 4)
	for _, a := range append(arts, later...) {
		ids = append(ids, h.article(a.ID).StoryID)
	}
	if ids[0] == 0 || ids[0] != ids[1] || ids[2] == 0 || ids[2] != ids[3] || ids[0] == ids[2] {
		t.Fatalf("story ids %v: want the two reprints of each seed together and the seeds apart", ids)
	}
	if f.StoriesStarted() != 2 {
		t.Errorf("stories started %d, want 2", f.StoriesStarted())
	}
	for _, want := range []struct {
		id   uint64
		arts []uint64
	}{{ids[0], []uint64{arts[0].ID, arts[1].ID}}, {ids[2], []uint64{arts[2].ID, later[0].ID}}} {
		st, err := h.store.Story(want.id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Count != 2 || !slices.Equal(st.Articles, want.arts) || !slices.Equal(st.Topics, []string{"banks"}) {
			t.Errorf("story %+v, want articles %v and one topic", st, want.arts)
		}
	}
	if al := h.pending(); len(al) != 2 || al[0].ArticleID != arts[0].ID || al[1].ArticleID != arts[2].ID {
		t.Errorf("alerts %+v, want one per story, for its first article", al)
	}
}

func TestFolderAlertsOncePerTopic(t *testing.T) {
	h := newHarness(t)
	ru := seedBody(t, "vtb-ai-centre-china.ru.txt")
	f := h.folder(nil)
	stop := h.start(f.Run)
	fold := func(arts ...storage.NewArticle) []storage.Article {
		t.Helper()
		saved := h.queue(arts...)
		f.Wake.Notify()
		h.waitCounts("folding", func(c storage.Counts) bool { return c.Fold == 0 })
		return saved
	}
	first := fold(foldItem("https://one.example/vtb", vtbTitle, ru, h.now.Add(-5*time.Minute), "vtb"))
	// A reprint on the topic already alerted, and one that matches one more.
	later := fold(
		foldItem("https://two.example/1", "ВТБ рассматривает создание ИИ-центра", reprintOf(ru, "Источник: «Известия»."), h.now, "vtb"),
		foldItem("https://three.example/1", "ВТБ может открыть ИИ-центр в Китае", reprintOf(ru, "Перепечатка с разрешения редакции."), h.now.Add(time.Minute), "vtb", "shanghai"))
	// Another reprint on both: nothing new.
	fold(foldItem("https://four.example/1", "ВТБ и ИИ-центр в Китае", reprintOf(ru, "По материалам СМИ."), h.now, "shanghai", "vtb"))
	stop()

	story := h.article(first[0].ID).StoryID
	for _, a := range later {
		if got := h.article(a.ID).StoryID; got != story {
			t.Fatalf("reprint %d in story %d, want %d", a.ID, got, story)
		}
	}
	al := h.pending()
	if len(al) != 2 {
		t.Fatalf("alerts %+v, want two", al)
	}
	if a := al[0]; a.StoryID != story || a.ArticleID != first[0].ID || !slices.Equal(a.Topics, []string{"vtb"}) || !a.Created.Equal(first[0].Matched) {
		t.Errorf("first alert %+v, want story %d, article %d, [vtb], created when it matched (%v)", a, story, first[0].ID, first[0].Matched)
	}
	if a := al[1]; a.StoryID != story || a.ArticleID != later[1].ID || !slices.Equal(a.Topics, []string{"shanghai"}) || !a.Created.Equal(later[1].Matched) {
		t.Errorf("second alert %+v, want story %d, article %d, only [shanghai], created %v", a, story, later[1].ID, later[1].Matched)
	}
	if st, _ := h.store.Story(story); !slices.Equal(st.Topics, []string{"vtb", "shanghai"}) || st.Count != 4 {
		t.Errorf("story %+v, want 4 articles, alerted on vtb and shanghai", st)
	}
}

func TestFolderBacklogNeverAlerts(t *testing.T) {
	h := newHarness(t)
	ru := seedBody(t, "vtb-ai-centre-china.ru.txt")
	old := foldItem("https://one.example/vtb", vtbTitle, ru, h.now.Add(-72*time.Hour), "vtb")
	old.Backlog = true
	oldReprint := foldItem("https://two.example/1", "ВТБ рассматривает создание ИИ-центра", reprintOf(ru, "Источник: «Известия»."), h.now.Add(-70*time.Hour), "vtb", "shanghai")
	oldReprint.Backlog = true
	arts := h.queue(old, oldReprint)
	h.runFolder(h.folder(nil))
	story := h.article(arts[0].ID).StoryID
	if story == 0 || h.article(arts[1].ID).StoryID != story {
		t.Fatalf("backlog articles in stories %d and %d, want one story", story, h.article(arts[1].ID).StoryID)
	}
	if al := h.pending(); len(al) != 0 {
		t.Errorf("backlog alerted: %+v", al)
	}
	if st, _ := h.store.Story(story); len(st.Topics) != 0 {
		t.Errorf("story %+v marked alerted by backlog", st)
	}
	// A fresh reprint is news: the story never alerted on its topic.
	fresh := h.queue(foldItem("https://three.example/1", "ВТБ может открыть ИИ-центр в Китае", reprintOf(ru, "По материалам СМИ."), h.now, "vtb"))
	h.runFolder(h.folder(nil))
	if al := h.pending(); len(al) != 1 || al[0].StoryID != story || al[0].ArticleID != fresh[0].ID || !slices.Equal(al[0].Topics, []string{"vtb"}) {
		t.Errorf("alerts %+v, want one for the fresh reprint on vtb", al)
	}
}

// stageClock is a clock a test moves by hand.
type stageClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stageClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stageClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// A story takes in reprints for FoldWindow after its last one, and none
// after that, in the running stage and after a restart alike.
func TestFolderWindow(t *testing.T) {
	h := newHarness(t)
	ru := seedBody(t, "vtb-ai-centre-china.ru.txt")
	reprint := func(n int) storage.NewArticle {
		return foldItem(fmt.Sprintf("https://r%d.example/vtb", n), fmt.Sprintf("ВТБ и ИИ-центр в Китае (%d)", n), reprintOf(ru, fmt.Sprintf("Перепечатка %d.", n)), h.now)
	}
	start := h.now
	clock := &stageClock{t: start}
	f := h.folder(clock.Now)
	// The stage's own steps, so the clock moves only between batches.
	if err := f.load(); err != nil {
		t.Fatal(err)
	}
	foldAll := func() {
		t.Helper()
		for {
			_, more, err := f.step()
			if err != nil {
				t.Fatal(err)
			}
			if !more {
				return
			}
		}
	}
	storyOf := func(a storage.Article) uint64 { return h.article(a.ID).StoryID }

	a0 := h.queue(foldItem("https://one.example/vtb", vtbTitle, ru, h.now))
	foldAll()
	s0 := storyOf(a0[0])
	// Each reprint 71h after the last joins, although the second comes
	// 142h after the story began.
	at := start
	for n := 1; n <= 2; n++ {
		at = at.Add(FoldWindow - time.Hour)
		clock.Set(at)
		a := h.queue(reprint(n))
		foldAll()
		if got := storyOf(a[0]); got != s0 {
			t.Fatalf("reprint %d, 71h after the last, in story %d, want %d", n, got, s0)
		}
	}
	// 73h after the last reprint: a new story.
	at = at.Add(FoldWindow + time.Hour)
	clock.Set(at)
	a3 := h.queue(reprint(3))
	foldAll()
	s3 := storyOf(a3[0])
	if s3 == s0 {
		t.Fatalf("reprint 73h after the story's last article joined it (story %d)", s0)
	}
	// Just past the window, less than a minute after the stage last
	// pruned its index: the window still holds.
	clock.Set(at.Add(FoldWindow - 30*time.Second))
	other := h.queue(foldItem("https://www.finextra.com/newsarticle/1", "Putin orders Russian bank to cooperate with China on AI",
		seedBody(t, "finextra-sberbank-china-ai.en.txt"), h.now))
	foldAll()
	if got := storyOf(other[0]); got == s0 || got == s3 {
		t.Fatalf("a different event joined story %d", got)
	}
	clock.Set(at.Add(FoldWindow + 20*time.Second))
	late := h.queue(reprint(30))
	foldAll()
	if got := storyOf(late[0]); got == s3 {
		t.Errorf("reprint 72h20s after the story's last article joined it (story %d)", s3)
	}

	// After restarts: the stored signatures know when each story last took
	// an article.
	s := storyOf(late[0])
	at = at.Add(FoldWindow + 20*time.Second)
	for n := 4; n <= 5; n++ {
		at = at.Add(FoldWindow - time.Hour)
		clock.Set(at)
		a := h.queue(reprint(n))
		h.runFolder(h.folder(clock.Now))
		if got := storyOf(a[0]); got != s {
			t.Errorf("reprint %d, 71h after the last, after a restart, in story %d, want %d", n, got, s)
		}
	}
	at = at.Add(FoldWindow + time.Hour)
	clock.Set(at)
	a6 := h.queue(reprint(6))
	h.runFolder(h.folder(clock.Now))
	if got := storyOf(a6[0]); got == s0 || got == s3 || got == s {
		t.Errorf("reprint 73h after the last, after a restart, joined story %d", got)
	}
}

func TestFolderRebuildsItsIndexAtStart(t *testing.T) {
	h := newHarness(t)
	ru, en := seedBody(t, "vtb-ai-centre-china.ru.txt"), seedBody(t, "finextra-sberbank-china-ai.en.txt")
	first := h.queue(foldItem("https://one.example/vtb", vtbTitle, ru, h.now, "vtb"))
	h.runFolder(h.folder(nil))
	story := h.article(first[0].ID).StoryID

	// A restart: the same file, a new store and a new fold stage.
	h.reopen()
	f := h.folder(nil)
	arts := h.queue(
		foldItem("https://two.example/1", "ВТБ рассматривает создание ИИ-центра", reprintOf(ru, "Источник: «Известия»."), h.now, "vtb"),
		foldItem("https://www.finextra.com/newsarticle/1", "Putin orders Russian bank to cooperate with China on AI", en, h.now, "vtb"))
	h.runFolder(f)
	if got := h.article(arts[0].ID).StoryID; got != story {
		t.Errorf("reprint after a restart in story %d, want %d", got, story)
	}
	if got := h.article(arts[1].ID).StoryID; got == story || got == 0 {
		t.Errorf("different event in story %d", got)
	}
	if f.StoriesStarted() != 1 {
		t.Errorf("stories started after the restart %d, want 1", f.StoriesStarted())
	}
	if al := h.pending(); len(al) != 2 || al[1].ArticleID != arts[1].ID {
		t.Errorf("alerts %+v, want the first story's and the new one's only", al)
	}
}

// Two outlets carry only teasers, worded differently, of one story whose
// pages are near-identical: the story is folded on the pages' text, so it
// alerts once and its subscriber gets one message.
func TestTwoTeaserOnlyOutletsWithOneStoryAlertOnce(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	page1 := fs.handle("/one/vtb", servePage(newsPage("Деловой вестник", vtbTitle, vtbParagraphs)))
	title2 := "ВТБ может открыть ИИ-центр в Китае"
	page2 := fs.handle("/two/vtb-ai", servePage(newsPage("Утренняя газета", title2,
		slices.Concat(vtbParagraphs, []string{"Источник: «Известия»."}))))
	teaser1 := "ВТБ рассматривает создание ИИ-центра в Китае."
	teaser2 := "Банк ВТБ может открыть в Китае центр искусственного интеллекта (ИИ) для совместных исследований, пишут СМИ."
	sig1, ok1 := dedup.Sign(analysis.Analyze(vtbTitle, teaser1, page1).Stems())
	sig2, ok2 := dedup.Sign(analysis.Analyze(title2, teaser2, page2).Stems())
	if ok1 && ok2 && dedup.Similarity(sig1, sig2) >= dedup.Threshold {
		t.Fatalf("the teasers alone measure %.2f: the test needs teasers that would make two stories", dedup.Similarity(sig1, sig2))
	}
	h.source(fs.rss("/rss1", func() string { return rssDoc("Вестник", item{vtbTitle, page1, teaser1, h.now}) }))
	h.source(fs.rss("/rss2", func() string { return rssDoc("Газета", item{title2, page2, teaser2, h.now}) }))
	h.topic("vtb", "ВТБ Китай ИИ")
	h.user(1, storage.StatusApproved, false, "vtb")
	if rep := h.pass(false); rep.NewArticles != 2 || len(rep.Matches) != 2 || rep.Pages != 2 {
		t.Fatalf("pass: %d new, %d matches, %d pages; want 2 each", rep.NewArticles, len(rep.Matches), rep.Pages)
	}
	h.fold()
	if al := h.pending(); len(al) != 1 || !slices.Equal(al[0].Topics, []string{"vtb"}) {
		t.Fatalf("alerts %+v, want one on vtb", al)
	}
	h.settle()
	stories := h.stories()
	if len(stories) != 1 {
		t.Fatalf("%d stories, want 1", len(stories))
	}
	for _, st := range stories {
		if st.Count != 2 || !slices.Equal(st.Topics, []string{"vtb"}) {
			t.Errorf("story %+v, want both articles, alerted once on vtb", st)
		}
		for _, id := range st.Articles {
			if a := h.article(id); a.FullText == "" {
				t.Errorf("article %d has no full text", id)
			}
		}
	}
	if fs.Hits("/one/vtb") != 1 || fs.Hits("/two/vtb-ai") != 1 {
		t.Errorf("pages fetched %d and %d times, want once each", fs.Hits("/one/vtb"), fs.Hits("/two/vtb-ai"))
	}
	if msgs := outboxOf(t, h.store); len(msgs) != 1 || len(msgs[1]) != 1 || !slices.Equal(msgs[1][0].Topics, []string{"vtb"}) {
		t.Errorf("outbox %+v, want one message for user 1 on vtb", msgs)
	}
}

func TestFanoutRecipients(t *testing.T) {
	h := newHarness(t)
	ru, en := seedBody(t, "vtb-ai-centre-china.ru.txt"), seedBody(t, "finextra-sberbank-china-ai.en.txt")
	h.user(1, storage.StatusApproved, false, "vtb")
	h.user(2, storage.StatusApproved, false, "vtb", "shanghai")
	h.user(3, storage.StatusApproved, false, "oil")
	h.user(4, storage.StatusPending, false, "vtb")
	h.user(5, storage.StatusApproved, true, "vtb") // blocked the bot
	h.user(6, storage.StatusBanned, false, "shanghai")
	h.user(7, storage.StatusApproved, false, "shanghai")

	fanOut := func() {
		t.Helper()
		al := h.pending()
		done := make([]storage.Summarized, len(al))
		for i, a := range al {
			done[i] = storage.Summarized{Alert: a}
		}
		if err := h.store.SaveSummaries(done, h.now, storage.Usage{}); err != nil {
			t.Fatal(err)
		}
		f := &Fanout{Store: h.store, Wake: NewSignal(), Next: NewSignal(), Now: func() time.Time { return h.now }, Log: discard()}
		stop := h.start(f.Run)
		h.waitCounts("fan-out", func(c storage.Counts) bool { return c.Fanout == 0 })
		stop()
		if !notified(f.Next) {
			t.Error("the deliver stage was not woken")
		}
	}
	arts := h.queue(
		foldItem("https://one.example/vtb", vtbTitle, ru, h.now, "shanghai", "vtb"),
		foldItem("https://www.finextra.com/newsarticle/1", "Putin orders Russian bank to cooperate with China on AI", en, h.now, "vtb"))
	h.runFolder(h.folder(nil))
	s1, s2 := h.article(arts[0].ID).StoryID, h.article(arts[1].ID).StoryID
	fanOut()

	type msg struct {
		story  uint64
		topics string
	}
	check := func(want map[int64][]msg) {
		t.Helper()
		got := outboxOf(t, h.store)
		for id := range got {
			if want[id] == nil {
				t.Errorf("user %d got %d messages, want none", id, len(got[id]))
			}
		}
		for id, w := range want {
			var g []msg
			for _, m := range got[id] {
				g = append(g, msg{m.StoryID, strings.Join(m.Topics, ",")})
				if !m.Created.Equal(h.now) {
					t.Errorf("message %+v not created at %v", m, h.now)
				}
			}
			if !slices.Equal(g, w) {
				t.Errorf("user %d messages %v, want %v", id, g, w)
			}
		}
	}
	check(map[int64][]msg{
		1: {{s1, "vtb"}, {s2, "vtb"}},
		2: {{s1, "shanghai,vtb"}, {s2, "vtb"}},
		7: {{s1, "shanghai"}},
	})

	// A reprint alerts the first story on one more topic: user 1, who
	// follows it now, has the story queued already and their message
	// gains the topic; user 8 gets the story; nobody gets it twice.
	if _, err := h.store.UpdateUser(1, func(u *storage.User) { u.Topics = append(u.Topics, "huawei") }); err != nil {
		t.Fatal(err)
	}
	h.user(8, storage.StatusApproved, false, "huawei")
	h.queue(foldItem("https://two.example/1", "ВТБ рассматривает создание ИИ-центра", reprintOf(ru, "Источник: «Известия»."), h.now, "shanghai", "vtb", "huawei"))
	h.runFolder(h.folder(nil))
	if al := h.pending(); len(al) != 1 || al[0].StoryID != s1 || !slices.Equal(al[0].Topics, []string{"huawei"}) {
		t.Fatalf("reprint alerts %+v, want one on story %d for huawei", al, s1)
	}
	fanOut()
	check(map[int64][]msg{
		1: {{s1, "vtb,huawei"}, {s2, "vtb"}},
		2: {{s1, "shanghai,vtb"}, {s2, "vtb"}},
		7: {{s1, "shanghai"}},
		8: {{s1, "huawei"}},
	})
}
