package bot_test

// Tests of the chat under load: the bot and the deliver stage share one
// pacer and talk to one strict fake Telegram (30 messages a second overall,
// 1 a second per private chat with a burst of 3, 20 a minute per group,
// 429 with retry_after past them), as in production.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dozor/bot"
	"dozor/internal/logging"
	"dozor/internal/pacer"
	"dozor/internal/tgfake"
	"dozor/jobs"
	"dozor/storage"
)

const (
	loadToken  = "654321:AAG-dozor_load_test_secret_0123456789"
	loadSecret = "AAG-dozor_load_test_secret_0123456789"
	loadAdmin  = int64(1001)
	loadTopic  = "vtb-china"
	// loadWait only keeps a broken test from hanging.
	loadWait = 90 * time.Second
)

// loadLogs collects the log output of concurrent handlers.
type loadLogs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *loadLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *loadLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// loadEnv is a real store, one strict fake Telegram and one shared pacer
// (run by the env, as its creator must); the bot and the deliver stage are
// started on demand.
type loadEnv struct {
	tb     testing.TB
	path   string
	fake   *tgfake.Server
	store  *storage.Store
	logs   *loadLogs
	pace   *pacer.Pacer
	apiURL string // where the bot sends its requests: the fake or a proxy
	bot    *bot.Bot
	seq    int
}

func newLoadEnv(tb testing.TB) *loadEnv {
	tb.Helper()
	e := &loadEnv{tb: tb, path: filepath.Join(tb.TempDir(), "dozor.db"), logs: &loadLogs{}}
	e.fake = tgfake.New(tb, loadToken) // default, strict limits
	e.fake.AddChat(loadAdmin)
	e.apiURL = e.fake.URL()
	e.open(storage.Options{})
	tb.Cleanup(func() { _ = e.store.Close() }) // the store open last
	if _, err := e.store.PutTopic(loadTopic, "ВТБ AND Китай", time.Now()); err != nil {
		tb.Fatal(err)
	}
	e.pace = pacer.New(30)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.pace.Run(ctx) }()
	// Registered before the bot's and the deliverer's stops, so it runs
	// after them: their last sends still go through the pacer.
	tb.Cleanup(func() { cancel(); <-done })
	return e
}

func (e *loadEnv) open(opts storage.Options) {
	e.tb.Helper()
	opts.Timeout = 5 * time.Second
	st, err := storage.Open(e.path, opts)
	if err != nil {
		e.tb.Fatal(err)
	}
	e.store = st
}

func (e *loadEnv) logger() *slog.Logger {
	return logging.New(e.logs, "text", slog.LevelDebug, loadToken)
}

// users creates approved users (each its own private chat, known to the
// fake) following topics. Creating hundreds of users one transaction at a
// time is set-up: it skips the fsyncs, then the store is reopened as the
// bot runs it. Call it before starting anything.
func (e *loadEnv) users(ids []int64, lang string, topics ...string) {
	e.tb.Helper()
	if e.bot != nil {
		e.tb.Fatal("users: the bot is running")
	}
	if err := e.store.Close(); err != nil {
		e.tb.Fatal(err)
	}
	e.open(storage.Options{NoSync: true})
	now := time.Now()
	tz := "UTC"
	if lang == "ru" {
		tz = "Europe/Moscow"
	}
	for _, id := range ids {
		_, _, err := e.store.CreateUser(storage.User{
			ID: id, ChatID: id, Name: fmt.Sprint("user ", id), Lang: lang,
			Status: storage.StatusApproved, Mode: storage.ModeInstant, TZ: tz,
			Topics: slices.Clone(topics), Created: now, Updated: now,
		})
		if err != nil {
			e.tb.Fatal(err)
		}
		e.fake.AddChat(id)
	}
	if err := e.store.Close(); err != nil {
		e.tb.Fatal(err)
	}
	e.open(storage.Options{})
}

