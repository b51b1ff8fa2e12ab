package bot

// Issue 8: forged 🔎 callbacks and concurrent /test. TestAbuseForgedSimilar
// and TestAbuseTestBusy check the behaviour on a small archive;
// BenchmarkAbuse measures what the abuse costs the other users on a large
// one.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"dozor/internal/logging"
	"dozor/internal/pacer"
	"dozor/internal/query"
	"dozor/internal/search"
	"dozor/internal/testdata/newsgen"
	"dozor/internal/tgfake"
	"dozor/storage"
)

// gatedSearch is the search index with a gate: while it is shut, every
// call waits at it (and says so on held) until it opens, then runs
// without its deadline, so a test can hold the heavy slots as long as it
// needs to, however slow the machine. It counts the Similar calls.
type gatedSearch struct {
	Searcher
	held    chan struct{}
	similar atomic.Int64

	mu   sync.Mutex
	gate chan struct{} // nil: open
}

func newGatedSearch(s Searcher) *gatedSearch {
	return &gatedSearch{Searcher: s, held: make(chan struct{}, 64)}
}

// shut makes the next calls wait until open.
func (g *gatedSearch) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate == nil {
		g.gate = make(chan struct{})
	}
}

// open lets the waiting calls and every later one through; safe to call
// twice.
func (g *gatedSearch) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
}

// waitHeld waits until n calls wait at the gate.
func (g *gatedSearch) waitHeld(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-g.held:
		case <-time.After(waitLimit):
			t.Fatalf("%d of %d searches reached the gate", i, n)
		}
	}
}

func (g *gatedSearch) pass(ctx context.Context) context.Context {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate == nil {
		return ctx
	}
	g.held <- struct{}{}
	<-gate
	return context.WithoutCancel(ctx)
}

func (g *gatedSearch) Search(ctx context.Context, q *query.Query, opt search.Options) (search.Result, error) {
	return g.Searcher.Search(g.pass(ctx), q, opt)
}

func (g *gatedSearch) Matches(ctx context.Context, q *query.Query, limit int) ([]uint64, bool, error) {
	return g.Searcher.Matches(g.pass(ctx), q, limit)
}

func (g *gatedSearch) Similar(ctx context.Context, storyID uint64, title, text string, limit int) ([]search.Hit, error) {
	g.similar.Add(1)
	return g.Searcher.Similar(g.pass(ctx), storyID, title, text, limit)
}

// plant has the bot send chat a message with a 🔎 button for each of
// data, as a modified client could press them with any callback data
// under any of the bot's messages.
func plant(ctx context.Context, tb testing.TB, b *Bot, chat int64, data []string) *models.Message {
	tb.Helper()
	var rows [][]models.InlineKeyboardButton
	for i, d := range data {
		if i%8 == 0 {
			rows = append(rows, nil)
		}
		rows[len(rows)-1] = append(rows[len(rows)-1], models.InlineKeyboardButton{Text: "🔎 " + strconv.Itoa(i), CallbackData: d})
	}
	m := b.send(ctx, chat, "forged buttons", &models.InlineKeyboardMarkup{InlineKeyboard: rows})
	if m == nil {
		tb.Fatalf("could not plant the forged buttons in chat %d", chat)
	}
	return m
}

// simReply reports whether a message is 🔎's answer: the story's other
// coverage, similar stories, or that there are none.
func simReply(plain string) bool {
	for _, lang := range []string{langEN, "ru"} {
		for _, head := range []string{tr(lang, "sim_story", 0), tr(lang, "sim_similar", 0), tr(lang, "sim_none")} {
			head, _, _ = strings.Cut(stripTags(head), " (")
			if strings.HasPrefix(plain, head) {
				return true
			}
		}
	}
	return false
}

