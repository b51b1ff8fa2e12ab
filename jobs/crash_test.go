package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dozor/internal/analysis"
	"dozor/internal/dedup"
	"dozor/internal/fetch"
	"dozor/internal/summary"
	"dozor/storage"
)

// Crash tests: the test binary runs itself again as TestCrashHelperProcess,
// a child that opens a bbolt file and runs one stage on it against servers
// the parent runs. The parent cannot look at the file while the child
// holds its lock, so it decides when to kill the child (SIGKILL) from what
// its servers observe: the requests they hold open, and the queue counts
// the child posts after each commit of its stage. It kills the child once
// the stage has committed part of its queue and has the rest in flight,
// then reopens the file, runs the rest of the pipeline to completion and
// checks that nothing was lost or done twice, and that the child's work
// was reused rather than done again.

const (
	crashEnvStage  = "DOZOR_CRASH_STAGE"  // the stage the child runs
	crashEnvDB     = "DOZOR_CRASH_DB"     // the bbolt file
	crashEnvReport = "DOZOR_CRASH_REPORT" // where the child posts its queue counts after each commit
	crashEnvLLM    = "DOZOR_CRASH_LLM"    // the fake LLM's base URL; "" for extractive summaries

	crashFetchWorkers = 4 // FETCH_CONCURRENCY: pages in flight
	crashLLMWorkers   = 2 // LLM_CONCURRENCY: model calls in flight
	crashLang         = "ru"
	crashModel        = "crash-model"
)

// crashConfig is the pipeline of both the child and the parent.
func crashConfig(t testing.TB, st *storage.Store, llmURL string, log *slog.Logger) Config {
	sum := &summary.Summarizer{Logger: log}
	if llmURL != "" {
		llm, err := summary.NewLLM(summary.Config{
			BaseURL: llmURL + "/v1", Model: crashModel, Language: crashLang,
			Concurrency: crashLLMWorkers, CallTimeout: 30 * time.Second, MaxRetries: -1, Logger: log,
		})
		if err != nil {
			t.Fatal(err)
		}
		sum = &summary.Summarizer{LLM: llm, Deadline: time.Minute, Logger: log}
	}
	return Config{
		Store:      st,
		Fetcher:    fetch.New(fetch.Options{AllowPrivate: true, Timeout: 30 * time.Second, MaxBodyBytes: 1 << 20}),
		Summarizer: sum,
		Backlog:    24 * time.Hour, FullText: true, FetchWorkers: crashFetchWorkers,
		SummaryLang: crashLang, Deadline: 10 * time.Minute, SummaryWorker: crashLLMWorkers,
		Log: log,
	}
}

func crashDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestCrashHelperProcess is the child of the crash tests: it runs one
// stage until it is killed, and posts the store's counts to the parent
// after each commit the stage makes.
func TestCrashHelperProcess(t *testing.T) {
	stage := os.Getenv(crashEnvStage)
	if stage == "" {
		t.Skip("runs only as the crash tests' child process")
	}
	st, err := storage.Open(os.Getenv(crashEnvDB), storage.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p := New(crashConfig(t, st, os.Getenv(crashEnvLLM), log))
	committed := crashReporter(st, os.Getenv(crashEnvReport))
	ctx := context.Background()
	switch stage {
	case "watch":
		p.Watcher.Queued = committed.Notify
		_, err = p.Watcher.Pass(ctx, PassOptions{})
	case "page":
		p.Pager.Next = committed
		err = p.Pager.Run(ctx)
	case "fold":
		p.Folder.Next = committed
		err = p.Folder.Run(ctx)
	case "summarize":
		p.Summaries.Next = committed
		err = p.Summaries.Run(ctx)
	case "fanout":
		p.Fanout.Next = committed
		err = p.Fanout.Run(ctx)
	default:
		t.Fatalf("unknown stage %q", stage)
	}
	// Every stage runs until the kill: the watch pass waits for feeds the
	// parent holds open, the other stages run until their ctx ends.
	t.Fatalf("stage %s ended before the kill: %v", stage, err)
}

// crashReporter returns the Signal a child's stage notifies after each
// commit; every wake-up posts the store's counts to url. Wake-ups that
// arrive while a post is on its way fold into one, and the counts are
// read after the wake-up, so the last commit is always reported.
func crashReporter(st *storage.Store, url string) Signal {
	sig := NewSignal()
	go func() {
		for range sig {
			c, err := st.Count()
			if err != nil {
				fmt.Fprintln(os.Stderr, "crash reporter:", err)
				continue
			}
			body, _ := json.Marshal(c)
			resp, err := http.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				fmt.Fprintln(os.Stderr, "crash reporter:", err)
				continue
			}
			resp.Body.Close()
		}
	}()
	return sig
}

// crashReports is the parent's end of the child's reports.
type crashReports struct {
	url  string
	wake Signal
	mu   sync.Mutex
	last storage.Counts
	n    int
}

