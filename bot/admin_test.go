package bot

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"dozor/internal/fetch"
	"dozor/jobs"
	"dozor/storage"
)

const carolID = int64(3001)

func TestAdminCommandsRefusedToOthers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	now := time.Now()
	h.approved(aliceID, "en", "banks")
	h.approved(bobID, "en")
	h.store.PutTopic("banks", "bank", now)
	src, _, _ := h.store.AddSource(storage.NewSource{URL: "https://a.example/rss", Name: "A"}, now)
	h.ask(carolID, carolID, "/start")
	h.next(adminID) // the approval request

	for _, text := range []string{
		"/watch x bank", "/unwatch banks", "/watchlist", "/test bank",
		"/addsource https://b.example/rss", fmt.Sprintf("/rmsource %d", src.ID), "/sources",
		"/stats", "/users", fmt.Sprintf("/approve %d", carolID), fmt.Sprintf("/ban %d", bobID),
		"/watch@" + h.fake.BotUsername() + " y bank",
	} {
		t.Run(text, func(t *testing.T) {
			m := h.ask(aliceID, aliceID, text)
			if m.Plain != "This command is for admins only." {
				t.Errorf("reply %q", m.Plain)
			}
		})
	}
	// A pending user and a stranger are refused as well.
	mustContain(t, h.ask(carolID, carolID, "/ban 2002").Plain, "admins only")
	mustContain(t, h.ask(4001, 4001, "/watch z bank", withLang("ru")...).Plain, "только для администраторов")

	topics, _ := h.store.Topics()
	if len(topics) != 1 || topics[0].Name != "banks" {
		t.Errorf("topics changed: %+v", topics)
	}
	if _, err := h.store.Source(src.ID); err != nil {
		t.Errorf("source removed: %v", err)
	}
	if n, _ := h.store.Sources(); len(n) != 1 {
		t.Errorf("sources: %+v", n)
	}
	if u := h.user(bobID); u.Status != storage.StatusApproved {
		t.Errorf("bob banned by a non-admin: %+v", u)
	}
	if u := h.user(carolID); u.Status != storage.StatusPending {
		t.Errorf("carol approved by a non-admin: %+v", u)
	}
	if !h.user(aliceID).Subscribed("banks") {
		t.Error("alice lost her subscription")
	}
	h.sync()
	h.noMoreMessages(carolID)
}

func TestWatchAndUnwatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en")
	m := h.ask(adminID, adminID, "/watch vtb-china (ВТБ OR VTB) (Китай OR China)")
	mustContain(t, m.Plain, "Topic vtb-china added", "(ВТБ OR VTB) (Китай OR China)")
	tp, err := h.store.Topic("vtb-china")
	if err != nil || tp.Query != "(ВТБ OR VTB) (Китай OR China)" {
		t.Fatalf("stored %+v, %v", tp, err)
	}
	m = h.ask(adminID, adminID, "/watch vtb-china ВТБ\nКитай")
	mustContain(t, m.Plain, "updated", "ВТБ Китай")
	if tp, _ := h.store.Topic("vtb-china"); tp.Query != "ВТБ Китай" {
		t.Errorf("query %q", tp.Query)
	}

	for _, tc := range []struct{ text, want string }{
		{"/watch", "Usage"},
		{"/watch onlyname", "Usage"},
		{"/watch bad!name bank", "Bad topic name"},
		{"/watch " + strings.Repeat("x", 40) + " bank", "Bad topic name"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			mustContain(t, h.ask(adminID, adminID, tc.text).Plain, tc.want)
		})
	}
	t.Run("bad query shows where", func(t *testing.T) {
		m := h.ask(adminID, adminID, "/watch broken ВТБ (Китай <b>")
		mustContain(t, m.Text, "<pre>", "&lt;b&gt;")
		mustContain(t, m.Plain, "ВТБ (Китай <b>\n", "^")
		lines := strings.Split(m.Plain, "\n")
		if caret := lines[len(lines)-1]; !strings.HasPrefix(strings.TrimLeft(caret, " "), "^") {
			t.Errorf("last line %q is not a caret line", caret)
		}
		if _, err := h.store.Topic("broken"); err == nil {
			t.Error("a broken query was stored")
		}
	})

	h.store.UpdateUser(aliceID, func(u *storage.User) { u.Topics = []string{"vtb-china"} })
	m = h.ask(adminID, adminID, "/unwatch VTB-China")
	mustContain(t, m.Plain, "vtb-china removed; 1 subscribers")
	if _, err := h.store.Topic("vtb-china"); err == nil {
		t.Error("topic still stored")
	}
	if h.user(aliceID).Subscribed("vtb-china") {
		t.Error("subscription kept")
	}
	mustContain(t, h.ask(adminID, adminID, "/unwatch vtb-china").Plain, "There is no topic")
	mustContain(t, h.ask(adminID, adminID, "/unwatch").Plain, "Usage")
}