// story takes a new article on loadTopic through the stages before
// delivery, as jobs/deliver_test.go does: stored, folded into a story of
// its own with an alert, summarised, and fanned out to the subscribers.
func (e *loadEnv) story(title string) uint64 {
	e.tb.Helper()
	e.seq++
	now := time.Now()
	link := fmt.Sprintf("https://www.rbc.ru/finances/%d/vtb.html?a=1&b=2", e.seq)
	res, err := e.store.SaveFetches([]storage.FetchResult{{Articles: []storage.NewArticle{{
		Article: storage.Article{
			Key: link, URL: link, Title: title, Source: "RBC", Published: now.Add(-time.Minute), Fetched: now,
			Text: "ВТБ открывает отделение в Китае.", Topics: []string{loadTopic}, Matched: now,
		},
		Page: storage.PageNone,
	}}}})
	if err != nil {
		e.tb.Fatal(err)
	}
	if len(res) != 1 || len(res[0]) != 1 {
		e.tb.Fatalf("article %q not stored: %+v", title, res)
	}
	articleID := res[0][0].ID
	var alert *storage.Alert
	_, err = e.store.FoldBatch(100, now, func(tx *storage.FoldTx, j storage.FoldJob) error {
		if j.Article.ID != articleID {
			return fmt.Errorf("article %d in the fold queue, want only %d", j.Article.ID, articleID)
		}
		st, err := tx.NewStory(&j.Article)
		if err != nil {
			return err
		}
		alert, err = tx.QueueAlert(storage.Alert{StoryID: st.ID, ArticleID: j.Article.ID, Topics: j.Article.Topics, Created: now})
		return err
	})
	if err != nil {
		e.tb.Fatal(err)
	}
	if alert == nil {
		e.tb.Fatalf("no alert for %q", title)
	}
	sum := storage.Summary{
		StoryID: alert.StoryID, Lang: "ru", Created: now,
		Text:      "Банк расширяет присутствие в Китае. Отделение начнёт работу в декабре.",
		KeyPoints: []string{"Шанхай", "декабрь"},
	}
	if err := e.store.SaveSummaries([]storage.Summarized{{Alert: *alert, Summary: &sum}}, now, storage.Usage{}); err != nil {
		e.tb.Fatal(err)
	}
	if n, _, err := e.store.FanOutBatch(500, now, loadSubscribers); err != nil || n != 1 {
		e.tb.Fatalf("fan out: %d alerts, %v", n, err)
	}
	return alert.StoryID
}

// loadSubscribers is the fan-out plan: approved, active subscribers, with
// the alert's topics they follow.
func loadSubscribers(users []storage.User) func(storage.Alert) []storage.Recipient {
	return func(a storage.Alert) []storage.Recipient {
		var out []storage.Recipient
		for _, u := range users {
			if u.Status != storage.StatusApproved || u.Inactive {
				continue
			}
			var topics []string
			for _, t := range a.Topics {
				if u.Subscribed(t) {
					topics = append(topics, t)
				}
			}
			if len(topics) > 0 {
				out = append(out, storage.Recipient{UserID: u.ID, Topics: topics})
			}
		}
		return out
	}
}

// startBot runs the bot with open access against e.apiURL and returns the
// func that stops it: it waits for Run, which waits for the running
// handlers, and checks the logs for the token. It is also a cleanup.
func (e *loadEnv) startBot() (stop func()) {
	e.tb.Helper()
	b, err := bot.New(bot.Options{
		Token: loadToken, APIURL: e.apiURL, AdminIDs: []int64{loadAdmin}, Access: bot.AccessOpen,
		SummaryLang: "ru", Store: e.store, Log: e.logger(), Pacer: e.pace,
	})
	if err != nil {
		e.tb.Fatal(err)
	}
	e.bot = b
	return e.run("bot", b.Run)
}

// startDeliverer runs the deliver stage on the bot's client and the shared
// pacer, and returns the func that stops it.
func (e *loadEnv) startDeliverer() (stop func()) {
	e.tb.Helper()
	if e.bot == nil {
		e.tb.Fatal("startDeliverer: start the bot first")
	}
	d := &jobs.Deliverer{
		Store: e.store, API: bot.Alerts{API: e.bot.API()}, Pacer: e.pace,
		Wake: jobs.NewSignal(), SummaryLang: "ru", Log: e.logger(),
	}
	return e.run("deliverer", d.Run)
}

func (e *loadEnv) run(what string, run func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					e.tb.Errorf("%s: Run: %v", what, err)
				}
			case <-time.After(loadWait):
				e.tb.Errorf("%s: Run did not return after cancel", what)
			}
			e.checkLogs()
		})
	}
	e.tb.Cleanup(stop)
	return stop
}

// ctx bounds a wait on the fake.
func (e *loadEnv) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), loadWait)
	e.tb.Cleanup(cancel)
	return ctx
}

