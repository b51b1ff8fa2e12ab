package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tg "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"dozor/internal/tgfake"
	"dozor/storage"
)

const dlvToken = "123456:AAE-dozor_deliver_test_secret_0123456"

const dlvTopic = "vtb-china"

// dlvEnv is a real store in a temp dir, a strict fake Telegram and a
// go-telegram client pointed at it.
type dlvEnv struct {
	t     testing.TB
	path  string
	store *storage.Store
	fake  *tgfake.Server
	api   *tg.Bot
	logs  *dlvLogBuffer
	clock *dlvClock
	seq   int
}

func newDlvEnv(t testing.TB, opts ...tgfake.Option) *dlvEnv {
	t.Helper()
	e := &dlvEnv{t: t, path: filepath.Join(t.TempDir(), "dozor.db"), logs: &dlvLogBuffer{}, clock: &dlvClock{}}
	e.open(storage.Options{})
	e.fake = tgfake.New(t, dlvToken, opts...)
	api, err := tg.New(e.fake.Token(), tg.WithServerURL(e.fake.URL()), tg.WithSkipGetMe())
	if err != nil {
		t.Fatal(err)
	}
	e.api = api
	if _, err := e.store.PutTopic(dlvTopic, "ВТБ AND Китай", time.Now()); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *dlvEnv) open(opts storage.Options) {
	e.t.Helper()
	opts.Timeout = 5 * time.Second
	st, err := storage.Open(e.path, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = st
	e.t.Cleanup(func() { _ = st.Close() })
}

// user creates an approved subscriber of dlvTopic whose alerts go to chat,
// and tells the fake the chat exists unless known is false.
func (e *dlvEnv) user(id, chat int64, known bool) {
	e.t.Helper()
	_, _, err := e.store.CreateUser(storage.User{
		ID: id, ChatID: chat, Name: fmt.Sprint("user ", id), Lang: "ru",
		Status: storage.StatusApproved, Mode: storage.ModeInstant, TZ: "Europe/Moscow",
		Topics: []string{dlvTopic}, Created: time.Now(),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if known {
		e.fake.AddChat(chat)
	}
}

func (e *dlvEnv) users(n int) []int64 {
	var ids []int64
	for i := range n {
		id := int64(1000 + i)
		e.user(id, id, true)
		ids = append(ids, id)
	}
	return ids
}

// story stores a new article on dlvTopic with a summary and fans its alert
// out to the subscribers; it returns the story id.
func (e *dlvEnv) story(title string) uint64 {
	e.t.Helper()
	e.seq++
	now := time.Now()
	url := fmt.Sprintf("https://www.rbc.ru/finances/%d/vtb.html?a=1&b=2", e.seq)
	res, err := e.store.SaveFetches([]storage.FetchResult{{Articles: []storage.NewArticle{{
		Article: storage.Article{
			Key: url, URL: url, Title: title, Source: "RBC", Published: now.Add(-time.Minute),
			Text: "ВТБ открывает отделение в Китае.", Topics: []string{dlvTopic},
		},
		Alertable: true,
	}}}}, now)
	if err != nil {
		e.t.Fatal(err)
	}
	saved := res[0][0]
	if saved.Alert == nil {
		e.t.Fatalf("no alert for %q", title)
	}
	_, err = e.store.PutSummary(storage.Summary{
		StoryID: saved.Article.StoryID, Lang: "ru", Created: now,
		Text:      "Банк расширяет присутствие в Китае. Отделение начнёт работу в декабре.",
		KeyPoints: []string{"Шанхай", "декабрь"},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.FanOut(saved.Alert.ID, now); err != nil {
		e.t.Fatal(err)
	}
	return saved.Article.StoryID
}

func (e *dlvEnv) deliverer(api Sender) *Deliverer {
	return &Deliverer{
		Store: e.store, API: api, SummaryLang: "ru", Now: e.clock.Now,
		Log: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// run starts d and returns a function that stops it and checks Run's
// result.
func (e *dlvEnv) run(d *Deliverer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("Run: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

// waitFor polls cond; the deadline only keeps a broken test from hanging.
func (e *dlvEnv) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("gave up waiting for %s\nlogs:\n%s", what, e.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *dlvEnv) waitEmpty() {
	e.t.Helper()
	e.waitFor("an empty outbox", func() bool { return e.store.OutboxLen() == 0 })
}

func (e *dlvEnv) checkLogs() {
	e.t.Helper()
	if strings.Contains(e.logs.String(), "AAE-dozor_deliver_test_secret") {
		e.t.Errorf("the bot token leaked into the logs:\n%s", e.logs.String())
	}
}

type dlvLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *dlvLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *dlvLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// dlvClock is real time plus an offset a test can move forward.
type dlvClock struct{ off atomic.Int64 }

func (c *dlvClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *dlvClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

func TestDeliverOneAlertWithKeyboard(t *testing.T) {
	e := newDlvEnv(t)
	e.user(1, 1, true)
	story := e.story("ВТБ <открыл> отделение в Шанхае & Пекине")
	e.run(e.deliverer(e.api))
	msgs, err := e.fake.WaitMessages(context.Background(), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	e.waitEmpty()
	m := msgs[0]
	if m.ParseMode != "HTML" {
		t.Errorf("parse mode %q", m.ParseMode)
	}
	if !strings.HasPrefix(m.Plain, "ВТБ <открыл> отделение в Шанхае & Пекине\nRBC · ") || !strings.Contains(m.Plain, "Темы: vtb-china") ||
		!strings.Contains(m.Plain, "Банк расширяет присутствие в Китае.") || !strings.Contains(m.Plain, "• Шанхай") {
		t.Errorf("unexpected text:\n%s", m.Plain)
	}
	var link string
	for _, en := range m.Entities {
		if en.Type == models.MessageEntityTypeTextLink {
			link = en.URL
		}
	}
	if link != "https://www.rbc.ru/finances/1/vtb.html?a=1&b=2" {
		t.Errorf("link %q", link)
	}
	if b, ok := m.Button("🔕 Заглушить vtb-china"); !ok || b.CallbackData != "mute:vtb-china" {
		t.Errorf("mute button: %+v %v", b, ok)
	}
	if b, ok := m.Button("🔎 Похожие"); !ok || b.CallbackData != fmt.Sprintf("sim:%d", story) {
		t.Errorf("similar button: %+v %v", b, ok)
	}
	if !e.store.Delivered(1, story) {
		t.Error("story not recorded as delivered")
	}
	e.waitFor("usage counters", func() bool {
		u, _ := e.store.Usage(time.Now())
		return u.Sent == 1
	})
	e.checkLogs()
}

func TestDeliverGroupsQueuedStories(t *testing.T) {
	tests := []struct {
		name     string
		stories  int
		messages []int // stories listed per message
	}{
		{"one story", 1, []int{1}},
		{"five stories, one message", 5, []int{5}},
		{"seven stories, five then two", 7, []int{5, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newDlvEnv(t, tgfake.WithPerChatLimit(1, 1))
			e.user(1, 1, true)
			var ids []uint64
			for i := range tt.stories {
				ids = append(ids, e.story(fmt.Sprintf("Сюжет номер %d", i+1)))
			}
			e.run(e.deliverer(e.api))
			msgs, err := e.fake.WaitMessages(context.Background(), 1, len(tt.messages))
			if err != nil {
				t.Fatal(err)
			}
			e.waitEmpty()
			msgs = e.fake.Messages(1)
			if len(msgs) != len(tt.messages) {
				t.Fatalf("%d messages, want %d", len(msgs), len(tt.messages))
			}
			next := 1
			for i, m := range msgs {
				for k := 0; k < tt.messages[i]; k++ {
					title := fmt.Sprintf("Сюжет номер %d", next)
					if !strings.Contains(m.Plain, title) {
						t.Errorf("message %d lacks %q:\n%s", i, title, m.Plain)
					}
					next++
				}
				if strings.Contains(m.Plain, fmt.Sprintf("Сюжет номер %d\n", next)) {
					t.Errorf("message %d lists story %d too early", i, next)
				}
			}
			if len(tt.messages) > 1 {
				if !strings.HasPrefix(msgs[0].Plain, fmt.Sprintf("🗞 Новых сюжетов: %d", tt.stories)) || !strings.HasSuffix(msgs[0].Plain, fmt.Sprintf("и ещё %d", tt.stories-tt.messages[0])) {
					t.Errorf("first message does not announce the rest:\n%s", msgs[0].Plain)
				}
				if gap := msgs[1].Sent.Sub(msgs[0].Sent); gap < time.Second {
					t.Errorf("messages to one chat %v apart", gap)
				}
			}
			for _, id := range ids {
				if !e.store.Delivered(1, id) {
					t.Errorf("story %d not recorded as delivered", id)
				}
			}
			if n := e.fake.Count429(); n != 0 {
				t.Errorf("%d 429s", n)
			}
		})
	}
}

func TestDeliverPacing(t *testing.T) {
	// The fake enforces 30 a second overall (sliding window) and one a
	// second per chat with no burst. MaxGroup 1 makes every story its own
	// message, so each chat gets several in a row.
	tests := []struct {
		name           string
		users, stories int
	}{
		{"broadcast to 100", 100, 2},
		{"few chats, many stories", 3, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newDlvEnv(t, tgfake.WithGlobalLimit(30), tgfake.WithPerChatLimit(1, 1))
			ids := e.users(tt.users)
			for i := range tt.stories {
				e.story(fmt.Sprintf("Сюжет %d", i))
			}
			d := e.deliverer(e.api)
			d.MaxGroup = 1
			e.run(d)
			e.waitEmpty()
			if n := e.fake.Count429(); n != 0 {
				t.Errorf("%d 429s", n)
			}
			for _, id := range ids {
				msgs := e.fake.Messages(id)
				if len(msgs) != tt.stories {
					t.Fatalf("chat %d got %d messages", id, len(msgs))
				}
				for i := 1; i < len(msgs); i++ {
					if gap := msgs[i].Sent.Sub(msgs[i-1].Sent); gap < time.Second {
						t.Errorf("chat %d: messages %v apart", id, gap)
					}
				}
			}
			e.waitFor("usage counters", func() bool {
				u, _ := e.store.Usage(time.Now())
				return u.Sent == tt.users*tt.stories
			})
		})
	}
}

func TestDeliverFloodControl(t *testing.T) {
	t.Run("one chat waits retry_after", func(t *testing.T) {
		e := newDlvEnv(t)
		e.user(1, 1, true)
		e.story("Сюжет")
		e.fake.FailNext("sendMessage", 429, 2)
		start := time.Now()
		e.run(e.deliverer(e.api))
		msgs, err := e.fake.WaitMessages(context.Background(), 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		e.waitEmpty()
		if wait := msgs[0].Sent.Sub(start); wait < 2*time.Second {
			t.Errorf("sent %v after a 429 with retry_after 2", wait)
		}
		if n := e.fake.Calls("sendMessage"); n != 2 {
			t.Errorf("%d sendMessage calls, want the refused one and the accepted one", n)
		}
	})
	t.Run("broadcast pauses and loses nothing", func(t *testing.T) {
		e := newDlvEnv(t)
		ids := e.users(10)
		e.story("Сюжет")
		e.fake.FailNext("sendMessage", 429, 1)
		e.run(e.deliverer(e.api))
		e.waitEmpty()
		for _, id := range ids {
			if n := len(e.fake.Messages(id)); n != 1 {
				t.Errorf("chat %d got %d messages", id, n)
			}
		}
		if n := e.fake.Count429(); n != 1 {
			t.Errorf("%d 429s: sends went on during the pause", n)
		}
		if !strings.Contains(e.logs.String(), "pausing all sends") {
			t.Error("the pause was not logged")
		}
	})
}

func TestDeliverBlockedUser(t *testing.T) {
	e := newDlvEnv(t)
	e.user(1, 1, true)
	e.user(2, 2, true)
	e.fake.Block(1)
	var stories []uint64
	for i := range 7 {
		stories = append(stories, e.story(fmt.Sprintf("Сюжет %d", i)))
	}
	e.run(e.deliverer(e.api))
	e.waitEmpty()
	if n := len(e.fake.Messages(2)); n != 2 {
		t.Errorf("the other user got %d messages, want 2 (five and two stories)", n)
	}
	if n := e.fake.Calls("sendMessage"); n != 3 {
		t.Errorf("%d sendMessage calls, want one refused and two for the other user", n)
	}
	u, err := e.store.User(1)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Inactive {
		t.Error("blocked user not marked inactive")
	}
	for _, s := range stories {
		if e.store.Delivered(1, s) {
			t.Errorf("story %d recorded as delivered to the blocked user", s)
		}
	}
	// Later alerts do not reach them at all.
	e.story("Ещё сюжет")
	if _, err := e.fake.WaitMessages(context.Background(), 2, 3); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.Calls("sendMessage"); n != 4 {
		t.Errorf("%d sendMessage calls after a new alert, want 4", n)
	}
	e.waitFor("usage counters", func() bool {
		u, _ := e.store.Usage(time.Now())
		return u.Sent == 3 && u.SendErrors == 1
	})
}

func TestDeliverMigratedGroup(t *testing.T) {
	e := newDlvEnv(t)
	const group, super = -4001, -1001234567890
	e.user(1, group, true)
	e.fake.Migrate(group, super)
	story := e.story("Сюжет для группы")
	e.run(e.deliverer(e.api))
	if _, err := e.fake.WaitMessages(context.Background(), super, 1); err != nil {
		t.Fatal(err)
	}
	e.waitEmpty()
	u, _ := e.store.User(1)
	if u.ChatID != super {
		t.Errorf("chat id %d, want %d", u.ChatID, super)
	}
	if !e.store.Delivered(1, story) {
		t.Error("not recorded as delivered")
	}
	if n := e.fake.Calls("sendMessage"); n != 2 {
		t.Errorf("%d calls, want the refused one and the retry", n)
	}
}

// htmlBreaker corrupts the HTML of the first n messages, so the fake
// refuses it the way Telegram refuses bad markup.
type htmlBreaker struct {
	Sender
	n atomic.Int32
}

func (h *htmlBreaker) SendMessage(ctx context.Context, p *tg.SendMessageParams) (*models.Message, error) {
	if p.ParseMode == models.ParseModeHTML && h.n.Add(-1) >= 0 {
		broken := *p
		broken.Text += "<blink>"
		return h.Sender.SendMessage(ctx, &broken)
	}
	return h.Sender.SendMessage(ctx, p)
}

func TestDeliverPlainTextFallback(t *testing.T) {
	tests := []struct {
		name    string
		stories int
	}{
		{"single alert", 1},
		{"group", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newDlvEnv(t)
			e.user(1, 1, true)
			var ids []uint64
			for i := range tt.stories {
				ids = append(ids, e.story(fmt.Sprintf("A < B & C %d", i)))
			}
			api := &htmlBreaker{Sender: e.api}
			api.n.Store(1)
			e.run(e.deliverer(api))
			msgs, err := e.fake.WaitMessages(context.Background(), 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			e.waitEmpty()
			m := msgs[0]
			if m.ParseMode != "" || !strings.Contains(m.Plain, "A < B & C 0\nhttps://www.rbc.ru/finances/1/vtb.html?a=1&b=2") {
				t.Errorf("fallback message (parse mode %q):\n%s", m.ParseMode, m.Plain)
			}
			if strings.Contains(m.Text, "&amp;") || strings.Contains(m.Text, "<b>") {
				t.Errorf("plain text carries markup:\n%s", m.Text)
			}
			if len(e.fake.Messages(1)) != 1 {
				t.Errorf("%d messages", len(e.fake.Messages(1)))
			}
			for _, id := range ids {
				if !e.store.Delivered(1, id) {
					t.Errorf("story %d not recorded as delivered", id)
				}
			}
			logs := e.logs.String()
			if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "can't parse entities") {
				t.Errorf("the refused HTML was not logged as a warning:\n%s", logs)
			}
			e.checkLogs()
		})
	}
}

func TestDeliverServerErrorsRetryLater(t *testing.T) {
	for _, code := range []int{500, 502} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			e := newDlvEnv(t)
			e.user(1, 1, true)
			story := e.story("Сюжет")
			e.fake.FailNext("sendMessage", code, 0)
			d := e.deliverer(e.api)
			e.run(d)
			var queued storage.OutMsg
			e.waitFor("a postponed message", func() bool {
				msgs, _ := e.store.Outbox(e.clock.Now().Add(time.Hour), 0)
				if len(msgs) == 1 && msgs[0].Attempts == 1 {
					queued = msgs[0]
					return true
				}
				return false
			})
			if due, _ := e.store.Outbox(e.clock.Now(), 0); len(due) != 0 {
				t.Errorf("message due again at once")
			}
			if wait := queued.NextTry.Sub(e.clock.Now()); wait < 3*time.Second || wait > retryCap {
				t.Errorf("retry in %v", wait)
			}
			if queued.LastError == "" || strings.Contains(queued.LastError, "AAE-dozor") {
				t.Errorf("last error %q", queued.LastError)
			}
			if n := len(e.fake.Messages(1)); n != 0 {
				t.Fatalf("%d messages before the retry", n)
			}
			e.clock.Advance(time.Hour)
			d.Kick()
			if _, err := e.fake.WaitMessages(context.Background(), 1, 1); err != nil {
				t.Fatal(err)
			}
			e.waitEmpty()
			if !e.store.Delivered(1, story) {
				t.Error("not recorded as delivered")
			}
			e.checkLogs()
		})
	}
}

func TestDeliverPermanentRefusalsDropMessages(t *testing.T) {
	t.Run("injected 400", func(t *testing.T) {
		e := newDlvEnv(t)
		e.user(1, 1, true)
		story := e.story("Сюжет")
		e.fake.FailNext("sendMessage", 400, 0)
		e.run(e.deliverer(e.api))
		e.waitEmpty()
		if e.store.Delivered(1, story) {
			t.Error("refused message recorded as delivered")
		}
		if n := e.fake.Calls("sendMessage"); n != 1 {
			t.Errorf("%d calls: a permanent refusal was retried", n)
		}
		e.waitFor("usage counters", func() bool {
			u, _ := e.store.Usage(time.Now())
			return u.SendErrors == 1 && u.Sent == 0
		})
	})
	t.Run("chat not found", func(t *testing.T) {
		e := newDlvEnv(t)
		e.user(1, 1, false)
		e.user(2, 2, true)
		e.story("Сюжет")
		e.run(e.deliverer(e.api))
		e.waitEmpty()
		if n := len(e.fake.Messages(2)); n != 1 {
			t.Errorf("the other user got %d messages", n)
		}
		if !strings.Contains(e.logs.String(), "chat not found") {
			t.Errorf("refusal not logged:\n%s", e.logs.String())
		}
		u, _ := e.store.User(1)
		if u.Inactive {
			t.Error("a missing chat is not a blocked bot")
		}
	})
	t.Run("former subscribers get nothing", func(t *testing.T) {
		e := newDlvEnv(t)
		e.user(1, 1, true)
		e.user(2, 2, true)
		e.story("Сюжет")
		if _, err := e.store.UpdateUser(1, func(u *storage.User) { u.Status = storage.StatusBanned }); err != nil {
			t.Fatal(err)
		}
		e.run(e.deliverer(e.api))
		e.waitEmpty()
		if n := len(e.fake.Messages(1)); n != 0 {
			t.Errorf("banned user got %d messages", n)
		}
		if n := len(e.fake.Messages(2)); n != 1 {
			t.Errorf("the other user got %d messages", n)
		}
	})
}

func TestDeliverShutdownKeepsQueue(t *testing.T) {
	e := newDlvEnv(t, tgfake.WithoutRateLimits())
	e.users(30)
	e.story("Сюжет")
	d := e.deliverer(e.api)
	d.Global = 20
	stop := e.run(d)
	e.waitFor("some messages", func() bool { return len(e.fake.AllMessages()) >= 5 })
	stop()
	// Every message is either sent and recorded, or still queued: Run
	// waited for the sends in flight.
	sent := len(e.fake.AllMessages())
	if left := e.store.OutboxLen(); sent+left != 30 {
		t.Errorf("%d sent + %d queued != 30", sent, left)
	}
	if sent == 30 {
		t.Log("everything was sent before the stop; the test proves less than it should")
	}
}

func TestDeliverScrubsToken(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`Post "https://api.telegram.org/bot123456:AAE-xyz_9/sendMessage": dial tcp: timeout`, `Post "https://api.telegram.org/bot<redacted>/sendMessage": dial tcp: timeout`},
		{"token 1234567890:AAEabcdefghijklmnopqrstuvwxyz_012345 leaked", "token <redacted> leaked"},
		{"bad request, chat not found", "bad request, chat not found"},
	}
	for _, tt := range tests {
		if got := scrub(errors.New(tt.in)); got != tt.want {
			t.Errorf("scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if scrub(nil) != "" {
		t.Error("scrub(nil)")
	}
}

func TestDeliverBackoff(t *testing.T) {
	prev := time.Duration(0)
	for a := range 12 {
		d := backoff(a)
		if d <= 0 || d > retryCap {
			t.Errorf("backoff(%d) = %v", a, d)
		}
		if a < 5 && d < prev/2 {
			t.Errorf("backoff(%d) = %v shrank from %v", a, d, prev)
		}
		prev = d
	}
	if d := backoff(100); d != retryCap && d < retryCap*8/10 {
		t.Errorf("backoff(100) = %v", d)
	}
}

// Crash recovery: a child process delivers part of a broadcast and is
// killed with SIGKILL; a new Deliverer on the same bbolt file finishes it.

const (
	dlvHelperDB  = "DOZOR_DELIVER_HELPER_DB"
	dlvHelperURL = "DOZOR_DELIVER_HELPER_URL"
)

// TestDeliverHelperProcess is the child of TestDeliverCrashRecovery; it
// delivers until killed.
func TestDeliverHelperProcess(t *testing.T) {
	path := os.Getenv(dlvHelperDB)
	if path == "" {
		t.Skip("runs only as TestDeliverCrashRecovery's child process")
	}
	st, err := storage.Open(path, storage.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	api, err := tg.New(dlvToken, tg.WithServerURL(os.Getenv(dlvHelperURL)), tg.WithSkipGetMe())
	if err != nil {
		t.Fatal(err)
	}
	d := &Deliverer{Store: st, API: api, SummaryLang: "ru", Global: 10, Workers: 4}
	_ = d.Run(context.Background()) // until SIGKILL
}

func TestDeliverCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	const users, workers = 50, 4
	e := newDlvEnv(t)
	ids := e.users(users)
	story := e.story("Сюжет для всех")
	if n := e.store.OutboxLen(); n != users {
		t.Fatalf("%d queued", n)
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}

	var out dlvLogBuffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeliverHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), dlvHelperDB+"="+e.path, dlvHelperURL+"="+e.fake.URL())
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the child to deliver 20 messages", func() bool { return len(e.fake.AllMessages()) >= 20 })
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	atKill := len(e.fake.AllMessages())
	if atKill >= users {
		t.Fatalf("the child sent all %d before the kill; output:\n%s", atKill, out.String())
	}

	e.open(storage.Options{})
	left := e.store.OutboxLen()
	t.Logf("killed after %d accepted messages; %d still queued", atKill, left)
	if atKill+left < users {
		t.Errorf("lost messages: %d sent + %d queued < %d", atKill, left, users)
	}
	if dup := atKill + left - users; dup > workers {
		t.Errorf("%d messages sent but still queued: more than the %d in flight", dup, workers)
	}
	d := e.deliverer(e.api)
	d.Workers = workers
	e.run(d)
	e.waitEmpty()

	dups := 0
	for _, id := range ids {
		n := len(e.fake.Messages(id))
		if n == 0 {
			t.Errorf("user %d never got the story", id)
		}
		if n > 1 {
			dups += n - 1
		}
		if !e.store.Delivered(id, story) {
			t.Errorf("user %d: not recorded as delivered", id)
		}
	}
	if dups > workers {
		t.Errorf("%d duplicates, more than the %d sends in flight at the kill", dups, workers)
	}
	t.Logf("%d duplicates after the kill", dups)
}