func TestWatchlistSplitsLongLists(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	now := time.Now()
	for i := range 60 {
		q := fmt.Sprintf("(банк%d OR bank%d) %s", i, i, strings.Repeat("слово ", 20))
		if _, err := h.store.PutTopic(fmt.Sprintf("topic-%02d", i), q, now); err != nil {
			t.Fatal(err)
		}
	}
	h.approved(aliceID, "en", "topic-07")
	// One message, paged: ◀ ▶ edit it to the other pages.
	first := h.ask(adminID, adminID, "/watchlist")
	mustContain(t, first.Plain, "Topics (60)", "topic-00", "0 subscribers", "1 / ")
	h.settle(0)
	h.noMoreMessages(adminID)
	var all strings.Builder
	seen := map[string]bool{}
	m := first
	for range 10 {
		if len([]rune(m.Plain)) > 4096 {
			t.Errorf("a page of %d characters", len([]rune(m.Plain)))
		}
		if seen[m.Plain] {
			break // back at the first page
		}
		seen[m.Plain] = true
		all.WriteString(m.Plain + "\n")
		var next string
		for _, d := range buttonData(m) {
			if strings.HasPrefix(d, "pg:wl:") {
				next = d // the second button is ▶
			}
		}
		if next == "" {
			t.Fatalf("no ▶ under %q", m.Plain)
		}
		h.press(adminID, adminID, m, next)
		m = h.message(adminID, first.ID)
	}
	if len(seen) < 2 {
		t.Fatalf("60 long topics on %d page(s)", len(seen))
	}
	mustContain(t, all.String(), "topic-59", "topic-07 — 1 subscribers")
	h.noMoreMessages(adminID)
}

func TestTestCommand(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	now := time.Now()
	h.saveArticle("https://a.example/1", "ВТБ откроет центр в Китае", "Банк ВТБ сообщил о планах.", "РБК", now.Add(-2*time.Hour), false)
	h.saveArticle("https://a.example/2", "VTB and China: new AI hub", "The bank plans a centre in Shanghai.", "Finextra", now.Add(-time.Hour), false)
	h.saveArticle("https://a.example/3", "Сбербанк и Китай", "Сбербанк сообщил.", "ТАСС", now.Add(-time.Hour), false)
	h.saveArticle("https://a.example/4", "ВТБ в Китае год назад", "Архив.", "ТАСС", now.Add(-9*24*time.Hour), false)

	m := h.ask(adminID, adminID, "/test (ВТБ OR VTB) (Китай OR China)")
	mustContain(t, m.Plain, "matches 2 of 3 articles", "VTB and China: new AI hub", "ВТБ откроет центр в Китае")
	if strings.Contains(m.Plain, "Сбербанк") || strings.Contains(m.Plain, "год назад") {
		t.Errorf("wrong matches: %q", m.Plain)
	}
	if i, j := strings.Index(m.Plain, "VTB and China"), strings.Index(m.Plain, "ВТБ откроет"); i > j {
		t.Error("not newest first")
	}
	if len(m.Entities) == 0 {
		t.Error("titles are not links")
	}
	mustContain(t, h.ask(adminID, adminID, "/test Китай -").Plain, "^")
	mustContain(t, h.ask(adminID, adminID, "/test").Plain, "Usage")
}