// messages waits for at least n messages to chat and returns them all.
func (e *loadEnv) messages(chat int64, n int) []tgfake.Message {
	e.tb.Helper()
	msgs, err := e.fake.WaitMessages(e.ctx(), chat, n)
	if err != nil {
		e.tb.Fatalf("%v: %q\nlogs:\n%s", err, plains(msgs), e.tail())
	}
	return msgs
}

// waitFor polls what the fake cannot tell (the store, the logs). The
// deadline only keeps a broken test from hanging.
func (e *loadEnv) waitFor(what string, cond func() bool) {
	e.tb.Helper()
	deadline := time.Now().Add(loadWait)
	for !cond() {
		if time.Now().After(deadline) {
			e.tb.Fatalf("gave up waiting for %s\nlogs:\n%s", what, e.tail())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *loadEnv) outboxLen() int {
	c, err := e.store.Count()
	if err != nil {
		e.tb.Error(err)
		return -1
	}
	return c.Outbox
}

// warmUp waits until the bot answers: it is connected and polling.
func (e *loadEnv) warmUp(user int64) {
	e.tb.Helper()
	n := len(e.fake.Messages(user))
	e.fake.SendText(user, user, "/help")
	e.messages(user, n+1)
}

// tail is the end of the logs, for failure messages.
func (e *loadEnv) tail() string {
	s := e.logs.String()
	if len(s) > 8000 {
		s = "…" + s[len(s)-8000:]
	}
	return s
}

// checkLogs fails the test if the token is in the logs in any form.
func (e *loadEnv) checkLogs() {
	e.tb.Helper()
	if f := loadTokenForms(e.logs.String()); len(f) > 0 {
		e.tb.Errorf("the bot token is in the logs as %q", f)
	}
}

// loadTokenForms returns the forms of loadToken found in s: raw,
// URL-encoded (either case of %3A), JSON-escaped (\u003a, either case), or
// its secret half alone, which every encoding leaves as it is.
func loadTokenForms(s string) []string {
	id, _, _ := strings.Cut(loadToken, ":")
	var found []string
	for _, f := range []string{
		loadToken,
		url.QueryEscape(loadToken),
		strings.Replace(url.QueryEscape(loadToken), "%3A", "%3a", 1),
		id + `\u003a` + loadSecret,
		id + `\u003A` + loadSecret,
		loadSecret,
	} {
		if strings.Contains(s, f) {
			found = append(found, f)
		}
	}
	return found
}

func plains(msgs []tgfake.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Plain
	}
	return out
}

func userIDs(from int64, n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = from + int64(i)
	}
	return ids
}

// percentile is the nearest-rank percentile p (0..100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

const (
	welcomeText    = "I'm dozor"
	subscribedText = "Subscribed to " + loadTopic
	helpText       = "/subscribe name — follow a topic"
	slowDownText   = "Too many messages at once"
)

// TestLoadOrderWithinChat: after a restart, every user's /start and
// /subscribe arrive in one getUpdates answer. Each chat's updates must run
// in order (the subscription needs the user /start creates) while 50 chats
// run at once.
func TestLoadOrderWithinChat(t *testing.T) {
	t.Parallel()
	e := newLoadEnv(t)
	ids := userIDs(2000, 50)
	// Half the users send both at once, half are interleaved with the
	// others: /start all round, then /subscribe all round.
	for _, id := range ids[:25] {
		e.fake.SendText(id, id, "/start")
		e.fake.SendText(id, id, "/subscribe "+loadTopic)
	}
	for _, id := range ids[25:] {
		e.fake.SendText(id, id, "/start")
	}
	for _, id := range ids[25:] {
		e.fake.SendText(id, id, "/subscribe "+loadTopic)
	}
	if n := e.fake.PendingUpdates(); n != 100 {
		t.Fatalf("%d updates queued, want 100 (one getUpdates answer)", n)
	}
	stop := e.startBot()
	if _, err := e.fake.WaitAllMessages(e.ctx(), 2*len(ids)); err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, e.tail())
	}
	stop() // waits for every handler
	for _, id := range ids {
		u, err := e.store.User(id)
		if err != nil {
			t.Errorf("user %d: %v", id, err)
			continue
		}
		if !u.Subscribed(loadTopic) {
			t.Errorf("user %d is not subscribed: %+v", id, u)
		}
		msgs := e.fake.Messages(id)
		if len(msgs) != 2 || !strings.Contains(msgs[0].Plain, welcomeText) || !strings.Contains(msgs[1].Plain, subscribedText) {
			t.Errorf("user %d got %q, want the welcome, then %q", id, plains(msgs), subscribedText)
		}
	}
	if n := e.fake.Count429(); n != 0 {
		t.Errorf("%d × 429", n)
	}
}