func newCrashReports(t *testing.T, wake Signal) *crashReports {
	r := &crashReports{wake: wake}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var c storage.Counts
		if err := json.NewDecoder(req.Body).Decode(&c); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.last, r.n = c, r.n+1
		r.mu.Unlock()
		r.wake.Notify()
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// Last is the child's last report and how many it sent.
func (r *crashReports) Last() (storage.Counts, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.n
}

// crashGate decides which requests a server answers while the child
// lives: the first limit requests of each key (a host), then every
// further one is held open until the child is killed. After Open it
// answers everything.
type crashGate struct {
	limit   int
	wake    Signal
	ctx     context.Context // the test's: held requests let go at its end
	mu      sync.Mutex
	served  map[string]int
	held    int
	open    bool
	release chan struct{}
}

func newCrashGate(t *testing.T, limit int, wake Signal) *crashGate {
	return &crashGate{limit: limit, wake: wake, ctx: t.Context(), served: map[string]int{}, release: make(chan struct{})}
}

// pass reports whether to answer r. A request over the limit is held until
// the child is gone, then refused.
func (g *crashGate) pass(key string, r *http.Request) bool {
	g.mu.Lock()
	if g.open || g.served[key] < g.limit {
		g.served[key]++
		g.mu.Unlock()
		return true
	}
	g.held++
	g.mu.Unlock()
	g.wake.Notify()
	select {
	case <-r.Context().Done():
	case <-g.release:
	case <-g.ctx.Done():
	}
	return false
}

// Held is how many requests the gate held.
func (g *crashGate) Held() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}

// Open answers every request from now on.
func (g *crashGate) Open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open {
		g.open = true
		close(g.release)
	}
}

// crashSite serves h on hosts loopback addresses, 127.0.0.1 up: the
// fetcher and the page stage take turns by host name, so each host needs
// an address of its own. It returns their base URLs.
func crashSite(t *testing.T, hosts int, h http.Handler) []string {
	var urls []string
	for i := range hosts {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i+1))
		if err != nil {
			t.Fatalf("listen on 127.0.0.%d: %v", i+1, err)
		}
		srv := httptest.NewUnstartedServer(h)
		srv.Listener.Close()
		srv.Listener = ln
		srv.Start()
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	return urls
}

// crashChild is the child process.
type crashChild struct {
	t      *testing.T
	stage  string
	cmd    *exec.Cmd
	out    *crashBuffer
	exited chan struct{}
	err    error
}

type crashBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *crashBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *crashBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startCrashChild runs stage on the bbolt file at db in a child process.
func startCrashChild(t *testing.T, stage, db string, reports *crashReports, llmURL string) *crashChild {
	t.Helper()
	c := &crashChild{t: t, stage: stage, out: &crashBuffer{}, exited: make(chan struct{})}
	// The timeout ends a child whose parent died before killing it.
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.timeout=2m")
	c.cmd.Env = append(os.Environ(),
		crashEnvStage+"="+stage, crashEnvDB+"="+db, crashEnvReport+"="+reports.url, crashEnvLLM+"="+llmURL)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.exited
	})
	return c
}

// killWhen kills the child with SIGKILL as soon as ready holds. ready is
// checked again at every wake-up (a server held a request, the child
// reported a commit); the timer only turns a hang into a failure.
func (c *crashChild) killWhen(wake Signal, what string, ready func() bool) {
	c.t.Helper()
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	for !ready() {
		select {
		case <-wake:
		case <-c.exited:
			c.t.Fatalf("%s: the child exited before %s: %v; output:\n%s", c.stage, what, c.err, c.out)
		case <-timeout.C:
			c.t.Fatalf("%s: no %s within a minute; child output:\n%s", c.stage, what, c.out)
		}
	}
	if err := c.cmd.Process.Kill(); err != nil {
		c.t.Fatal(err)
	}
	<-c.exited
}