const testRSS = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Test Feed &amp; News</title><link>https://news.example/</link>
<item><title>One</title><link>https://news.example/1</link><description>First.</description></item>
<item><title>Two</title><link>https://news.example/2</link><description>Second.</description></item>
</channel></rss>`

func feedServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/rss":
			w.Header().Set("Content-Type", "application/rss+xml")
			fmt.Fprint(w, testRSS)
		case "/page":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<!doctype html><html><head><title>News</title></head><body><p>Hello</p></body></html>")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSources(t *testing.T) {
	t.Parallel()
	srv := feedServer(t)
	h := newHarness(t, func(o *Options) { o.Fetcher = fetch.New(fetch.Options{AllowPrivate: true, Timeout: 5 * time.Second}) })

	m := h.ask(adminID, adminID, "/addsource "+srv.URL+"/rss")
	mustContain(t, m.Plain, "Source #1 Test Feed & News added", "2 items", "\npages: auto")
	src, err := h.store.FindSource(srv.URL + "/rss")
	if err != nil || src.Title != "Test Feed & News" || src.FullTextMode() != storage.FullTextAuto {
		t.Fatalf("stored %+v, %v", src, err)
	}
	mustContain(t, h.ask(adminID, adminID, "/addsource "+srv.URL+"/rss").Plain, "already watched")
	for _, tc := range []struct{ text, want string }{
		{"/addsource " + srv.URL + "/page", "is not an RSS, Atom or JSON feed"},
		{"/addsource " + srv.URL + "/missing", "Could not fetch"},
		{"/addsource ftp://files.example/feed", "Not a usable address"},
		{"/addsource", "Usage"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			mustContain(t, h.ask(adminID, adminID, tc.text).Plain, tc.want)
		})
	}
	if all, _ := h.store.Sources(); len(all) != 1 {
		t.Errorf("refused sources stored: %+v", all)
	}

	// Health as /sources shows it.
	now := time.Now()
	ok, _, _ := h.store.AddSource(storage.NewSource{URL: "https://ok.example/rss", Name: "Good Feed"}, now)
	h.store.UpdateSource(ok.ID, func(s *storage.Source) { s.LastSuccess = now.Add(-5 * time.Minute); s.Items = 42 })
	bad, _, _ := h.store.AddSource(storage.NewSource{URL: "https://bad.example/rss", Name: "Broken <Feed>"}, now)
	h.store.UpdateSource(bad.ID, func(s *storage.Source) {
		s.LastSuccess = now.Add(-3 * 24 * time.Hour)
		s.Failures = 4
		s.LastError = "the server answered 503 Service Unavailable"
		s.ErrorAt = now.Add(-2 * time.Hour)
	})
	m = h.ask(adminID, adminID, "/sources")
	mustContain(t, m.Plain, "Sources (3, failing 1)",
		"Good Feed — ✅ OK", "5 min ago", "items: 42",
		"Broken <Feed> — ❌ failing (4 in a row)", "last error (2 h ago): the server answered 503",
		"Test Feed & News — ⏳ not fetched yet")

	// Remove by id and by URL.
	mustContain(t, h.ask(adminID, adminID, fmt.Sprintf("/rmsource %d", ok.ID)).Plain, "Good Feed removed")
	mustContain(t, h.ask(adminID, adminID, "/rmsource HTTPS://BAD.example/rss").Plain, "removed")
	mustContain(t, h.ask(adminID, adminID, "/rmsource 999").Plain, "There is no source 999")
	if all, _ := h.store.Sources(); len(all) != 1 {
		t.Errorf("sources left: %+v", all)
	}
}

func TestAddSourceFullText(t *testing.T) {
	t.Parallel()
	srv := feedServer(t)
	h := newHarness(t, func(o *Options) { o.Fetcher = fetch.New(fetch.Options{AllowPrivate: true, Timeout: 5 * time.Second}) })
	feedURL := srv.URL + "/rss"
	stored := func() storage.Source {
		t.Helper()
		src, err := h.store.FindSource(feedURL)
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	const usage = "Usage: /addsource url [name] [fulltext=auto|on|off]"

	// A bad value answers the usage and stores nothing.
	m := h.ask(adminID, adminID, "/addsource "+feedURL+" Finextra fulltext=maybe")
	mustContain(t, m.Plain, usage)
	if all, _ := h.store.Sources(); len(all) != 0 {
		t.Fatalf("stored %+v", all)
	}

	// The option may come before the name.
	m = h.ask(adminID, adminID, "/addsource "+feedURL+" fulltext=off Finextra News")
	mustContain(t, m.Plain, "Source #1 Finextra News added", "2 items", "\npages: never fetched (fulltext=off)")
	if src := stored(); src.FullText != storage.FullTextOff || src.Name != "Finextra News" {
		t.Fatalf("stored %+v", src)
	}

	// Re-adding with another mode changes the mode and keeps the name.
	m = h.ask(adminID, adminID, "/addsource "+feedURL+" fulltext=on")
	mustContain(t, m.Plain, "Source #1 Finextra News is already watched", "\npages: always fetched (fulltext=on)")
	if src := stored(); src.FullText != storage.FullTextOn || src.Name != "Finextra News" {
		t.Fatalf("after fulltext=on: %+v", src)
	}

	// A bad value for a known source changes nothing either.
	mustContain(t, h.ask(adminID, adminID, "/addsource "+feedURL+" Other fulltext=maybe").Plain, usage)
	if src := stored(); src.FullText != storage.FullTextOn || src.Name != "Finextra News" {
		t.Fatalf("after fulltext=maybe: %+v", src)
	}

	// Without the option the mode stays; the value is not case-sensitive.
	mustContain(t, h.ask(adminID, adminID, "/addsource "+feedURL).Plain, "already watched", "pages: always fetched (fulltext=on)")
	if src := stored(); src.FullText != storage.FullTextOn {
		t.Fatalf("re-added without fulltext=: %+v", src)
	}
	m = h.ask(adminID, adminID, "/addsource "+feedURL+" FullText=AUTO")
	mustContain(t, m.Plain, "already watched", "\npages: auto")
	if src := stored(); src.FullTextMode() != storage.FullTextAuto {
		t.Fatalf("after FullText=AUTO: %+v", src)
	}
	if all, _ := h.store.Sources(); len(all) != 1 {
		t.Errorf("sources: %+v", all)
	}
}

func TestSourcesShowPageMode(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	now := time.Now()
	add := func(name, mode string, fn func(*storage.Source)) {
		t.Helper()
		src, _, err := h.store.AddSource(storage.NewSource{URL: "https://" + strings.ToLower(name) + ".example/rss", Name: name, FullText: mode}, now)
		if err != nil {
			t.Fatal(err)
		}
		if fn != nil {
			if err := h.store.UpdateSource(src.ID, fn); err != nil {
				t.Fatal(err)
			}
		}
	}
	fetched := func(median int) func(*storage.Source) {
		return func(s *storage.Source) { s.LastSuccess = now.Add(-time.Minute); s.MedianText = median }
	}
	// The verdict on a feed's texts needs a fetch.
	add("Fresh", "", func(s *storage.Source) { s.MedianText = 5000 })
	add("Teasers", storage.FullTextAuto, fetched(jobs.TeaserChars-1))
	add("Full", "", fetched(jobs.TeaserChars))
	add("Always", storage.FullTextOn, fetched(200))
	add("Never", storage.FullTextOff, fetched(200))
	add("Sloppy", "", func(s *storage.Source) {
		fetched(3000)(s)
		s.Broken = "unescaped & in <title>"
	})

	h.send(adminID, adminID, "/sources")
	h.sync()
	var all []string
	for _, m := range h.fake.Messages(adminID)[h.seen[adminID]:] {
		all = append(all, m.Plain)
	}
	h.seen[adminID] = len(h.fake.Messages(adminID))
	text := strings.Join(all, "\n\n")
	mustContain(t, text, "Sources (6, failing 0)")
	want := map[string]struct{ pages, broken string }{
		"Fresh":   {"pages: auto", ""},
		"Teasers": {fmt.Sprintf("pages: auto — teasers only (median %d characters): pages fetched", jobs.TeaserChars-1), ""},
		"Full":    {fmt.Sprintf("pages: auto — the feed carries full texts (median %d characters): pages only for alerts", jobs.TeaserChars), ""},
		"Always":  {"pages: always fetched (fulltext=on)", ""},
		"Never":   {"pages: never fetched (fulltext=off)", ""},
		"Sloppy":  {"pages: auto — the feed carries full texts (median 3000 characters): pages only for alerts", "⚠️ malformed feed, items recovered: unescaped & in <title>"},
	}
	seen := 0
	for _, block := range strings.Split(text, "\n\n") {
		lines := strings.Split(block, "\n")
		name, _, ok := strings.Cut(lines[0], " — ")
		if !ok {
			continue
		}
		_, name, _ = strings.Cut(name, " ")
		w, known := want[name]
		if !known {
			t.Errorf("unexpected source block %q", block)
			continue
		}
		seen++
		var pages, broken []string
		for _, l := range lines {
			if strings.HasPrefix(l, "pages: ") {
				pages = append(pages, l)
			}
			if strings.Contains(l, "malformed feed") {
				broken = append(broken, l)
			}
		}
		if len(pages) != 1 || pages[0] != w.pages {
			t.Errorf("%s: pages lines %q, want %q", name, pages, w.pages)
		}
		switch {
		case w.broken == "" && len(broken) != 0:
			t.Errorf("%s: %q for a well-formed feed", name, broken)
		case w.broken != "" && (len(broken) != 1 || broken[0] != w.broken):
			t.Errorf("%s: malformed lines %q, want %q", name, broken, w.broken)
		}
	}
	if seen != len(want) {
		t.Errorf("found %d source blocks, want %d:\n%s", seen, len(want), text)
	}
}

func TestAddSourceRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	srv := feedServer(t)
	h := newHarness(t, func(o *Options) { o.Fetcher = fetch.New(fetch.Options{Timeout: 5 * time.Second}) })
	m := h.ask(adminID, adminID, "/addsource "+srv.URL+"/rss")
	mustContain(t, m.Plain, "Could not fetch")
	if all, _ := h.store.Sources(); len(all) != 0 {
		t.Errorf("stored %+v", all)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	now := time.Now()
	h.approved(aliceID, "en", "banks")
	h.store.PutTopic("banks", "bank", now)
	bad, _, _ := h.store.AddSource(storage.NewSource{URL: "https://bad.example/rss", Name: "Broken"}, now)
	h.store.UpdateSource(bad.ID, func(s *storage.Source) { s.Failures = 2 })

	// Each pipeline queue holds a different number of items, so a length
	// shown in the wrong place shows.
	article := 0
	save := func(topics ...string) {
		article++
		h.saveArticle(fmt.Sprintf("https://a.example/%d", article), fmt.Sprintf("Bank news %d", article), "Text.", "Alpha", now, false, topics...)
	}
	save("banks")
	h.fanOut() // outbox: 1 message
	save("banks")
	save("banks")
	if n := h.summarise(-1); n != 2 {
		t.Fatalf("%d alerts summarised, want 2", n)
	}
	for range 3 {
		save("banks") // 3 alerts to summarise
	}
	queue := func(page storage.PageLane) {
		article++
		key := fmt.Sprintf("https://q.example/%d", article)
		h.queueArticle(storage.NewArticle{Article: storage.Article{Key: key, URL: key, Title: "Queued", Fetched: now}, Page: page, Host: "q.example"})
	}
	for range 4 {
		queue(storage.PageNone) // to fold
	}
	for _, lane := range []storage.PageLane{storage.PageUrgent, storage.PageUrgent, storage.PageBulk, storage.PageBulk, storage.PageBulk} {
		queue(lane)
	}
	c := h.counts()
	if c.Outbox != 1 || c.Fanout != 2 || c.Alerts != 3 || c.Fold != 4 || c.PagesUrgent != 2 || c.PagesBulk != 3 {
		t.Fatalf("set-up went wrong: %+v", c)
	}

	h.store.AddUsage(now, storage.Usage{Calls: 3, Fallbacks: 1, PromptTokens: 1000, CompletionTokens: 200, Sent: 7, SendErrors: 2})
	m := h.ask(adminID, adminID, "/stats")
	mustContain(t, m.Plain, "Sources: 2 (failing 1)", "Articles: 15", "Stories: 6", "Topics: 1",
		"Users: 2 approved, 0 pending, 0 banned", "Alerts sent today: 7", "Outbox: 1 messages",
		"Queues: 5 pages (2 urgent), 4 to fold, 3 to summarise, 2 to fan out",
		"LLM today: 3 calls, 1 extractive fallbacks, 1200 tokens (1000 in, 200 out)",
		"Errors today: 2 send errors, 1 failing sources", "Failing: Broken")

	h.store.UpdateUser(adminID, func(u *storage.User) { u.Lang = "ru" })
	m = h.ask(adminID, adminID, "/stats")
	mustContain(t, m.Plain, "Исходящие: 1 сообщений",
		"Очереди: страниц 5 (срочных 2), к группировке 4, к пересказу 3, к рассылке 2")
}

func TestUsersApproveBan(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	now := time.Now()
	h.ask(carolID, carolID, "/start", withName("Carol <&>")...)
	h.next(adminID)
	h.approved(aliceID, "en", "banks")
	h.store.PutTopic("banks", "bank", now)

	m := h.ask(adminID, adminID, "/users")
	mustContain(t, m.Plain, "Users (3)", "3001 Carol <&> — ⏳ pending", "2001 User 2001 — ✅ approved", "1 topics")

	m = h.ask(adminID, adminID, "/approve 3001")
	mustContain(t, m.Plain, "User 3001 (Carol <&>) is approved")
	mustContain(t, h.next(carolID).Plain, "approved")
	mustContain(t, h.ask(adminID, adminID, "/approve 3001").Plain, "already approved")
	mustContain(t, h.ask(adminID, adminID, "/approve 999").Plain, "There is no user 999")
	mustContain(t, h.ask(adminID, adminID, "/approve bob").Plain, "numeric user id")

	// Ban drops the user's queued alerts.
	h.saveArticle("https://a.example/1", "Bank news", "Text.", "Alpha", now, false, "banks")
	h.fanOut()
	if n := h.counts().Outbox; n != 1 {
		t.Fatalf("outbox %d", n)
	}
	m = h.ask(adminID, adminID, "/ban 2001")
	mustContain(t, m.Plain, "User 2001 (User 2001) is banned; 1 queued")
	if n := h.counts().Outbox; n != 0 || h.user(aliceID).Status != storage.StatusBanned {
		t.Errorf("after ban: outbox %d, user %+v", n, h.user(aliceID))
	}
	h.send(aliceID, aliceID, "/latest")
	h.sync()
	h.noMoreMessages(aliceID)

	// An id never seen can be banned ahead; admins cannot.
	mustContain(t, h.ask(adminID, adminID, "/ban 5005").Plain, "banned")
	if u := h.user(5005); u.Status != storage.StatusBanned {
		t.Errorf("pre-banned %+v", u)
	}
	mustContain(t, h.ask(adminID, adminID, fmt.Sprintf("/ban %d", adminID)).Plain, "can't be banned")
}