// TestLoadFloodFairness: one user's flood must cost another user nothing:
// B's answer comes within a second while A floods, A is told to slow down
// once, and Telegram never has to answer 429.
func TestLoadFloodFairness(t *testing.T) {
	t.Parallel()
	const (
		userA, userB, warm = int64(3001), int64(3002), int64(3003)
		flood              = 500
	)
	e := newLoadEnv(t)
	stop := e.startBot()
	e.warmUp(warm)

	var sentB time.Time
	start := time.Now()
	for i := range flood {
		e.fake.SendText(userA, userA, "/help")
		if i == flood/2 {
			sentB = time.Now()
			e.fake.SendText(userB, userB, "/help")
		}
		if i%10 == 9 {
			time.Sleep(20 * time.Millisecond) // 500 in about a second
		}
	}
	floodTime := time.Since(start)
	t.Logf("A sent %d commands in %v", flood, floodTime.Round(time.Millisecond))

	replyB := e.messages(userB, 1)[0]
	if !strings.Contains(replyB.Plain, helpText) {
		t.Errorf("B got %q, want the help", replyB.Plain)
	}
	latency := replyB.Sent.Sub(sentB)
	t.Logf("B's answer came %v after B's message was queued", latency.Round(time.Millisecond))
	if latency > time.Second {
		t.Errorf("B's answer came %v after B's message, want within 1s while A floods", latency)
	}

	// Every one of A's updates is either handled (a command logged) or
	// dropped over the budget (logged as such); A gets one reply per
	// handled command and one note. Once all are accounted for, stopping
	// the bot waits for whatever A's handlers still send.
	handled := fmt.Sprintf(`msg="bot: command" cmd=help user_id=%d `, userA)
	dropped := fmt.Sprintf(`msg="bot: over the update budget: dropped" user_id=%d `, userA)
	var nHandled, nDropped int
	e.waitFor("all of A's updates handled or dropped", func() bool {
		logs := e.logs.String()
		nHandled, nDropped = strings.Count(logs, handled), strings.Count(logs, dropped)
		return nHandled+nDropped >= flood
	})
	if nHandled+nDropped != flood {
		t.Errorf("%d of A's updates handled and %d dropped, want %d in all", nHandled, nDropped, flood)
	}
	e.messages(userA, nHandled+1)
	stop()

	var helps, notes int
	for _, m := range e.fake.Messages(userA) {
		switch {
		case strings.Contains(m.Plain, helpText):
			helps++
		case strings.Contains(m.Plain, slowDownText):
			notes++
		default:
			t.Errorf("A got %q", m.Plain)
		}
	}
	t.Logf("A: %d commands handled, %d dropped; %d replies, %d slow-down notes", nHandled, nDropped, helps, notes)
	if helps != nHandled {
		t.Errorf("A got %d replies for %d handled commands", helps, nHandled)
	}
	if notes != 1 {
		t.Errorf("A got %d slow-down notes, want 1", notes)
	}
	if nHandled > 40 {
		t.Errorf("%d of A's %d commands handled in %v: the budget is 20 at once and one a second", nHandled, flood, floodTime)
	}
	if n := len(e.fake.Messages(userB)); n != 1 {
		t.Errorf("B got %d messages, want 1", n)
	}
	if n := e.fake.Count429(); n != 0 {
		t.Errorf("%d × 429", n)
	}
}