// deliverAll sends every queued alert as the deliver stage records it.
func deliverAll(tb testing.TB, st *storage.Store) {
	tb.Helper()
	msgs, err := st.Outbox(time.Now(), 0)
	if err != nil {
		tb.Fatal(err)
	}
	ids := make([]uint64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	if err := st.MarkSent(ids, time.Now()); err != nil {
		tb.Fatal(err)
	}
}

// TestAbuseForgedSimilar: 🔎 with callback data for a story the chat was
// neither sent nor follows a topic of, for one that does not exist, or
// for no number at all, shows nothing and runs no search; 🔎 on a story
// the chat follows or was sent works.
func TestAbuseForgedSimilar(t *testing.T) {
	t.Parallel()
	var gs *gatedSearch
	h := newHarness(t, func(o *Options) { gs = newGatedSearch(o.Search); o.Search = gs })
	h.approved(aliceID, "en", "vtb")
	h.approved(bobID, "en", "ai")
	now := time.Now()
	mine := h.saveArticle("https://a.example/vtb", "ВТБ откроет ИИ-центр в Китае", "ВТБ рассматривает создание центра искусственного интеллекта в Китае.", "РБК", now.Add(-3*time.Hour), true, "vtb")
	h.saveArticle("https://b.example/vtb", "ВТБ и Китай: новый центр", "Банк ВТБ откроет центр в Шанхае.", "ТАСС", now.Add(-2*time.Hour), false)
	bobs := h.saveArticle("https://c.example/ai", "Сбербанк запустил ИИ-ассистента", "Сбербанк представил помощника на основе искусственного интеллекта.", "Интерфакс", now.Add(-time.Hour), true, "ai")
	nobodys := h.saveArticle("https://d.example/weather", "Погода в Москве", "Дожди и ветер.", "ТАСС", now.Add(-30*time.Minute), false)
	// Bob is sent his alert, then stops following "ai": the story stays his
	// to open because it was delivered to him.
	h.fanOut()
	deliverAll(t, h.store)
	if !h.store.Delivered(bobID, bobs.StoryID) || h.store.Delivered(aliceID, bobs.StoryID) {
		t.Fatalf("delivered to bob %v, to alice %v; want only bob", h.store.Delivered(bobID, bobs.StoryID), h.store.Delivered(aliceID, bobs.StoryID))
	}
	if _, err := h.store.UpdateUser(bobID, func(u *storage.User) { u.Topics = nil }); err != nil {
		t.Fatal(err)
	}

	gone, expired := stripTags(tr("en", "story_gone")), stripTags(tr("en", "cb_expired"))
	sim := func(id uint64) string { return "sim:" + strconv.FormatUint(id, 10) }
	forged := []struct{ data, want string }{
		{sim(bobs.StoryID), gone},    // sent to bob, on a topic alice does not follow
		{sim(nobodys.StoryID), gone}, // on no topic, sent to nobody
		{sim(nobodys.StoryID + 1000), gone},
		{sim(0), gone},
		{sim(math.MaxUint64), gone},
		{"sim:abc", expired},
		{"sim:-1", expired},
		{"sim:", expired},
	}
	data := []string{sim(mine.StoryID)}
	for _, f := range forged {
		data = append(data, f.data)
	}
	bait := plant(context.Background(), t, h.bot, aliceID, data)
	if m := h.next(aliceID); m.ID != bait.ID {
		t.Fatalf("message %d in alice's chat, want the planted %d", m.ID, bait.ID)
	}
	baitMsg := h.message(aliceID, bait.ID)
	for _, f := range forged {
		if ans := h.press(aliceID, aliceID, baitMsg, f.data); ans.Text != f.want {
			t.Errorf("alice's %s: answered %q, want %q", f.data, ans.Text, f.want)
		}
	}
	h.noMoreMessages(aliceID)
	if n := gs.similar.Load(); n != 0 {
		t.Errorf("forged 🔎 ran %d similar searches", n)
	}

	// Bob may not open alice's story either.
	bobBait := plant(context.Background(), t, h.bot, bobID, []string{sim(mine.StoryID), sim(bobs.StoryID)})
	h.next(bobID)
	if ans := h.press(bobID, bobID, h.message(bobID, bobBait.ID), sim(mine.StoryID)); ans.Text != gone {
		t.Errorf("bob's 🔎 on alice's story: answered %q, want %q", ans.Text, gone)
	}
	h.noMoreMessages(bobID)

	// The real ones work: alice's on her topic, bob's on the story he was
	// sent.
	if ans := h.press(aliceID, aliceID, baitMsg, sim(mine.StoryID)); ans.Text != "" {
		t.Errorf("alice's own 🔎: answered %q", ans.Text)
	}
	if m := h.next(aliceID); !simReply(m.Plain) {
		t.Errorf("alice's own 🔎: %q", m.Plain)
	}
	if ans := h.press(bobID, bobID, h.message(bobID, bobBait.ID), sim(bobs.StoryID)); ans.Text != "" {
		t.Errorf("bob's 🔎 on the story he was sent: answered %q", ans.Text)
	}
	if m := h.next(bobID); !simReply(m.Plain) {
		t.Errorf("bob's 🔎 on the story he was sent: %q", m.Plain)
	}
	if n := gs.similar.Load(); n != 2 {
		t.Errorf("%d similar searches, want 2", n)
	}
	h.noMoreMessages(aliceID)
	h.noMoreMessages(bobID)
}

// TestAbuseTestBusy: while two /test hold both heavy slots, a third admin's
// /test, a subscriber's /search and 🔎 are told the bot is busy, and
// commands that read no archive are answered; once the two finish, /test
// runs again.
func TestAbuseTestBusy(t *testing.T) {
	t.Parallel()
	admins := []int64{adminID, adminID + 1, adminID + 2}
	var gs *gatedSearch
	h := newStoppedHarness(t, nil, func(o *Options) {
		gs = newGatedSearch(o.Search)
		o.Search = gs
		o.AdminIDs = admins
	})
	for _, id := range admins[1:] {
		h.fake.AddChat(id)
	}
	h.start()
	t.Cleanup(gs.open) // before the bot stops: no handler is left waiting
	h.approved(aliceID, "en", "vtb")
	now := time.Now()
	mine := h.saveArticle("https://a.example/vtb", "ВТБ откроет центр в Китае", "Банк ВТБ сообщил о планах.", "РБК", now.Add(-2*time.Hour), false, "vtb")
	h.saveArticle("https://b.example/vtb", "VTB and China: new AI hub", "The bank plans a centre in Shanghai.", "Finextra", now.Add(-time.Hour), false)
	bait := plant(context.Background(), t, h.bot, aliceID, []string{"sim:" + strconv.FormatUint(mine.StoryID, 10)})
	h.next(aliceID)
	busy := stripTags(tr("en", "busy"))

	gs.shut()
	h.send(admins[0], admins[0], "/test ВТБ")
	h.send(admins[1], admins[1], "/test (ВТБ OR VTB) (Китай OR China)")
	gs.waitHeld(t, 2)
	if m := h.ask(admins[2], admins[2], "/test ВТБ"); m.Plain != busy {
		t.Errorf("a third /test: %q, want %q", m.Plain, busy)
	}
	if m := h.ask(aliceID, aliceID, "/search ВТБ"); m.Plain != busy {
		t.Errorf("/search while two /test run: %q, want %q", m.Plain, busy)
	}
	// Not h.press: it waits for every update to be handled, the two held
	// /test too.
	qid := h.fake.SendCallback(aliceID, aliceID, bait.ID, "sim:"+strconv.FormatUint(mine.StoryID, 10))
	h.sent++
	actx, acancel := context.WithTimeout(context.Background(), waitLimit)
	defer acancel()
	if ans, err := h.fake.WaitCallbackAnswer(actx, qid); err != nil || ans.Text != busy {
		t.Errorf("🔎 while two /test run: answered %q (%v), want %q", ans.Text, err, busy)
	}
	mustContain(t, h.ask(aliceID, aliceID, "/help").Plain, "/subscribe")
	select {
	case <-gs.held:
		t.Error("a refused command reached the index")
	default:
	}

	gs.open()
	mustContain(t, h.next(admins[0]).Plain, "ВТБ matches 1 of 2 articles")
	mustContain(t, h.next(admins[1]).Plain, "matches 2 of 2 articles")
	mustContain(t, h.ask(admins[2], admins[2], "/test ВТБ").Plain, "ВТБ matches 1 of 2 articles")
	h.sync()
	for _, id := range append(admins, aliceID) {
		h.noMoreMessages(id)
	}
}

// The abuse of issue 8 on the 2-core machine.
const (
	abuseUsers     = 32 // users pressing forged 🔎
	abuseAdmins    = 16 // admins sending /test
	abuseOthers    = 4  // users sending /help, whose replies are timed
	abuseDelivered = 4  // stories delivered, each to a quarter of the abusive users
	abuseButtons   = 48 // forged buttons planted in each abusive user's chat
	abusePressGap  = 100 * time.Millisecond
	abuseTestGap   = 250 * time.Millisecond
	abuseHelpGap   = 1200 * time.Millisecond // over the pacer's gap per private chat
	abuseReplyMax  = time.Second
	abuseGiveUp    = 40 * time.Second // an unanswered /help counts as lost
)

// BenchmarkAbuse runs issue 8's abuse against the bot over an archive of
// 50,000 articles (5,000 with -short), built as BenchmarkSearchRSS builds
// its own (DOZOR_SEARCHRSS_ARCHIVE keeps it):
//
//	go test ./bot -run '^$' -bench Abuse -benchtime 1x -timeout 30m
//
// Four stories are delivered to the abusive users, each to a quarter of
// them. For 20 seconds (5 with -short) 32 approved users each press a
// forged 🔎 every 100 ms, picked at random from 48 planted in their chat:
// stories delivered to the other quarters, random stories of the archive
// (delivered to nobody), ids of no story, 0, the largest id, and
// callback data that is no number; 16 admins each send /test every
// 250 ms, broad queries on the generator's vocabulary; and 4 other users
// each send /help every 1.2 s and wait for the reply. It reports the
// other users' reply latency (others-p50-ms, others-p99-ms, others-max-ms,
// and others-lost, the replies not there after 40 s), peak-RSS-MiB (VmHWM
// from the start of the abuse), and what the abuse got: forged presses
// sent and answered, /test results and refusals. It fails when an other
// user's reply took over a second or was lost, when the peak is 300 MiB
// or more, when any forged 🔎 was answered with anything but a refusal
// or showed anything in the chat, or when the control after the abuse (an
// abusive user's 🔎 on a story delivered to it) shows no similar stories.
//
// It runs twice: pacer=telegram with the pacer production runs (30 sends
// a second overall, callback answers included, one a second per chat)
// against a fake that enforces Telegram's limits, and pacer=unlimited
// with a pacer and fake that allow 1,000 a second, to tell the bot's own
// work from the wait for Telegram's limits.
func BenchmarkAbuse(b *testing.B) {
	n, load := 50_000, 20*time.Second
	if testing.Short() {
		n, load = 5_000, 5*time.Second
	}
	dir, info := rssArchive(b, n)
	for _, telegram := range []bool{true, false} {
		name := "pacer=unlimited"
		if telegram {
			name = "pacer=telegram"
		}
		b.Run(name, func(b *testing.B) {
			res := abuseRun(b, dir, info, telegram, load)
			b.ReportMetric(rssMS(res.other50), "others-p50-ms")
			b.ReportMetric(rssMS(res.other99), "others-p99-ms")
			b.ReportMetric(rssMS(res.otherMax), "others-max-ms")
			b.ReportMetric(float64(res.lost), "others-lost")
			b.ReportMetric(res.peak, "peak-RSS-MiB")
			b.ReportMetric(float64(res.presses), "forged-sent")
			b.ReportMetric(float64(res.answered), "forged-answered")
			b.ReportMetric(float64(res.tests), "test-results")
			b.ReportMetric(float64(res.testRefused), "test-refused")
			if res.otherMax > abuseReplyMax || res.lost > 0 {
				b.Errorf("other users' replies: max %.0f ms, %d lost; target every one within %v", rssMS(res.otherMax), res.lost, abuseReplyMax)
			}
			if res.peak >= rssTarget {
				b.Errorf("peak RSS under abuse %.0f MiB, target under %d MiB", res.peak, rssTarget)
			}
		})
	}
}

type abuseResult struct {
	other50, other99, otherMax time.Duration
	lost                       int
	peak                       float64
	presses, answered          int
	tests, testRefused         int
}

// abusePress is one forged 🔎 press and the answer it should get.
type abusePress struct {
	qid, data, want string
}

func abuseRun(b *testing.B, dir string, info rssInfo, telegram bool, load time.Duration) abuseResult {
	// A copy of the store, since the run adds users and deliveries; the
	// index is only read.
	work := b.TempDir()
	abuseCopy(b, filepath.Join(dir, "dozor.db"), filepath.Join(work, "dozor.db"))
	st, err := storage.Open(filepath.Join(work, "dozor.db"), storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	idx, fresh, err := search.Open(filepath.Join(dir, "dozor.search"))
	if err != nil {
		b.Fatal(err)
	}
	defer idx.Close()
	if fresh {
		b.Fatal("the archive's index was thrown away on open")
	}
	g, err := newsgen.New(newsgen.Options{Seed: 9, Dir: "../internal/testdata", Now: info.Now, Count: info.Articles})
	if err != nil {
		b.Fatal(err)
	}

	abusers, admins, others := abuseIDs(7001, abuseUsers), abuseIDs(8001, abuseAdmins), abuseIDs(9001, abuseOthers)
	now := time.Now()
	for _, id := range slices.Concat(abusers, admins, others) {
		_, _, err := st.CreateUser(storage.User{ID: id, ChatID: id, Name: "User " + strconv.FormatInt(id, 10), Lang: langEN,
			Status: storage.StatusApproved, Mode: storage.ModeInstant, TZ: "UTC", Created: now, Updated: now})
		if err != nil {
			b.Fatal(err)
		}
	}
	delivered := abuseDeliver(b, st, g, info.Articles, abusers)

	var (
		pace *pacer.Pacer
		fake *tgfake.Server
	)
	if telegram {
		pace = pacer.New(30)
		fake = tgfake.New(b, testToken) // Telegram's limits
	} else {
		pace = pacer.NewLimits(pacer.Limits{PerSecond: 1000, PrivateGap: time.Millisecond, PrivateBurst: 100, GroupGap: time.Millisecond})
		fake = tgfake.New(b, testToken, tgfake.WithoutRateLimits())
	}
	pctx, pcancel := context.WithCancel(context.Background())
	pdone := make(chan error, 1)
	go func() { pdone <- pace.Run(pctx) }()
	defer func() { pcancel(); <-pdone }()
	for _, id := range slices.Concat(abusers, admins, others) {
		fake.AddChat(id)
	}
	logs := &syncBuffer{}
	bt, stop := runBot(b, Options{
		Token: testToken, APIURL: fake.URL(), AdminIDs: admins, Access: AccessApproval, SummaryLang: "ru",
		Store: st, Search: idx, Pacer: pace, NoticeEvery: time.Minute,
		Log: logging.New(logs, "text", slog.LevelWarn, testToken),
	})
	defer stop()

	// The forged buttons, and a real one for the control: each of them
	// checked not to be one the user may open.
	gone, expired, slow := stripTags(tr(langEN, "story_gone")), stripTags(tr(langEN, "cb_expired")), stripTags(tr(langEN, "slow_down"))
	type abuser struct {
		id     int64
		bait   int
		forged []abusePress // data and want only
		real   string
	}
	users := make([]abuser, len(abusers))
	for k, id := range abusers {
		r := rand.New(rand.NewPCG(uint64(id), 8))
		u, err := st.User(id)
		if err != nil {
			b.Fatal(err)
		}
		a := abuser{id: id, real: "sim:" + strconv.FormatUint(delivered[k%abuseDelivered], 10)}
		var ids []uint64
		for j, s := range delivered {
			if j != k%abuseDelivered {
				ids = append(ids, s) // delivered to others
			}
		}
		ids = append(ids, 0, math.MaxUint64, uint64(info.Stories)+100_000+uint64(k), r.Uint64())
		for len(ids) < abuseButtons-4 {
			ids = append(ids, 1+r.Uint64N(uint64(info.Stories)))
		}
		for _, s := range ids {
			if _, ok := bt.viewable(u, s); ok {
				b.Fatalf("user %d may open story %d: not a forged button", id, s)
			}
			a.forged = append(a.forged, abusePress{data: "sim:" + strconv.FormatUint(s, 10), want: gone})
		}
		for _, d := range []string{"sim:abc", "sim:-1", "sim:", "sim:0x10"} {
			a.forged = append(a.forged, abusePress{data: d, want: expired})
		}
		data := []string{a.real}
		for _, f := range a.forged {
			data = append(data, f.data)
		}
		a.bait = plant(context.Background(), b, bt, id, data).ID
		users[k] = a
	}
	queries := abuseQueries(b, g)
	// Each other user's first /help, before the abuse: the bot is ready.
	for _, id := range others {
		fake.SendText(id, id, "/help")
	}
	for _, id := range others {
		wctx, wcancel := context.WithTimeout(context.Background(), abuseGiveUp)
		_, err := fake.WaitMessages(wctx, id, 1)
		wcancel()
		if err != nil {
			b.Fatalf("user %d: no reply to /help before the abuse: %v", id, err)
		}
	}

	runtime.GC()
	debug.FreeOSMemory()
	before, _ := rssProc("VmRSS")
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("could not reset the RSS high-water mark (%v): peak-RSS-MiB includes everything before", err)
	}
	var sampled float64
	stopSample, sampleDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampleDone)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, err := rssProc("VmRSS"); err == nil {
				sampled = max(sampled, v)
			}
			select {
			case <-stopSample:
				return
			case <-tick.C:
			}
		}
	}()

	b.ResetTimer()
	start := time.Now()
	lctx, lcancel := context.WithDeadline(context.Background(), start.Add(load))
	defer lcancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		presses []abusePress
		lat     []time.Duration
		lost    atomic.Int64
		tests   atomic.Int64
	)
	every := func(gap time.Duration, f func()) {
		tick := time.NewTicker(gap)
		defer tick.Stop()
		for {
			f()
			select {
			case <-lctx.Done():
				return
			case <-tick.C:
			}
		}
	}
	for _, a := range users {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(a.id), 9))
			time.Sleep(time.Duration(r.IntN(100)) * time.Millisecond)
			var mine []abusePress
			every(abusePressGap, func() {
				p := a.forged[r.IntN(len(a.forged))]
				p.qid = fake.SendCallback(a.id, a.id, a.bait, p.data)
				mine = append(mine, p)
			})
			mu.Lock()
			presses = append(presses, mine...)
			mu.Unlock()
		})
	}
	for k, id := range admins {
		wg.Go(func() {
			n := k
			time.Sleep(time.Duration(k) * abuseTestGap / abuseAdmins)
			every(abuseTestGap, func() {
				fake.SendText(id, id, "/test "+queries[n%len(queries)])
				tests.Add(1)
				n += 3
			})
		})
	}
	for k, id := range others {
		wg.Go(func() {
			time.Sleep(time.Second + time.Duration(k)*abuseHelpGap/abuseOthers) // the flood is on by then
			seen := 1
			for lctx.Err() == nil {
				t0 := time.Now()
				fake.SendText(id, id, "/help")
				wctx, wcancel := context.WithTimeout(context.Background(), abuseGiveUp)
				msgs, err := fake.WaitMessages(wctx, id, seen+1)
				wcancel()
				if err != nil {
					lost.Add(1)
					return // a late reply would be taken for the next one's
				}
				d := time.Since(t0)
				seen++
				if !strings.Contains(msgs[seen-1].Plain, "/subscribe") {
					b.Errorf("user %d: /help answered %q", id, msgs[seen-1].Plain)
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				time.Sleep(time.Until(t0.Add(abuseHelpGap)))
			}
		})
	}
	wg.Wait()
	loadEnd := time.Since(start)
	// Let the bot finish what it took: no update waiting, nothing handled
	// for two seconds.
	drainStart := time.Now()
	last, lastAt := bt.handled.Load(), time.Now()
	for time.Since(drainStart) < 3*time.Minute {
		time.Sleep(100 * time.Millisecond)
		if h := bt.handled.Load(); h != last || fake.PendingUpdates() > 0 {
			last, lastAt = h, time.Now()
		} else if time.Since(lastAt) >= 2*time.Second {
			break
		}
	}
	drained := lastAt.Sub(drainStart)
	b.StopTimer()
	close(stopSample)
	<-sampleDone
	peak, err := rssProc("VmHWM")
	if err != nil {
		b.Fatal(err)
	}
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)

	res := abuseResult{other50: rssPercentile(lat, 50), other99: rssPercentile(lat, 99), otherMax: rssPercentile(lat, 100),
		lost: int(lost.Load()), peak: peak, presses: len(presses)}

	// Forged 🔎: refused, nothing shown in the chat.
	unanswered := 0
	byAnswer := map[string]int{}
	for _, p := range presses {
		if p.qid == "" {
			b.Fatalf("a forged press of %q was not sent", p.data)
		}
		ans, ok := fake.CallbackAnswer(p.qid)
		if !ok {
			unanswered++
			continue
		}
		res.answered++
		byAnswer[ans.Text]++
		if ans.Text != p.want && ans.Text != slow {
			b.Errorf("forged %s answered %q, want %q", p.data, ans.Text, p.want)
		}
	}
	for _, a := range users {
		for _, m := range fake.Messages(a.id) {
			if m.ID != a.bait {
				b.Errorf("user %d was shown %q after forged 🔎", a.id, m.Plain)
			}
		}
	}
	// What /test got: results or refusals.
	busy, slowHeavy := stripTags(tr(langEN, "busy")), stripTags(tr(langEN, "slow_down_heavy"))
	byKind := map[string]int{}
	for _, id := range admins {
		for _, m := range fake.Messages(id) {
			switch {
			case strings.Contains(m.Plain, " articles of the last 7 days"):
				byKind["result"]++
			case m.Plain == busy:
				byKind["busy"]++
			case m.Plain == slowHeavy:
				byKind["slow down (heavy)"]++
			case m.Plain == slow:
				byKind["slow down (budget)"]++
			case strings.HasPrefix(m.Plain, "• "): // a result's second message
				byKind["result, continued"]++
			default:
				byKind["other"]++
				b.Errorf("admin %d got %q", id, m.Plain)
			}
		}
	}
	res.tests, res.testRefused = byKind["result"], byKind["busy"]+byKind["slow down (heavy)"]+byKind["slow down (budget)"]
	if res.tests == 0 {
		b.Error("no /test was served")
	}

	// The control: an abusive user's 🔎 on a story it was sent shows the
	// similar stories, so the forged ones would have shown something.
	time.Sleep(1500 * time.Millisecond) // its update budget refills
	for j := range abuseDelivered {
		a := users[j]
		var ans tgfake.CallbackAnswer
		for try := 0; ; try++ {
			qid := fake.SendCallback(a.id, a.id, a.bait, a.real)
			actx, acancel := context.WithTimeout(context.Background(), abuseGiveUp)
			ans, err = fake.WaitCallbackAnswer(actx, qid)
			acancel()
			if err != nil {
				b.Fatalf("user %d: no answer to 🔎 on its story: %v", a.id, err)
			}
			if ans.Text != busy || try == 5 {
				break
			}
			time.Sleep(time.Second)
		}
		if ans.Text != "" {
			b.Errorf("user %d: 🔎 on its story answered %q", a.id, ans.Text)
			continue
		}
		wctx, wcancel := context.WithTimeout(context.Background(), abuseGiveUp)
		msgs, err := fake.WaitMessages(wctx, a.id, 2)
		wcancel()
		if err != nil {
			b.Errorf("user %d: 🔎 on its story showed nothing: %v", a.id, err)
		} else if !simReply(msgs[1].Plain) || !strings.Contains(msgs[1].Plain, "Similar stories") {
			b.Errorf("user %d: 🔎 on its story showed %q, want similar stories", a.id, msgs[1].Plain)
		}
	}

	answers := make([]string, 0, len(byAnswer))
	for text, c := range byAnswer {
		answers = append(answers, fmt.Sprintf("%d × %q", c, text))
	}
	slices.Sort(answers)
	b.Logf("%v of abuse (%d abusive users, %d admins, %d others), then %v until the bot was done",
		loadEnd.Round(time.Millisecond), abuseUsers, abuseAdmins, abuseOthers, drained.Round(time.Millisecond))
	b.Logf("forged 🔎: %d pressed, %d answered (%s), %d not (over the update budget, or answered too late)",
		len(presses), res.answered, strings.Join(answers, ", "), unanswered)
	b.Logf("/test: %d sent; %v", tests.Load(), byKind)
	b.Logf("others' /help: %d answered, p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d lost",
		len(lat), rssMS(res.other50), rssMS(res.other99), rssMS(res.otherMax), res.lost)
	b.Logf("RSS %.0f MiB before the abuse; peak %.0f MiB (VmHWM), %.0f MiB (sampled); Go heap in use %.0f MiB; %s",
		before, peak, sampled, float64(mem.HeapInuse)/(1<<20), rssMaps())
	logText := logs.String()
	b.Logf("fake: %d × 429; bot log: %d warnings or errors (%d callback answers failed, %d replies not delivered, %d flood-control pauses)",
		fake.Count429(), strings.Count(logText, "\n"), strings.Count(logText, "answer callback"),
		strings.Count(logText, "reply not delivered"), strings.Count(logText, "flood control"))
	return res
}