// crashOpen opens the bbolt file in the parent.
func crashOpen(t *testing.T, path string, opts storage.Options) *storage.Store {
	t.Helper()
	st, err := storage.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func crashClose(t *testing.T, st *storage.Store) {
	t.Helper()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// crashRunUntil runs run until the store's counts satisfy done.
func crashRunUntil(t *testing.T, st *storage.Store, what string, run func(context.Context) error, done func(storage.Counts) bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := st.Count()
		if err != nil {
			t.Fatal(err)
		}
		if done(c) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not done within a minute: %+v", what, c)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func crashDrained(c storage.Counts) bool {
	return c.PagesUrgent+c.PagesBulk+c.Fold+c.Alerts+c.Fanout == 0
}

// crashSettle runs every stage but delivery until nothing is queued
// before the outbox.
func crashSettle(t *testing.T, p *Pipeline, st *storage.Store) {
	t.Helper()
	crashRunUntil(t, st, "pipeline", p.Run, crashDrained)
}

// The topics and subscribers of every scenario.
const (
	crashCobalt  = "cobalt"
	crashLithium = "lithium"
)

var crashUsers = []storage.User{
	{ID: 1, ChatID: 1, Name: "cobalt", Status: storage.StatusApproved, Topics: []string{crashCobalt}},
	{ID: 2, ChatID: 2, Name: "lithium", Status: storage.StatusApproved, Topics: []string{crashLithium}},
	{ID: 3, ChatID: 3, Name: "both", Status: storage.StatusApproved, Topics: []string{crashCobalt, crashLithium}},
	{ID: 4, ChatID: 4, Name: "pending", Status: storage.StatusPending, Topics: []string{crashCobalt}},
	{ID: 5, ChatID: 5, Name: "blocked the bot", Status: storage.StatusApproved, Inactive: true, Topics: []string{crashCobalt, crashLithium}},
}

func crashSeedUsersAndTopics(t *testing.T, st *storage.Store) {
	t.Helper()
	now := time.Now()
	for _, tp := range []string{crashCobalt, crashLithium} {
		if _, err := st.PutTopic(tp, tp, now); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range crashUsers {
		u.Lang, u.Mode, u.Created, u.Updated = "ru", storage.ModeInstant, now, now
		if _, _, err := st.CreateUser(u); err != nil {
			t.Fatal(err)
		}
	}
}

// crashWords returns n made-up words, consonant-vowel syllables drawn at
// random: two such texts share almost no word pairs, so each is a story
// of its own, and none contains a topic's name.
func crashWords(rnd *rand.Rand, n int) string {
	const cons, vows = "bdfgkmnprstvz", "aeiou"
	words := make([]string, n)
	for i := range words {
		var w strings.Builder
		for range 3 {
			w.WriteByte(cons[rnd.IntN(len(cons))])
			w.WriteByte(vows[rnd.IntN(len(vows))])
		}
		words[i] = w.String()
	}
	return strings.Join(words, " ")
}

// crashItem is one article a scenario expects to find stored: in the
// same story as the other items of its story, matching topics on some
// text.
type crashItem struct {
	url    string // canonical: the article's key
	story  int
	topics []string
}

// crashNews is an item as a feed and a page carry it.
type crashNews struct {
	crashItem
	title, teaser string
	page          string // the page's article text
}

func crashRSS(title string, news []*crashNews) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>` + title + `</title><link>https://feeds.example/</link>`)
	pub := time.Now().Add(-time.Hour).Format(time.RFC1123Z)
	for _, n := range news {
		fmt.Fprintf(&b, "<item><title>%s</title><link>%s</link><description><![CDATA[%s]]></description><pubDate>%s</pubDate></item>",
			n.title, n.url, n.teaser, pub)
	}
	b.WriteString("</channel></rss>")
	return b.String()
}

func crashPage(n *crashNews) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!doctype html><html><head><title>%s</title></head><body>", n.title)
	b.WriteString(`<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/markets">Markets</a></nav>`)
	fmt.Fprintf(&b, "<article><h1>%s</h1>", n.title)
	for _, p := range strings.SplitAfter(n.page, ". ") {
		fmt.Fprintf(&b, "<p>%s</p>", p)
	}
	b.WriteString("</article><footer>© Crash News</footer></body></html>")
	return b.String()
}

// crashParagraphs is a page's text: sentences of made-up words.
func crashParagraphs(rnd *rand.Rand, sentences int, extra string) string {
	var s []string
	for i := range sentences {
		w := crashWords(rnd, 15)
		if i == 1 && extra != "" {
			w += " " + extra
		}
		s = append(s, strings.ToUpper(w[:1])+w[1:]+".")
	}
	return strings.Join(s, " ")
}

// crashSeed stores items straight into the fold queue, as the watch stage
// does for an article whose page is not fetched: same text, same story.
func crashSeed(t *testing.T, st *storage.Store, texts map[int]string, items []crashItem) {
	t.Helper()
	now := time.Now()
	res := storage.FetchResult{}
	for i, it := range items {
		title := fmt.Sprintf("Story %d", it.story)
		text := texts[it.story]
		doc := analysis.Analyze(title, text, it.url)
		na := storage.NewArticle{Article: storage.Article{
			Key: it.url, URL: it.url, Title: title, Text: text, Source: "seed",
			Published: now.Add(-time.Duration(len(items)-i) * time.Second), Fetched: now, Lang: doc.Lang, Topics: it.topics,
		}}
		if len(it.topics) > 0 {
			na.Matched = now
		}
		na.Sig, na.HasSig = dedup.Sign(doc.Stems())
		if !na.HasSig {
			t.Fatalf("item %d: text too short for a signature", i)
		}
		res.Articles = append(res.Articles, na)
	}
	saved, err := st.SaveFetches([]storage.FetchResult{res})
	if err != nil {
		t.Fatal(err)
	}
	if len(saved[0]) != len(items) {
		t.Fatalf("seeded %d of %d articles", len(saved[0]), len(items))
	}
}

// crashVerify checks the store once the pipeline settled, against the
// items the scenario put in:
//   - nothing queued before the outbox;
//   - every item stored exactly once, and nothing else;
//   - every article in exactly one story, the items of one story together
//     and the others apart;
//   - every story alerted once on each topic its articles matched;
//   - exactly one summary of each story that alerted, none of the others;
//   - exactly one outbox message per story for each subscriber of any of
//     its topics, showing those topics, and none for anybody else.
//
// It returns the summaries by story.
func crashVerify(t *testing.T, st *storage.Store, items []crashItem) map[uint64]storage.Summary {
	t.Helper()
	c, err := st.Count()
	if err != nil {
		t.Fatal(err)
	}
	if !crashDrained(c) {
		t.Errorf("work left queued: %+v", c)
	}
	byURL := map[string]crashItem{}
	want := map[int][]string{} // story → topics
	for _, it := range items {
		if _, dup := byURL[it.url]; dup {
			t.Fatalf("scenario lists %s twice", it.url)
		}
		byURL[it.url] = it
		want[it.story] = union(want[it.story], it.topics)
	}

	seenKey := map[string]uint64{}
	group := map[uint64][]uint64{} // story id → article ids
	storyOf := map[int]uint64{}    // scenario story → story id
	articles := map[uint64]storage.Article{}
	err = st.ArticlesSince(time.Unix(0, 0), func(a *storage.Article) bool {
		if prev, dup := seenKey[a.Key]; dup {
			t.Errorf("key %s stored twice: articles %d and %d", a.Key, prev, a.ID)
		}
		seenKey[a.Key] = a.ID
		if _, dup := articles[a.ID]; dup {
			t.Errorf("article %d listed twice", a.ID)
		}
		articles[a.ID] = *a
		it, ok := byURL[a.URL]
		if !ok {
			t.Errorf("article %d %s is no item of the scenario", a.ID, a.URL)
			return true
		}
		if a.StoryID == 0 {
			t.Errorf("article %d %s is in no story", a.ID, a.URL)
			return true
		}
		group[a.StoryID] = append(group[a.StoryID], a.ID)
		if id, ok := storyOf[it.story]; ok && id != a.StoryID {
			t.Errorf("story %d split: %s is in story %d, its reprints in %d", it.story, a.URL, a.StoryID, id)
		}
		storyOf[it.story] = a.StoryID
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(articles) != len(items) || c.Articles != len(items) {
		t.Errorf("%d articles stored (%d listed), want the %d items", c.Articles, len(articles), len(items))
	}
	if c.Stories != len(group) || len(group) != len(want) {
		t.Errorf("%d stories stored, %d with articles; want %d", c.Stories, len(group), len(want))
	}

	storyTopics := map[uint64][]string{}
	sums := map[uint64]storage.Summary{}
	for id, ids := range group {
		s, err := st.Story(id)
		if err != nil {
			t.Errorf("story %d: %v", id, err)
			continue
		}
		slices.Sort(ids)
		listed := slices.Clone(s.Articles)
		slices.Sort(listed)
		if !slices.Equal(listed, ids) || s.Count != len(ids) {
			t.Errorf("story %d lists articles %v (count %d), but articles %v name it", id, s.Articles, s.Count, ids)
		}
		var storyKeys []int
		for _, aid := range ids {
			if k := byURL[articles[aid].URL].story; !slices.Contains(storyKeys, k) {
				storyKeys = append(storyKeys, k)
			}
		}
		if len(storyKeys) != 1 {
			t.Errorf("story %d folds different stories together: %v", id, storyKeys)
			continue
		}
		if !crashSameSet(s.Topics, want[storyKeys[0]]) || len(s.Topics) != len(union(nil, s.Topics)) {
			t.Errorf("story %d (%s) alerted on %v, want %v once each", id, s.Title, s.Topics, want[storyKeys[0]])
		}
		storyTopics[id] = s.Topics
		sum, err := st.Summary(id, crashLang)
		switch {
		case len(s.Topics) > 0 && err != nil:
			t.Errorf("story %d alerted without a summary: %v", id, err)
		case len(s.Topics) == 0 && !errors.Is(err, storage.ErrNotFound):
			t.Errorf("story %d never alerted but has a summary (%v)", id, err)
		case err == nil:
			sums[id] = sum
		}
	}

	msgs, err := st.Outbox(time.Now().Add(24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != c.Outbox {
		t.Errorf("outbox lists %d messages of %d", len(msgs), c.Outbox)
	}
	type pair struct {
		user  int64
		story uint64
	}
	got := map[pair][]storage.OutMsg{}
	for _, m := range msgs {
		got[pair{m.UserID, m.StoryID}] = append(got[pair{m.UserID, m.StoryID}], m)
		if a, ok := articles[m.ArticleID]; !ok || a.StoryID != m.StoryID {
			t.Errorf("message %d for story %d shows article %d of story %d", m.ID, m.StoryID, m.ArticleID, a.StoryID)
		}
	}
	wantMsgs := 0
	for id, topics := range storyTopics {
		for _, u := range crashUsers {
			var show []string
			if u.Status == storage.StatusApproved && !u.Inactive {
				for _, tp := range topics {
					if u.Subscribed(tp) {
						show = append(show, tp)
					}
				}
			}
			ms := got[pair{u.ID, id}]
			switch {
			case len(show) == 0 && len(ms) > 0:
				t.Errorf("user %d (%s) got story %d on %v", u.ID, u.Name, id, ms[0].Topics)
			case len(show) > 0 && len(ms) != 1:
				t.Errorf("user %d (%s) has %d messages for story %d, want one", u.ID, u.Name, len(ms), id)
			case len(show) > 0 && (!crashSameSet(ms[0].Topics, show) || len(ms[0].Topics) != len(show)):
				t.Errorf("user %d (%s) is shown story %d on %v, want %v", u.ID, u.Name, id, ms[0].Topics, show)
			}
			if len(show) > 0 {
				wantMsgs++
			}
		}
	}
	if len(msgs) != wantMsgs {
		t.Errorf("%d outbox messages, want %d", len(msgs), wantMsgs)
	}
	return sums
}

func crashSameSet(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

// crashAlerted counts the stories that alert and the topics they alert on.
func crashAlerted(items []crashItem) (stories, topics int) {
	want := map[int][]string{}
	for _, it := range items {
		want[it.story] = union(want[it.story], it.topics)
	}
	for _, tp := range want {
		if len(tp) > 0 {
			stories++
			topics += len(tp)
		}
	}
	return stories, topics
}

func crashItems(news []*crashNews) []crashItem {
	out := make([]crashItem, len(news))
	for i, n := range news {
		out[i] = n.crashItem
	}
	return out
}

// crashNewsSite serves feeds and pages on several hosts. Feed requests
// pass feedGate and page requests pageGate (either may be nil), keyed by
// host. A feed answers 304 to its ETag.
type crashNewsSite struct {
	hosts              []string
	feedGate, pageGate *crashGate
	mu                 sync.Mutex
	feeds              map[string][]*crashNews // by host:port/path
	pages              map[string]*crashNews   // by host:port/path
	feed200            map[string]int
	feed304            map[string]int
	page200            map[string]int
	pageRequests       int
}

func newCrashNewsSite(t *testing.T, hosts int, feedGate, pageGate *crashGate) *crashNewsSite {
	s := &crashNewsSite{feedGate: feedGate, pageGate: pageGate, feeds: map[string][]*crashNews{}, pages: map[string]*crashNews{},
		feed200: map[string]int{}, feed304: map[string]int{}, page200: map[string]int{}}
	s.hosts = crashSite(t, hosts, http.HandlerFunc(s.serve))
	return s
}

func (s *crashNewsSite) serve(w http.ResponseWriter, r *http.Request) {
	key := r.Host + r.URL.Path
	s.mu.Lock()
	news, isFeed := s.feeds[key]
	page := s.pages[key]
	if page != nil {
		s.pageRequests++
	}
	s.mu.Unlock()
	switch {
	case isFeed:
		etag := `"` + key + `"`
		if r.Header.Get("If-None-Match") == etag {
			s.count(s.feed304, key)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if s.feedGate != nil && !s.feedGate.pass(r.Host, r) {
			http.Error(w, "held until the crash", http.StatusServiceUnavailable)
			return
		}
		s.count(s.feed200, key)
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		io.WriteString(w, crashRSS("Feed "+r.URL.Path, news))
	case page != nil:
		if s.pageGate != nil && !s.pageGate.pass(r.Host, r) {
			http.Error(w, "held until the crash", http.StatusServiceUnavailable)
			return
		}
		s.count(s.page200, key)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, crashPage(page))
	default:
		http.NotFound(w, r)
	}
}

func (s *crashNewsSite) count(m map[string]int, key string) {
	s.mu.Lock()
	m[key]++
	s.mu.Unlock()
}

// news makes an item whose page is on host h; the teaser names
// teaserTopics and the page's text names pageTopics.
func (s *crashNewsSite) news(rnd *rand.Rand, id, h int, teaserTopics, pageTopics []string) *crashNews {
	base := s.hosts[h]
	n := &crashNews{
		crashItem: crashItem{url: fmt.Sprintf("%s/news/%d", base, id), story: id, topics: union(teaserTopics, pageTopics)},
		title:     fmt.Sprintf("News %d: %s", id, crashWords(rnd, 3)),
		teaser:    crashWords(rnd, 12) + " " + strings.Join(teaserTopics, " "),
		page:      crashParagraphs(rnd, 8, strings.Join(pageTopics, " ")),
	}
	s.mu.Lock()
	s.pages[strings.TrimPrefix(n.url, "http://")] = n
	s.mu.Unlock()
	return n
}

// feed publishes news at path on host h and returns the feed's URL.
func (s *crashNewsSite) feed(h int, path string, news []*crashNews) string {
	u := s.hosts[h] + path
	s.mu.Lock()
	s.feeds[strings.TrimPrefix(u, "http://")] = news
	s.mu.Unlock()
	return u
}

func (s *crashNewsSite) counts(m map[string]int) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(m)
}

// A watch pass is killed after it committed the feeds it got, while the
// next feed of every host is held open: the next pass fetches only the
// feeds it lost (the others answer 304 to the ETag stored with their
// articles), a story published in two feeds is stored once, and the rest
// of the pipeline alerts on everything once.
func TestCrashMidWatch(t *testing.T) {
	t.Parallel()
	const hosts, feedsPerHost, perFeed = 4, 3, 4
	wake := NewSignal()
	feedGate := newCrashGate(t, 1, wake) // each host answers its first feed
	site := newCrashNewsSite(t, hosts, feedGate, nil)
	rnd := rand.New(rand.NewPCG(1, 1))
	var (
		news  []*crashNews
		feeds []string
	)
	id := 0
	for h := range hosts {
		// Every feed of a host also carries one story in common.
		shared := site.news(rnd, id, h, []string{crashCobalt, crashLithium}, nil)
		news = append(news, shared)
		id++
		for f := range feedsPerHost {
			items := []*crashNews{shared}
			for range perFeed {
				var teaser, page []string
				switch id % 4 {
				case 0:
					teaser = []string{crashCobalt} // urgent page
				case 1:
					page = []string{crashLithium} // news only once its page is fetched
				}
				n := site.news(rnd, id, id%hosts, teaser, page)
				items = append(items, n)
				news = append(news, n)
				id++
			}
			feeds = append(feeds, site.feed(h, fmt.Sprintf("/feed/%d", f), items))
		}
	}
	path := filepath.Join(t.TempDir(), "dozor.db")
	st := crashOpen(t, path, storage.Options{})
	crashSeedUsersAndTopics(t, st)
	for _, u := range feeds {
		if _, _, err := st.AddSource(storage.NewSource{URL: u}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	crashClose(t, st)

	reports := newCrashReports(t, wake)
	child := startCrashChild(t, "watch", path, reports, "")
	// Each host answered one feed and holds the next: one feed per host
	// committed, with its story in common and its own items.
	committed := hosts * (1 + perFeed)
	child.killWhen(wake, "a committed batch with a feed of every host held", func() bool {
		c, _ := reports.Last()
		return feedGate.Held() == hosts && c.Articles == committed
	})
	feedGate.Open()
	before := site.counts(site.feed200)
	t.Logf("killed with %d articles of %d feeds stored, %d feed requests held", committed, len(before), feedGate.Held())

	st = crashOpen(t, path, storage.Options{})
	if c, _ := st.Count(); c.Articles != committed {
		t.Fatalf("after the kill %d articles are stored, the child reported %d", c.Articles, committed)
	}
	p := New(crashConfig(t, st, "", crashDiscard()))
	rep, err := p.Watcher.Pass(context.Background(), PassOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failures) > 0 || rep.NotModified != len(before) || rep.NewArticles != len(news)-committed {
		t.Errorf("pass after the crash: %d failed, %d not modified, %d new; want 0, %d, %d",
			len(rep.Failures), rep.NotModified, rep.NewArticles, len(before), len(news)-committed)
	}
	crashSettle(t, p, st)

	items := crashItems(news)
	crashVerify(t, st, items)
	for _, u := range feeds {
		k := strings.TrimPrefix(u, "http://")
		n200, n304 := site.counts(site.feed200)[k], site.counts(site.feed304)[k]
		if n200 != 1 {
			t.Errorf("feed %s parsed %d times, want once", u, n200)
		}
		if wantNM := before[k]; n304 != wantNM {
			t.Errorf("feed %s answered 304 %d times, want %d", u, n304, wantNM)
		}
	}
	pages := site.counts(site.page200)
	for _, n := range news {
		if got := pages[strings.TrimPrefix(n.url, "http://")]; got != 1 {
			t.Errorf("page %s fetched %d times, want once", n.url, got)
		}
	}
	stories, topics := crashAlerted(items)
	t.Logf("%d articles, %d stories alerted on %d topics", len(items), stories, topics)
}

// The page stage is killed after it committed the pages it got, with a
// page of every host in flight: after the restart only the pages it had
// not committed are fetched again, each article keeps its page, and the
// articles that became news on their page alert once.
func TestCrashMidPage(t *testing.T) {
	t.Parallel()
	const hosts, perHost = 4, 10
	wake := NewSignal()
	const servedPerHost = perHost / 2
	pageGate := newCrashGate(t, servedPerHost, wake)
	site := newCrashNewsSite(t, hosts, nil, pageGate)
	rnd := rand.New(rand.NewPCG(2, 2))
	var news []*crashNews
	for i := range hosts * perHost {
		var teaser, page []string
		switch i % 5 {
		case 0:
			teaser = []string{crashCobalt}
		case 2:
			page = []string{crashLithium}
		}
		news = append(news, site.news(rnd, i, i%hosts, teaser, page))
	}
	feed := site.feed(0, "/feed", news)

	path := filepath.Join(t.TempDir(), "dozor.db")
	st := crashOpen(t, path, storage.Options{})
	crashSeedUsersAndTopics(t, st)
	if _, _, err := st.AddSource(storage.NewSource{URL: feed}, time.Now()); err != nil {
		t.Fatal(err)
	}
	rep, err := New(crashConfig(t, st, "", crashDiscard())).Watcher.Pass(context.Background(), PassOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pages != len(news) {
		t.Fatalf("%d pages queued, want %d", rep.Pages, len(news))
	}
	crashClose(t, st)

	reports := newCrashReports(t, wake)
	child := startCrashChild(t, "page", path, reports, "")
	left := len(news) - hosts*servedPerHost
	child.killWhen(wake, "the pages it got committed with a page of every host in flight", func() bool {
		c, n := reports.Last()
		return pageGate.Held() == crashFetchWorkers && n > 0 && c.PagesUrgent+c.PagesBulk == left
	})
	pageGate.Open()
	held := pageGate.Held()

	st = crashOpen(t, path, storage.Options{})
	c, err := st.Count()
	if err != nil {
		t.Fatal(err)
	}
	if c.PagesUrgent+c.PagesBulk != left || c.Fold != len(news)-left {
		t.Fatalf("after the kill: %+v; want %d pages queued and %d articles to fold", c, left, len(news)-left)
	}
	t.Logf("killed with %d pages committed, %d in flight, %d queued", len(news)-left, held, left)
	p := New(crashConfig(t, st, "", crashDiscard()))
	crashSettle(t, p, st)

	items := crashItems(news)
	crashVerify(t, st, items)
	pages := site.counts(site.page200)
	for _, n := range news {
		k := strings.TrimPrefix(n.url, "http://")
		if pages[k] != 1 {
			t.Errorf("page %s fetched %d times, want once", n.url, pages[k])
		}
	}
	site.mu.Lock()
	requests := site.pageRequests
	site.mu.Unlock()
	if requests > len(news)+crashFetchWorkers {
		t.Errorf("%d page requests for %d pages: more than the %d in flight at the kill were redone", requests, len(news), crashFetchWorkers)
	}
	err = st.ArticlesSince(time.Unix(0, 0), func(a *storage.Article) bool {
		if text, err := st.FullText(a.ID); err != nil || text == "" {
			t.Errorf("article %d (%s) lost its page: %v", a.ID, a.URL, err)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	stories, topics := crashAlerted(items)
	t.Logf("%d page requests for %d pages; %d stories alerted on %d topics", requests, len(news), stories, topics)
}

// crashFoldItems makes n articles for the fold queue, each a story of its
// own but for the reprints, which come last and repeat the text of an
// early story: some add a topic their original did not match, some match
// only as a reprint, some add nothing.
func crashFoldItems(n, reprints, every int) (map[int]string, []crashItem) {
	rnd := rand.New(rand.NewPCG(3, 3))
	texts := map[int]string{}
	var items []crashItem
	for i := range n - reprints {
		var topics []string
		switch i % every {
		case 0:
			topics = []string{crashCobalt}
		case every / 2:
			topics = []string{crashLithium}
		}
		texts[i] = crashWords(rnd, 30)
		items = append(items, crashItem{url: fmt.Sprintf("https://seed.example/%d", i), story: i, topics: topics})
	}
	for k := range reprints {
		orig := items[k*every/4]
		var topics []string
		switch {
		case len(orig.topics) > 0 && k%8 == 0:
			topics = orig.topics
		case len(orig.topics) > 0:
			topics = []string{crashCobalt, crashLithium}
		case k%2 == 1:
			topics = []string{crashCobalt}
		}
		items = append(items, crashItem{url: fmt.Sprintf("https://reprint.example/%d", k), story: orig.story, topics: topics})
	}
	return texts, items
}

// The fold stage is killed as soon as it reports its first batch of
// articles committed (a batch is one transaction), while it folds the
// next: what that batch did is rolled back. After the restart the stage
// rebuilds its index of stories from the store: the reprints queued last
// join the stories folded before the crash, and alert only on topics
// those had not.
func TestCrashMidFold(t *testing.T) {
	t.Parallel()
	const n, reprints = 3*foldBatch - 100, 40
	texts, items := crashFoldItems(n, reprints, 40)
	path := filepath.Join(t.TempDir(), "dozor.db")
	st := crashOpen(t, path, storage.Options{NoSync: true})
	crashSeedUsersAndTopics(t, st)
	crashSeed(t, st, texts, items)
	crashClose(t, st)

	wake := NewSignal()
	reports := newCrashReports(t, wake)
	child := startCrashChild(t, "fold", path, reports, "")
	child.killWhen(wake, "a fold batch committed", func() bool {
		_, k := reports.Last()
		return k > 0
	})
	last, _ := reports.Last()

	st = crashOpen(t, path, storage.Options{})
	c, err := st.Count()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed after the child reported %d of %d articles left to fold; %d are left", last.Fold, n, c.Fold)
	if c.Fold > n-foldBatch || c.Fold == 0 {
		t.Fatalf("%d of %d articles left to fold after the kill: the kill was not in the middle of the stage", c.Fold, n)
	}
	if c.Stories != n-c.Fold {
		t.Errorf("%d stories for %d articles folded: a fold batch was committed in part", c.Stories, n-c.Fold)
	}
	p := New(crashConfig(t, st, "", crashDiscard()))
	crashSettle(t, p, st)
	crashVerify(t, st, items)
	stories, topics := crashAlerted(items)
	t.Logf("%d articles in %d stories, %d of them alerted on %d topics", n, len(texts), stories, topics)
}

// crashLLM is an OpenAI-compatible chat completions endpoint: its gate
// answers the first calls and holds the others open until the kill.
type crashLLM struct {
	url      string
	gate     *crashGate
	calls    atomic.Int64
	answered atomic.Int64
}

func newCrashLLM(t *testing.T, gate *crashGate) *crashLLM {
	l := &crashLLM{gate: gate}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model    string `json:"model"`
			Messages []struct{ Role, Content string }
		}
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != crashModel || len(req.Messages) == 0 {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		l.calls.Add(1)
		if !l.gate.pass("llm", r) {
			http.Error(w, `{"error":{"message":"held until the crash"}}`, http.StatusServiceUnavailable)
			return
		}
		l.answered.Add(1)
		content, _ := json.Marshal(`{"summary":"Краткая сводка сюжета.","key_points":["Главное"]}`)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-crash","object":"chat.completion","created":1735800000,"model":%q,`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120}}`, crashModel, content)
	}))
	t.Cleanup(srv.Close)
	l.url = srv.URL
	return l
}

// The summarize stage is killed after it committed the summaries the
// model wrote, while the model holds LLM_CONCURRENCY calls open and more
// alerts wait for a slot: after the restart each story is summarised by
// the model once, the stories summarised before the crash are not asked
// again, and a second alert on a story reuses its summary.
func TestCrashMidSummarize(t *testing.T) {
	t.Parallel()
	const stories, answeredBefore = 12, 4
	start := time.Now() // the usage counters are by day
	rnd := rand.New(rand.NewPCG(4, 4))
	texts := map[int]string{}
	var items []crashItem
	for i := range stories {
		tp := crashCobalt
		if i%2 == 1 {
			tp = crashLithium
		}
		texts[i] = crashWords(rnd, 40)
		items = append(items, crashItem{url: fmt.Sprintf("https://seed.example/%d", i), story: i, topics: []string{tp}})
	}
	// A reprint that adds a topic: a second alert on a story, queued last.
	items = append(items, crashItem{url: "https://reprint.example/0", story: 0, topics: []string{crashCobalt, crashLithium}})

	path := filepath.Join(t.TempDir(), "dozor.db")
	st := crashOpen(t, path, storage.Options{})
	crashSeedUsersAndTopics(t, st)
	crashSeed(t, st, texts, items)
	p := New(crashConfig(t, st, "", crashDiscard()))
	crashRunUntil(t, st, "fold", p.Folder.Run, func(c storage.Counts) bool { return c.Fold == 0 })
	if c, _ := st.Count(); c.Alerts != len(items) {
		t.Fatalf("%d alerts queued, want %d", c.Alerts, len(items))
	}
	crashClose(t, st)

	wake := NewSignal()
	llm := newCrashLLM(t, newCrashGate(t, answeredBefore, wake))
	reports := newCrashReports(t, wake)
	child := startCrashChild(t, "summarize", path, reports, llm.url)
	child.killWhen(wake, "the summaries it got committed with the model's slots held", func() bool {
		c, _ := reports.Last()
		return llm.gate.Held() == crashLLMWorkers && c.Fanout == answeredBefore
	})
	llm.gate.Open()
	callsBefore := llm.calls.Load()

	st = crashOpen(t, path, storage.Options{})
	c, err := st.Count()
	if err != nil {
		t.Fatal(err)
	}
	if c.Fanout != answeredBefore || c.Alerts != len(items)-answeredBefore {
		t.Fatalf("after the kill: %+v; want %d alerts summarised and %d waiting", c, answeredBefore, len(items)-answeredBefore)
	}
	t.Logf("killed with %d summaries committed and %d calls held", answeredBefore, callsBefore-answeredBefore)
	p = New(crashConfig(t, st, llm.url, crashDiscard()))
	crashSettle(t, p, st)

	sums := crashVerify(t, st, items)
	for id, s := range sums {
		if s.Extractive || s.Model != crashModel {
			t.Errorf("story %d: summary by %q (extractive %v), want the model's", id, s.Model, s.Extractive)
		}
	}
	if n := llm.answered.Load(); n != stories {
		t.Errorf("the model wrote %d summaries for %d stories", n, stories)
	}
	if n := llm.calls.Load(); n > stories+crashLLMWorkers {
		t.Errorf("%d model calls for %d stories: more than the %d in flight at the kill were redone", n, stories, crashLLMWorkers)
	}
	var usage storage.Usage
	for _, day := range slices.Compact([]string{start.UTC().Format(time.DateOnly), time.Now().UTC().Format(time.DateOnly)}) {
		d, _ := time.Parse(time.DateOnly, day)
		u, err := st.Usage(d)
		if err != nil {
			t.Fatal(err)
		}
		usage.Calls, usage.Fallbacks = usage.Calls+u.Calls, usage.Fallbacks+u.Fallbacks
	}
	if usage.Calls != stories || usage.Fallbacks != 0 {
		t.Errorf("usage counts %d calls and %d fallbacks, want %d and 0", usage.Calls, usage.Fallbacks, stories)
	}
	t.Logf("%d model calls in all, %d answered", llm.calls.Load(), llm.answered.Load())
}

// The fan-out stage is killed as soon as it reports its first batch of
// alerts committed (a batch is one transaction), while it fans out the
// next. After the restart every subscriber has one message per story; a
// second alert on a story whose message was queued before the crash adds
// its topic to that message.
func TestCrashMidFanout(t *testing.T) {
	t.Parallel()
	const n, reprints = 2*fanoutBatch + 200, 30
	rnd := rand.New(rand.NewPCG(5, 5))
	texts := map[int]string{}
	var items []crashItem
	for i := range n - reprints {
		topics := [][]string{{crashCobalt}, {crashLithium}, {crashCobalt, crashLithium}}[i%3]
		texts[i] = crashWords(rnd, 20)
		items = append(items, crashItem{url: fmt.Sprintf("https://seed.example/%d", i), story: i, topics: topics})
	}
	// Reprints of stories in the first batch, each adding the other topic:
	// their alerts are the last ones queued.
	for k := range reprints {
		orig := items[3*k+k%2]
		items = append(items, crashItem{url: fmt.Sprintf("https://reprint.example/%d", k), story: orig.story,
			topics: []string{crashCobalt, crashLithium}})
	}
	path := filepath.Join(t.TempDir(), "dozor.db")
	st := crashOpen(t, path, storage.Options{NoSync: true})
	crashSeedUsersAndTopics(t, st)
	crashSeed(t, st, texts, items)
	p := New(crashConfig(t, st, "", crashDiscard()))
	run := func(ctx context.Context) error {
		var g sync.WaitGroup
		g.Go(func() { p.Folder.Run(ctx) })
		g.Go(func() { p.Summaries.Run(ctx) })
		g.Wait()
		return nil
	}
	crashRunUntil(t, st, "fold and summarize", run, func(c storage.Counts) bool { return c.Fold+c.Alerts == 0 })
	if c, _ := st.Count(); c.Fanout != n {
		t.Fatalf("%d alerts to fan out, want %d", c.Fanout, n)
	}
	crashClose(t, st)

	wake := NewSignal()
	reports := newCrashReports(t, wake)
	child := startCrashChild(t, "fanout", path, reports, "")
	child.killWhen(wake, "a fan-out batch committed", func() bool {
		_, k := reports.Last()
		return k > 0
	})
	last, _ := reports.Last()

	st = crashOpen(t, path, storage.Options{})
	c, err := st.Count()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed after the child reported %d of %d alerts left to fan out; %d are left, %d messages queued",
		last.Fanout, n, c.Fanout, c.Outbox)
	if c.Fanout > n-fanoutBatch || c.Fanout == 0 {
		t.Fatalf("%d of %d alerts left to fan out after the kill: the kill was not in the middle of the stage", c.Fanout, n)
	}
	p = New(crashConfig(t, st, "", crashDiscard()))
	crashSettle(t, p, st)
	crashVerify(t, st, items)
}