// TestLoadBroadcastWithCommands: 300 subscribers get an alert while 100
// other users each send a command during the broadcast. Everyone gets
// what is theirs, once, and Telegram never answers 429.
func TestLoadBroadcastWithCommands(t *testing.T) {
	t.Parallel()
	const warm = int64(3999)
	e := newLoadEnv(t)
	subs := userIDs(10_000, 300)
	others := userIDs(20_000, 100)
	e.users(subs, "ru", loadTopic)
	e.users(others, "en")
	story := e.story("ВТБ открыл отделение в Шанхае")
	if n := e.outboxLen(); n != len(subs) {
		t.Fatalf("%d alerts queued, want %d", n, len(subs))
	}
	stopBot := e.startBot()
	e.warmUp(warm)
	stopDeliverer := e.startDeliverer()
	start := time.Now()

	// 100 commands over about 9 s; the broadcast alone takes at least 10 s
	// at 30 messages a second.
	sentAt := map[int64]time.Time{}
	for i, id := range others {
		if i > 0 {
			time.Sleep(90 * time.Millisecond)
		}
		cmd := "/help"
		if i%2 == 1 {
			cmd = "/topics"
		}
		sentAt[id] = time.Now()
		e.fake.SendText(id, id, cmd)
	}
	lastCommand := time.Now()
	var latencies []time.Duration
	for i, id := range others {
		m := e.messages(id, 1)[0]
		want := helpText
		if i%2 == 1 {
			want = "Topics"
		}
		if !strings.Contains(m.Plain, want) {
			t.Errorf("user %d got %q, want %q", id, m.Plain, want)
		}
		latencies = append(latencies, m.Sent.Sub(sentAt[id]))
	}
	e.waitFor("an empty outbox", func() bool { return e.outboxLen() == 0 })
	elapsed := time.Since(start)
	stopDeliverer()
	stopBot()

	var lastAlert time.Time
	for _, id := range subs {
		msgs := e.fake.Messages(id)
		if len(msgs) != 1 {
			t.Errorf("subscriber %d got %d messages, want 1 alert: %q", id, len(msgs), plains(msgs))
			continue
		}
		if !e.store.Delivered(id, story) {
			t.Errorf("subscriber %d: alert not recorded as delivered", id)
		}
		if msgs[0].Sent.After(lastAlert) {
			lastAlert = msgs[0].Sent
		}
	}
	for _, id := range others {
		if n := len(e.fake.Messages(id)); n != 1 {
			t.Errorf("user %d got %d messages, want 1 reply", id, n)
		}
	}
	if !lastCommand.Before(lastAlert) {
		t.Errorf("the broadcast ended at %v, before the last command at %v: the test did not overlap them", lastAlert, lastCommand)
	}
	t.Logf("broadcast of %d and %d replies in %v; reply latency p50 %v, max %v", len(subs), len(others),
		elapsed.Round(time.Millisecond), percentile(latencies, 50).Round(time.Millisecond), percentile(latencies, 100).Round(time.Millisecond))
	if worst := percentile(latencies, 100); worst > 5*time.Second {
		t.Errorf("a reply took %v during the broadcast: replies go before alerts", worst)
	}
	if n := e.fake.Count429(); n != 0 {
		t.Errorf("%d × 429", n)
	}
}

// TestLoadOutage: while sendMessage answers 502, a user's /subscribe takes
// effect at once and its reply arrives once Telegram is back.
func TestLoadOutage(t *testing.T) {
	t.Parallel()
	const (
		user   = int64(4001)
		outage = 3 * time.Second
	)
	e := newLoadEnv(t)
	stop := e.startBot()
	e.fake.SendText(user, user, "/start")
	welcome := e.messages(user, 1)[0]
	if !strings.Contains(welcome.Plain, welcomeText) {
		t.Fatalf("got %q, want the welcome", welcome.Plain)
	}
	calls := e.fake.Calls("sendMessage")
	down := time.Now()
	e.fake.FailFor("sendMessage", http.StatusBadGateway, outage)
	e.fake.SendText(user, user, "/subscribe "+loadTopic)

	var repliedFirst bool
	e.waitFor("the subscription in the store", func() bool {
		u, err := e.store.User(user)
		if err != nil || !u.Subscribed(loadTopic) {
			return false
		}
		repliedFirst = len(e.fake.Messages(user)) > 1
		return true
	})
	if repliedFirst {
		t.Error("the subscription was stored only after the reply was sent")
	}
	if time.Since(down) >= outage {
		t.Errorf("the subscription took %v to be stored, longer than the outage", time.Since(down))
	}
	reply := e.messages(user, 2)[1]
	if !strings.Contains(reply.Plain, subscribedText) {
		t.Errorf("got %q, want %q", reply.Plain, subscribedText)
	}
	if reply.Sent.Before(down.Add(outage)) {
		t.Errorf("reply sent %v into an outage of %v", reply.Sent.Sub(down), outage)
	}
	t.Logf("reply arrived %v after the outage began, after %d sendMessage calls", reply.Sent.Sub(down).Round(time.Millisecond), e.fake.Calls("sendMessage")-calls)
	if n := e.fake.Calls("sendMessage") - calls; n < 2 {
		t.Errorf("%d sendMessage calls during and after the outage, want the failed ones and the accepted one", n)
	}
	stop()
	if n := len(e.fake.Messages(user)); n != 2 {
		t.Errorf("%d messages, want the welcome and one reply: %q", n, plains(e.fake.Messages(user)))
	}
	if !strings.Contains(e.logs.String(), "call failed, retrying") {
		t.Error("the retries were not logged")
	}
	if n := e.fake.Count429(); n != 0 {
		t.Errorf("%d × 429", n)
	}
}

