package jobs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"dozor/internal/fetch"
	"dozor/internal/summary"
	"dozor/storage"
)

// feedServer serves RSS documents by path and answers conditional GETs
// like a well-behaved site.
type feedServer struct {
	*httptest.Server
	mu      sync.Mutex
	feeds   map[string]func(w http.ResponseWriter, r *http.Request)
	hits    map[string]int
	parsed  atomic.Int64 // 200 responses with a body
	not304s atomic.Int64
}

func newFeedServer(t testing.TB) *feedServer {
	fs := &feedServer{feeds: map[string]func(http.ResponseWriter, *http.Request){}, hits: map[string]int{}}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		h := fs.feeds[r.URL.Path]
		fs.hits[r.URL.Path]++
		fs.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *feedServer) handle(path string, h func(http.ResponseWriter, *http.Request)) string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.feeds[path] = h
	return fs.URL + path
}

func (fs *feedServer) Hits(path string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.hits[path]
}

// rss serves a feed with an ETag, answering 304 when it matches.
func (fs *feedServer) rss(path string, body func() string) string {
	return fs.handle(path, func(w http.ResponseWriter, r *http.Request) {
		b := body()
		etag := fmt.Sprintf(`"%x"`, len(b)*31+strings.Count(b, "<item>"))
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fs.parsed.Add(1)
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		fmt.Fprint(w, b)
	})
}

type item struct {
	title, link, text string
	published         time.Time
}

func rssDoc(title string, items ...item) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>` + title + `</title><link>https://news.example/</link>`)
	for _, it := range items {
		fmt.Fprintf(&b, "<item><title>%s</title><link>%s</link><description><![CDATA[%s]]></description>", it.title, it.link, it.text)
		if !it.published.IsZero() {
			fmt.Fprintf(&b, "<pubDate>%s</pubDate>", it.published.Format(time.RFC1123Z))
		}
		b.WriteString("</item>")
	}
	b.WriteString("</channel></rss>")
	return b.String()
}

// harness is a real store in a temp dir and the pipeline's stages over
// it, with a real fetcher allowed onto loopback and extractive summaries.
type harness struct {
	t     *testing.T
	store *storage.Store
	p     *Pipeline
	w     *Watcher
	now   time.Time
}

func newHarness(t *testing.T) *harness {
	st, err := storage.Open(filepath.Join(t.TempDir(), "dozor.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, store: st, now: time.Now().Truncate(time.Second)}
	h.p = New(Config{
		Store:      st,
		Fetcher:    fetch.New(fetch.Options{AllowPrivate: true, Timeout: 2 * time.Second, MaxBodyBytes: 1 << 20}),
		Summarizer: &summary.Summarizer{},
		Backlog:    24 * time.Hour, FullText: true, FetchWorkers: 4,
		SummaryLang: "ru", Deadline: time.Minute, Log: discard(),
	})
	h.w = h.p.Watcher
	h.w.Now = func() time.Time { return h.now }
	return h
}

func (h *harness) source(url string) storage.Source {
	h.t.Helper()
	src, _, err := h.store.AddSource(storage.NewSource{URL: url}, h.now)
	if err != nil {
		h.t.Fatal(err)
	}
	return src
}

func (h *harness) topic(name, q string) {
	h.t.Helper()
	if _, err := h.store.PutTopic(name, q, h.now); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) pass(force bool) *Report {
	h.t.Helper()
	rep, err := h.w.Pass(context.Background(), PassOptions{Force: force})
	if err != nil {
		h.t.Fatal(err)
	}
	return rep
}

// settle runs every stage but delivery until nothing is queued before the
// outbox: no page, nothing to fold, summarise or fan out.
func (h *harness) settle() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.p.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := h.store.Count()
		if err != nil {
			h.t.Fatal(err)
		}
		if c.PagesUrgent+c.PagesBulk+c.Fold+c.Alerts+c.Fanout == 0 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			h.t.Fatalf("pipeline did not settle: %+v", c)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		h.t.Fatal(err)
	}
}

