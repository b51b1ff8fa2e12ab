package jobs

import (
	"context"
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

type harness struct {
	t     *testing.T
	store *storage.Store
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
	h.w = &Watcher{
		Store:   st,
		Fetcher: fetch.New(fetch.Options{AllowPrivate: true, Timeout: 2 * time.Second, MaxBodyBytes: 1 << 20}),
		Backlog: 24 * time.Hour, Workers: 4, Log: discard(),
		Now: func() time.Time { return h.now },
	}
	return h
}

func (h *harness) source(url string) storage.Source {
	src, _, err := h.store.AddSource(url, "", h.now)
	if err != nil {
		h.t.Fatal(err)
	}
	return src
}

func (h *harness) topic(name, q string) {
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
		{"ВТБ рассматривает создание ИИ-центра в Китае", "https://news.example/vtb?utm_source=tg", "Банк ВТБ прорабатывает создание центра ИИ в Китае.", h.now.Add(-2 * time.Hour)},
		{"ВТБ открыл офис в Китае в прошлом году", "https://news.example/old", "ВТБ и Китай: архивная новость про ИИ.", h.now.Add(-72 * time.Hour)},
		{"Курс рубля", "https://news.example/rub", "Рубль укрепился.", h.now.Add(-time.Hour)},
	}
	var mu sync.Mutex
	url := fs.rss("/rss", func() string { mu.Lock(); defer mu.Unlock(); return rssDoc("Новости", items...) })
	h.source(url)
	h.topic("vtb-china", "ВТБ Китай ИИ")

	rep := h.pass(false)
	if rep.NewArticles != 3 || len(rep.Matches) != 2 {
		t.Fatalf("first pass: %d new, %d matches; want 3 and 2", rep.NewArticles, len(rep.Matches))
	}
	alerts := 0
	for _, m := range rep.Matches {
		if m.Alert != nil {
			alerts++
			if !strings.Contains(m.Article.Title, "ИИ-центра") {
				t.Errorf("alert for the wrong article: %q", m.Article.Title)
			}
			if m.Article.URL != "https://news.example/vtb" {
				t.Errorf("URL not canonical: %s", m.Article.URL)
			}
		}
	}
	if alerts != 1 {
		t.Errorf("first fetch alerts = %d, want 1 (the 72h-old item is backlog)", alerts)
	}

	// Unchanged feed: a 304, nothing parsed.
	parsed := fs.parsed.Load()
	rep = h.pass(false)
	if rep.NotModified != 1 || rep.NewArticles != 0 || fs.parsed.Load() != parsed {
		t.Fatalf("second pass: %+v", rep)
	}

	// A new item, even an old one, alerts once the source is known.
	mu.Lock()
	items = append(items, item{"ВТБ и Китай договорились о сотрудничестве в сфере ИИ", "https://news.example/new", "Новая договорённость ВТБ в Китае по ИИ.", h.now.Add(-48 * time.Hour)})
	mu.Unlock()
	rep = h.pass(false)
	if rep.NewArticles != 1 || len(rep.Matches) != 1 || rep.Matches[0].Alert == nil {
		t.Fatalf("third pass: %+v", rep)
	}
	src, _ := h.store.FindSource(url)
	if src.Items != 4 || src.ETag == "" || src.Failures != 0 || src.LastSuccess.IsZero() {
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
		"xml": fs.handle("/broken", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><item><title>x</ti`)
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
	h.source(good)
	for _, u := range bad {
		h.source(u)
	}
	h.topic("sber", "Sberbank China")
	h.w.Fetcher = fetch.New(fetch.Options{AllowPrivate: true, Timeout: 500 * time.Millisecond, MaxBodyBytes: 1 << 20})

	rep := h.pass(false)
	if len(rep.Failures) != len(bad) || len(rep.Matches) != 1 {
		t.Fatalf("failures=%d matches=%d, want %d and 1", len(rep.Failures), len(rep.Matches), len(bad))
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
	if rep.NewArticles != 2 || rep.NewStories != 1 {
		t.Fatalf("new articles %d, stories %d: want 2 and 1", rep.NewArticles, rep.NewStories)
	}
	alerts := 0
	for _, m := range rep.Matches {
		if m.Alert != nil {
			alerts++
		}
	}
	if alerts != 1 {
		t.Errorf("alerts = %d, want one per story", alerts)
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
	if rep.NewStories != 2 || len(rep.Matches) != 2 {
		t.Fatalf("stories %d matches %d, want 2 and 2", rep.NewStories, len(rep.Matches))
	}
	for _, m := range rep.Matches {
		if m.Alert == nil {
			t.Errorf("%q did not alert", m.Article.Title)
		}
		want := "banks-china-ai"
		if m.Article.Lang == "en" {
			want = "banks-china-ai,finextra-only"
		}
		if got := strings.Join(m.Topics, ","); got != want {
			t.Errorf("%s article matched %q, want %q", m.Article.Lang, got, want)
		}
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