// pageProxy stands in front of the fake like a proxy whose upstream
// failed: the first call of each listed method gets an HTML 502 page that
// repeats the request path, bot token and all, raw, URL-encoded (both
// cases of hex digits) and JSON-escaped.
type pageProxy struct {
	next  http.Handler
	mu    sync.Mutex
	fail  map[string]bool
	pages atomic.Int32
}

func newPageProxy(t testing.TB, fake *tgfake.Server, methods ...string) (*httptest.Server, *pageProxy) {
	target, err := url.Parse(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = log.New(io.Discard, "", 0) // long polls cancelled at shutdown
	p := &pageProxy{next: rp, fail: map[string]bool{}}
	for _, m := range methods {
		p.fail[strings.ToLower(m)] = true
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv, p
}

func (p *pageProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method := strings.ToLower(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:])
	p.mu.Lock()
	fail := p.fail[method]
	delete(p.fail, method)
	p.mu.Unlock()
	if !fail {
		p.next.ServeHTTP(w, r)
		return
	}
	p.pages.Add(1)
	path := r.URL.Path
	enc := url.QueryEscape(path)
	lower := strings.NewReplacer("%2F", "%2f", "%3A", "%3a").Replace(enc)
	js := strings.NewReplacer("/", `\/`, ":", `\u003a`).Replace(path)
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadGateway)
	fmt.Fprintf(w, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"+
		"<p>The upstream server failed for POST %s</p>\r\n<p>Referer: https://proxy.example/retry?u=%s&amp;l=%s</p>\r\n"+
		"<script>window.__req = {\"path\":\"%s\"};</script>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
		path, enc, lower, js)
}

// TestLoadTokenNeverLogged: a proxy's error page quoting the request path
// reaches the bot as the body of a failed getMe, getUpdates and
// sendMessage, which it logs; the token must not reach the log in any
// form.
func TestLoadTokenNeverLogged(t *testing.T) {
	t.Parallel()
	const user = int64(5001)
	e := newLoadEnv(t)
	proxy, pages := newPageProxy(t, e.fake, "getMe", "getUpdates", "sendMessage")
	e.apiURL = proxy.URL
	stop := e.startBot()
	e.fake.SendText(user, user, "/help")
	reply := e.messages(user, 1)[0] // through the proxy, after one 502 page
	if !strings.Contains(reply.Plain, helpText) {
		t.Errorf("got %q, want the help", reply.Plain)
	}
	stop() // also checks the logs
	if n := pages.pages.Load(); n != 3 {
		t.Errorf("the proxy served %d error pages, want 3", n)
	}
	logs := e.logs.String()
	for _, want := range []string{"cannot reach Telegram, retrying", "bot: telegram", "call failed, retrying", "502 Bad Gateway", logging.Redacted} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs do not contain %q: the failures were not logged as expected\n%s", want, logs)
		}
	}
	if f := loadTokenForms(logs); len(f) > 0 {
		t.Errorf("the token is in the logs as %q:\n%s", f, logs)
	}
}