// stories returns every stored story by id.
func (h *harness) stories() map[uint64]storage.Story {
	h.t.Helper()
	out := map[uint64]storage.Story{}
	err := h.store.ArticlesSince(time.Unix(0, 0), func(a *storage.Article) bool {
		if a.StoryID != 0 {
			st, err := h.store.Story(a.StoryID)
			if err != nil {
				h.t.Fatal(err)
			}
			out[st.ID] = st
		}
		return true
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// alerted counts the stories that alerted, and on how many topics in all.
func (h *harness) alerted() (stories, topics int) {
	for _, st := range h.stories() {
		if len(st.Topics) > 0 {
			stories++
			topics += len(st.Topics)
		}
	}
	return stories, topics
}

func (h *harness) article(id uint64) storage.Article {
	h.t.Helper()
	a, err := h.store.Article(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

func seed(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join("..", "internal", "testdata", "seeds", name))
	if err != nil {
		t.Fatalf("seed article missing: %v", err)
	}
	return string(b)
}

func TestWatcherBacklogConditionalGetAndNewItems(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	items := []item{
		{"ВТБ рассматривает создание ИИ-центра в Китае", fs.URL + "/vtb?utm_source=tg", "Банк ВТБ прорабатывает создание центра ИИ в Китае.", h.now.Add(-2 * time.Hour)},
		{"ВТБ открыл офис в Китае в прошлом году", fs.URL + "/old", "ВТБ и Китай: архивная новость про ИИ.", h.now.Add(-72 * time.Hour)},
		{"Курс рубля", fs.URL + "/rub", "Рубль укрепился.", h.now.Add(-time.Hour)},
	}
	var mu sync.Mutex
	url := fs.rss("/rss", func() string { mu.Lock(); defer mu.Unlock(); return rssDoc("Новости", items...) })
	h.source(url)
	h.topic("vtb-china", "ВТБ Китай ИИ")

	rep := h.pass(false)
	if rep.NewArticles != 3 || len(rep.Matches) != 2 {
		t.Fatalf("first pass: %d new, %d matches; want 3 and 2", rep.NewArticles, len(rep.Matches))
	}
	for _, m := range rep.Matches {
		old := strings.Contains(m.Article.Title, "прошлом году")
		if m.Article.Backlog != old {
			t.Errorf("%q: backlog = %v; only the 72h-old item is backlog", m.Article.Title, m.Article.Backlog)
		}
		if !old && m.Article.URL != fs.URL+"/vtb" {
			t.Errorf("URL not canonical: %s", m.Article.URL)
		}
	}
	// The fresh match waits for its page in the urgent lane; the teaser
	// feed's other fresh item in the bulk lane; backlog gets no page.
	urgent, _ := h.store.QueuedPages(storage.PageUrgent, 0)
	bulk, _ := h.store.QueuedPages(storage.PageBulk, 0)
	if len(urgent) != 1 || len(bulk) != 1 || rep.Pages != 2 {
		t.Fatalf("pages queued: urgent %v, bulk %v, report %d", urgent, bulk, rep.Pages)
	}
	if a := h.article(urgent[0].ArticleID); !strings.Contains(a.Title, "ИИ-центра") || a.Matched.IsZero() {
		t.Errorf("urgent page is %+v", a)
	}
	if a := h.article(bulk[0].ArticleID); a.Title != "Курс рубля" {
		t.Errorf("bulk page is %q", a.Title)
	}
	h.settle()
	if stories, _ := h.alerted(); stories != 1 {
		t.Errorf("first fetch: %d stories alerted, want 1 (the 72h-old item is backlog)", stories)
	}

	// Unchanged feed: a 304, nothing parsed.
	parsed := fs.parsed.Load()
	rep = h.pass(false)
	if rep.NotModified != 1 || rep.NewArticles != 0 || fs.parsed.Load() != parsed {
		t.Fatalf("second pass: %+v", rep)
	}

	// A new item, even an old one, is news once the source is known.
	mu.Lock()
	items = append(items, item{"ВТБ и Китай договорились о сотрудничестве в сфере ИИ", fs.URL + "/new", "Новая договорённость ВТБ в Китае по ИИ.", h.now.Add(-48 * time.Hour)})
	mu.Unlock()
	rep = h.pass(false)
	if rep.NewArticles != 1 || len(rep.Matches) != 1 || rep.Matches[0].Article.Backlog {
		t.Fatalf("third pass: %+v", rep)
	}
	h.settle()
	if stories, _ := h.alerted(); stories != 2 {
		t.Errorf("after the third pass %d stories alerted, want 2", stories)
	}
	src, _ := h.store.FindSource(url)
	if src.Items != 4 || src.ETag == "" || src.Failures != 0 || src.LastSuccess.IsZero() || src.MedianText == 0 || src.MedianText >= TeaserChars {
		t.Errorf("source state: %+v", src)
	}
}

func TestWatcherFailuresBackOffAndHoldNobodyUp(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	good := fs.rss("/good", func() string {
		return rssDoc("Good", item{"Sberbank and China", "https://good.example/1", "Sberbank works with China on AI.", h.now})
	})
	bad := map[string]string{
		"404": fs.URL + "/missing",
		"500": fs.handle("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }),
		"html": fs.handle("/html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<!doctype html><html><body><h1>Welcome</h1></body></html>")
		}),
		"empty": fs.handle("/empty", func(w http.ResponseWriter, r *http.Request) {}),
		"junk": fs.handle("/junk", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte{0x00, 0xff, 0x13, 0x37, 0x89, 0xfe, 0x00})
		}),
		"slow": fs.handle("/slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}),
		"loop": fs.handle("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) }),
	}
	// A feed cut off mid-item is malformed, not lost: its items are
	// recovered and the source says it is broken.
	truncated := fs.handle("/broken", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><item><title>Sberbank and China again</title><link>https://good.example/2</link></item><item><title>x</ti`)
	})
	h.source(good)
	h.source(truncated)
	for _, u := range bad {
		h.source(u)
	}
	h.topic("sber", "Sberbank China")
	h.w.Fetcher = fetch.New(fetch.Options{AllowPrivate: true, Timeout: 500 * time.Millisecond, MaxBodyBytes: 1 << 20})

	rep := h.pass(false)
	if len(rep.Failures) != len(bad) || len(rep.Matches) != 2 {
		t.Fatalf("failures=%d matches=%d, want %d and 2", len(rep.Failures), len(rep.Matches), len(bad))
	}
	if src, _ := h.store.FindSource(truncated); src.Failures != 0 || src.Broken == "" {
		t.Errorf("truncated feed: %+v", src)
	}
	for name, u := range bad {
		src, _ := h.store.FindSource(u)
		if src.Failures != 1 || src.LastError == "" || !src.NextDue.Equal(h.now.Add(time.Minute)) {
			t.Errorf("%s: state %+v", name, src)
		}
	}

	// Not due yet: skipped, not fetched.
	hits := fs.Hits("/500")
	h.now = h.now.Add(30 * time.Second)
	rep = h.pass(false)
	if fs.Hits("/500") != hits || rep.Skipped != len(bad) {
		t.Errorf("backing-off source fetched early: hits %d→%d, skipped %d", hits, fs.Hits("/500"), rep.Skipped)
	}
	// Backoff doubles, and never exceeds an hour.
	for i := 2; i <= 9; i++ {
		h.now = h.now.Add(2 * time.Hour)
		h.pass(false)
	}
	src, _ := h.store.FindSource(bad["500"])
	if src.Failures != 9 || src.NextDue.Sub(src.LastAttempt) != time.Hour {
		t.Errorf("after 9 failures: failures=%d wait=%v", src.Failures, src.NextDue.Sub(src.LastAttempt))
	}
	if !strings.Contains(src.LastError, "500") {
		t.Errorf("last error should say what failed: %q", src.LastError)
	}
}

// A pass cut short by Ctrl-C or a shutdown is not the sources' fault:
// nothing is recorded against the sources in flight, and they are fetched
// as usual next time.
func TestWatcherCancelledPassIsNoFailure(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	arrived := make(chan struct{}, 8)
	var slow []string
	// One host: one request is in flight, the others wait for its turn.
	for i := range 4 {
		slow = append(slow, fs.handle(fmt.Sprintf("/slow%d", i), func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			<-r.Context().Done()
		}))
		h.source(slow[i])
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	rep, err := h.w.Pass(ctx, PassOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("pass: %v, want context.Canceled", err)
	}
	if len(rep.Failures) != 0 {
		t.Errorf("cancelled fetches reported as failures: %+v", rep.Failures)
	}
	for _, u := range slow {
		src, _ := h.store.FindSource(u)
		if src.Failures != 0 || src.LastError != "" || !src.NextDue.IsZero() || !src.LastAttempt.IsZero() {
			t.Errorf("%s recorded as failed by a cancelled pass: %+v", u, src)
		}
	}
}

func TestWatcherHonoursRetryAfter(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	u := fs.handle("/busy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7200")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	})
	h.source(u)
	h.pass(true)
	src, _ := h.store.FindSource(u)
	if !src.HoldUntil.Equal(h.now.Add(2 * time.Hour)) {
		t.Fatalf("hold until %v, want now+2h", src.HoldUntil)
	}
	h.now = h.now.Add(time.Hour)
	h.pass(true) // even a forced pass waits for Retry-After
	if fs.Hits("/busy") != 1 {
		t.Errorf("hits = %d: Retry-After ignored", fs.Hits("/busy"))
	}
}