// abuseDeliver adds abuseDelivered new stories, articles from beyond the
// archive's end, and delivers story j to the abusive users k with
// k % abuseDelivered == j, as the fold, fan-out and deliver stages would.
// It returns the stories' ids.
func abuseDeliver(b *testing.B, st *storage.Store, g *newsgen.Gen, n int, users []int64) []uint64 {
	b.Helper()
	now := time.Now()
	na := make([]storage.NewArticle, abuseDelivered)
	for j := range na {
		a := g.Article(n + j)
		na[j] = storage.NewArticle{
			Article: storage.Article{Key: a.URL, URL: a.URL, Title: a.Title, Text: a.Text, Source: a.Source,
				Published: now.Add(-time.Hour), Fetched: now, Lang: a.Lang},
			Page: storage.PageNone,
			Host: a.Host,
		}
	}
	saved, err := st.SaveFetches([]storage.FetchResult{{Articles: na}})
	if err != nil {
		b.Fatal(err)
	}
	if len(saved) != 1 || len(saved[0]) != abuseDelivered {
		b.Fatalf("saved %v, want %d articles", saved, abuseDelivered)
	}
	which := map[uint64]int{} // article → j
	for j, a := range saved[0] {
		which[a.ID] = j
	}
	stories := make([]uint64, abuseDelivered)
	var alerts []storage.Summarized
	_, err = st.FoldBatch(100, now, func(tx *storage.FoldTx, job storage.FoldJob) error {
		j, ok := which[job.Article.ID]
		if !ok {
			return fmt.Errorf("article %d in the fold queue", job.Article.ID)
		}
		s, err := tx.NewStory(&job.Article)
		if err != nil {
			return err
		}
		stories[j] = s.ID
		a, err := tx.QueueAlert(storage.Alert{StoryID: s.ID, ArticleID: job.Article.ID, Topics: []string{"abuse"}, Created: now})
		if err != nil {
			return err
		}
		alerts = append(alerts, storage.Summarized{Alert: *a})
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if len(alerts) != abuseDelivered {
		b.Fatalf("%d alerts, want %d", len(alerts), abuseDelivered)
	}
	if err := st.SaveSummaries(alerts, now, storage.Usage{}); err != nil {
		b.Fatal(err)
	}
	_, queued, err := st.FanOutBatch(500, now, func([]storage.User) func(storage.Alert) []storage.Recipient {
		return func(a storage.Alert) []storage.Recipient {
			var out []storage.Recipient
			j := slices.Index(stories, a.StoryID)
			for k, id := range users {
				if k%abuseDelivered == j {
					out = append(out, storage.Recipient{UserID: id, Topics: a.Topics})
				}
			}
			return out
		}
	})
	if err != nil || queued != len(users) {
		b.Fatalf("fan out: %d messages queued (%v), want %d", queued, err, len(users))
	}
	deliverAll(b, st)
	for k, id := range users {
		for j, s := range stories {
			if st.Delivered(id, s) != (k%abuseDelivered == j) {
				b.Fatalf("story %d delivered to user %d: %v", s, id, st.Delivered(id, s))
			}
		}
	}
	return stories
}

// abuseQueries are topic queries for /test, from the generator's
// vocabulary: single frequent words, pairs, OR, exclusions.
func abuseQueries(b *testing.B, g *newsgen.Gen) []string {
	b.Helper()
	var out []string
	for _, q := range rssQueries(g) {
		if _, err := query.ParseTopic(q); err == nil {
			out = append(out, q)
		}
	}
	if len(out) < 8 {
		b.Fatalf("only %d topic queries: %q", len(out), out)
	}
	return out
}

// abuseCopy copies the file from to to.
func abuseCopy(b *testing.B, from, to string) {
	b.Helper()
	src, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		b.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		b.Fatal(err)
	}
}

// abuseIDs is n user ids from from on.
func abuseIDs(from int64, n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = from + int64(i)
	}
	return ids
}