// BenchmarkChatUnderLoad measures a chat under load: one user sends a
// command every ~2 s while another floods the bot (50 commands a second
// for the first 20 s) and a broadcast to 1,000 subscribers runs, all
// through one pacer against the strict fake Telegram. It reports the
// reply latency (from the message being queued at Telegram to the reply
// arriving there) at p50 and p99, the broadcast's sustained rate
// (broadcast-msgs/s, from its first alert to its last; it must stay at 28
// a second or more), every message sent meanwhile (all-msgs/s, replies
// too) and the 429s Telegram answered (must be 0). Replies come out of the
// same 30 a second: the flooder's budget lets one a second through and
// the measured user sends one every 2 s, so alerts can have at most 28.5.
// About 40 s an iteration:
//
//	go test ./bot -run '^$' -bench ChatUnderLoad -benchtime 1x
func BenchmarkChatUnderLoad(b *testing.B) {
	const (
		subscribers             = 1000
		measured, flooder, warm = int64(6001), int64(6002), int64(6003)
		every                   = 2 * time.Second
		floodRate, floodFor     = 50, 20 * time.Second
		minRate                 = 28.0
		replyWait               = 30 * time.Second
	)
	var (
		latencies []time.Duration
		rates     []float64
		totals    []float64
		total429  int
	)
	for b.Loop() {
		b.StopTimer()
		e := newLoadEnv(b)
		subs := userIDs(100_000, subscribers)
		e.users(subs, "ru", loadTopic)
		e.story("Сюжет для тысячи подписчиков")
		if n := e.outboxLen(); n != subscribers {
			b.Fatalf("%d alerts queued, want %d", n, subscribers)
		}
		stopBot := e.startBot()
		e.warmUp(warm)
		b.StartTimer()

		stopDeliverer := e.startDeliverer()
		start := time.Now()
		broadcastDone := make(chan struct{})
		go func() {
			defer close(broadcastDone)
			for e.outboxLen() > 0 {
				time.Sleep(20 * time.Millisecond)
			}
		}()
		floodDone := make(chan struct{})
		go func() {
			defer close(floodDone)
			tick := time.NewTicker(time.Second / floodRate)
			defer tick.Stop()
			for time.Since(start) < floodFor {
				select {
				case <-broadcastDone:
					return
				case <-tick.C:
					e.fake.SendText(flooder, flooder, "/help")
				}
			}
		}()

		tick := time.NewTicker(every)
		replies := 0
	measure:
		for {
			select {
			case <-broadcastDone:
				break measure
			case <-tick.C:
			}
			sent := time.Now()
			e.fake.SendText(measured, measured, "/help")
			replies++
			ctx, cancel := context.WithTimeout(context.Background(), replyWait)
			msgs, err := e.fake.WaitMessages(ctx, measured, replies)
			cancel()
			if err != nil {
				b.Fatalf("%v\nlogs:\n%s", err, e.tail())
			}
			latencies = append(latencies, msgs[replies-1].Sent.Sub(sent))
		}
		tick.Stop()
		<-floodDone
		b.StopTimer()
		stopDeliverer()
		stopBot()

		var sent []time.Time
		for _, m := range e.fake.AllMessages() {
			if m.ChatID >= subs[0] && m.ChatID <= subs[len(subs)-1] {
				sent = append(sent, m.Sent)
			}
		}
		if len(sent) != subscribers {
			b.Fatalf("%d alerts sent for %d subscribers", len(sent), subscribers)
		}
		slices.SortFunc(sent, func(x, y time.Time) int { return x.Compare(y) })
		first, last := sent[0], sent[len(sent)-1]
		rates = append(rates, float64(len(sent)-1)/last.Sub(first).Seconds())
		all := 0 // every message sent while the broadcast ran, replies too
		for _, m := range e.fake.AllMessages() {
			if !m.Sent.Before(first) && !m.Sent.After(last) {
				all++
			}
		}
		totals = append(totals, float64(all-1)/last.Sub(first).Seconds())
		total429 += e.fake.Count429()
		b.Logf("broadcast of %d in %v at %.2f/s (%.2f/s with the replies); %d replies measured, p50 %v, max %v; flooder got %d messages; %d × 429",
			subscribers, last.Sub(first).Round(time.Millisecond), rates[len(rates)-1], totals[len(totals)-1],
			replies, percentile(latencies, 50).Round(time.Millisecond), percentile(latencies, 100).Round(time.Millisecond),
			len(e.fake.Messages(flooder)), e.fake.Count429())
		b.StartTimer()
	}
	rate := slices.Min(rates)
	b.ReportMetric(float64(percentile(latencies, 50))/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(percentile(latencies, 99))/float64(time.Millisecond), "p99-ms")
	b.ReportMetric(rate, "broadcast-msgs/s")
	b.ReportMetric(slices.Min(totals), "all-msgs/s")
	b.ReportMetric(float64(total429), "429s")
	if rate < minRate {
		b.Errorf("the broadcast sustained %.1f messages a second, want at least %.0f", rate, minRate)
	}
	if total429 != 0 {
		b.Errorf("%d × 429", total429)
	}
}