// Which pages are fetched: only where the page can change the outcome.
func TestWatcherPageLanes(t *testing.T) {
	long := strings.Repeat("Рынок облигаций оживился после решения регулятора. ", 40) // ~2,000 characters
	for _, tc := range []struct {
		name       string
		mode       string // the source's fulltext=
		text       string // each item's feed text
		fullText   bool   // FETCH_FULL_TEXT
		wantUrgent int    // the matched item
		wantBulk   int    // the two unmatched ones
	}{
		{"teasers, auto", "", "Короткий анонс.", true, 1, 2},
		{"full texts, auto", "", long, true, 1, 0},
		{"full texts, on", storage.FullTextOn, long, true, 1, 2},
		{"teasers, off", storage.FullTextOff, "Короткий анонс.", true, 0, 0},
		{"teasers, FETCH_FULL_TEXT=false", "", "Короткий анонс.", false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.w.FullText = tc.fullText
			fs := newFeedServer(t)
			url := fs.rss("/rss", func() string {
				return rssDoc("Лента",
					item{"ВТБ и Китай", fs.URL + "/1", tc.text + " ВТБ Китай.", h.now},
					item{"Курс рубля", fs.URL + "/2", tc.text, h.now},
					item{"Погода", fs.URL + "/3", tc.text, h.now})
			})
			if _, _, err := h.store.AddSource(storage.NewSource{URL: url, FullText: tc.mode}, h.now); err != nil {
				t.Fatal(err)
			}
			h.topic("vtb", "ВТБ Китай")
			h.pass(false)
			urgent, _ := h.store.QueuedPages(storage.PageUrgent, 0)
			bulk, _ := h.store.QueuedPages(storage.PageBulk, 0)
			c, _ := h.store.Count()
			if len(urgent) != tc.wantUrgent || len(bulk) != tc.wantBulk || c.Fold != 3-tc.wantUrgent-tc.wantBulk {
				t.Errorf("urgent %d, bulk %d, straight to fold %d; want %d, %d, %d",
					len(urgent), len(bulk), c.Fold, tc.wantUrgent, tc.wantBulk, 3-tc.wantUrgent-tc.wantBulk)
			}
		})
	}
}

func TestWatcherFoldsReprintsAcrossSources(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	ru := seed(t, "vtb-ai-centre-china.ru.txt")
	body := strings.Join(strings.SplitN(ru, "\n", 3)[2:], "")
	orig := item{"ВТБ рассматривает создание ИИ-центра в Китае для совместных исследований", "https://one.example/vtb", body, h.now}
	reprint := item{"ВТБ рассматривает создание ИИ-центра в Китае", "https://two.example/news/123", body + " Источник: «Известия».", h.now}
	h.source(fs.rss("/one", func() string { return rssDoc("One", orig) }))
	h.source(fs.rss("/two", func() string { return rssDoc("Two", reprint) }))
	h.topic("vtb", "ВТБ Китай ИИ")
	rep := h.pass(false)
	if rep.NewArticles != 2 {
		t.Fatalf("new articles %d, want 2", rep.NewArticles)
	}
	h.settle()
	if n := len(h.stories()); n != 1 {
		t.Errorf("%d stories, want 1", n)
	}
	if stories, topics := h.alerted(); stories != 1 || topics != 1 {
		t.Errorf("alerted %d stories on %d topics, want one", stories, topics)
	}
}

func TestWatcherSeedsMatchAsTwoStories(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	ru, en := seed(t, "vtb-ai-centre-china.ru.txt"), seed(t, "finextra-sberbank-china-ai.en.txt")
	h.source(fs.rss("/ru", func() string {
		return rssDoc("RU", item{"ВТБ рассматривает создание ИИ-центра в Китае", "https://ru.example/vtb", ru, h.now})
	}))
	h.source(fs.rss("/en", func() string {
		return rssDoc("Finextra", item{"Putin orders Russian bank to cooperate with China on AI", "https://www.finextra.com/newsarticle/1", en, h.now})
	}))
	h.topic("banks-china-ai", "(ВТБ OR Сбербанк OR Sberbank OR VTB) (Китай OR China) (ИИ OR AI)")
	h.topic("finextra-only", "site:finextra.com lang:en")
	rep := h.pass(false)
	if len(rep.Matches) != 2 {
		t.Fatalf("matches %d, want 2", len(rep.Matches))
	}
	for _, m := range rep.Matches {
		want := "banks-china-ai"
		if m.Article.Lang == "en" {
			want = "banks-china-ai,finextra-only"
		}
		if got := strings.Join(m.Topics, ","); got != want {
			t.Errorf("%s article matched %q, want %q", m.Article.Lang, got, want)
		}
	}
	h.settle()
	if stories, topics := h.alerted(); stories != 2 || topics != 3 {
		t.Errorf("alerted %d stories on %d topics, want 2 and 3", stories, topics)
	}
}

func TestWatcherDecodesWindows1251(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	title := "ВТБ уже имеет представительство в Шанхае"
	doc := strings.Replace(rssDoc("Лента", item{title, "https://ru.example/1", "Huawei является партнером ВТБ.", h.now}), "UTF-8", "windows-1251", 1)
	enc, err := charmap.Windows1251.NewEncoder().String(doc)
	if err != nil {
		t.Fatal(err)
	}
	h.source(fs.handle("/cp1251", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml") // no charset in the header
		fmt.Fprint(w, enc)
	}))
	h.topic("shanghai", "Шанхай Huawei")
	rep := h.pass(false)
	if len(rep.Matches) != 1 || rep.Matches[0].Article.Title != title {
		t.Fatalf("matches: %+v failures: %+v", rep.Matches, rep.Failures)
	}
}
