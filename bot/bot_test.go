package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"dozor/internal/logging"
	"dozor/internal/pacer"
	"dozor/internal/search"
	"dozor/internal/tgfake"
	"dozor/storage"
)

const (
	testToken = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	adminID   = int64(1001)
	aliceID   = int64(2001)
	bobID     = int64(2002)
	waitLimit = 10 * time.Second
)

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// harness is a bot running against the fake Bot API with a real store.
type harness struct {
	t     *testing.T
	fake  *tgfake.Server
	store *storage.Store
	index *search.Index
	logs  *syncBuffer
	opts  Options
	bot   *Bot

	cancel context.CancelFunc
	done   chan error
	seen   map[int64]int // messages per chat already returned by next
	sent   int64         // updates sent to the running bot (or the next one)
}

func newHarness(t *testing.T, configure ...func(*Options)) *harness {
	t.Helper()
	h := newStoppedHarness(t, nil, configure...)
	h.start()
	return h
}

// newStoppedHarness builds everything but does not start the bot. fakeOpts
// nil means no rate limits.
func newStoppedHarness(t *testing.T, fakeOpts []tgfake.Option, configure ...func(*Options)) *harness {
	t.Helper()
	var pace *pacer.Pacer
	if fakeOpts == nil {
		// Tests about what commands do need not wait out Telegram's
		// per-chat limits; those about the limits use a strict fake and
		// the bot's own pacer.
		fakeOpts = []tgfake.Option{tgfake.WithoutRateLimits()}
		pace = pacer.NewLimits(pacer.Limits{PerSecond: 1000, PrivateGap: time.Millisecond, PrivateBurst: 100, GroupGap: time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- pace.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	fake := tgfake.New(t, testToken, fakeOpts...)
	fake.AddChat(adminID)
	st, err := storage.Open(filepath.Join(t.TempDir(), "dozor.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	idx, _, err := search.Open(filepath.Join(t.TempDir(), "dozor.search"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	h := &harness{t: t, fake: fake, store: st, index: idx, logs: &syncBuffer{}, seen: map[int64]int{}}
	h.opts = Options{
		Token:       testToken,
		APIURL:      fake.URL(),
		AdminIDs:    []int64{adminID},
		Access:      AccessApproval,
		SummaryLang: "ru",
		Store:       st,
		Log:         testLogger(h.logs),
		Pacer:       pace,
		Search:      idx,
		NoticeEvery: 100 * time.Millisecond,
	}
	for _, c := range configure {
		c(&h.opts)
	}
	return h
}

func (h *harness) start() {
	h.t.Helper()
	b, err := New(h.opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.bot = b
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- b.Run(ctx) }()
	h.t.Cleanup(h.stop)
	select {
	case <-b.ready:
	case err := <-h.done:
		h.t.Fatalf("Run ended at start: %v", err)
	case <-time.After(waitLimit):
		h.t.Fatal("bot did not start")
	}
}

// stop ends Run and checks it returned cleanly; safe to call twice.
func (h *harness) stop() {
	h.t.Helper()
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	h.sent = 0
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
	case <-time.After(waitLimit):
		h.t.Error("Run did not return after cancel")
	}
	if f := tokenForms(h.logs.String()); len(f) > 0 {
		h.t.Errorf("the token appears in the logs as %q:\n%s", f, h.logs.String())
	}
}

// testLogger is the logger production gives the bot: it scrubs the token.
func testLogger(w *syncBuffer) *slog.Logger {
	return logging.New(w, "text", slog.LevelDebug, testToken)
}

// tokenForms returns the forms of testToken found in s: raw, URL-encoded
// (either case of %3A) or its secret half alone.
func tokenForms(s string) []string {
	var found []string
	for _, f := range []string{testToken, url.QueryEscape(testToken), strings.Replace(url.QueryEscape(testToken), "%3A", "%3a", 1), "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"} {
		if strings.Contains(s, f) {
			found = append(found, f)
		}
	}
	return found
}

// send types text into chat as user and returns the update's sequence.
func (h *harness) send(chat, user int64, text string, opts ...tgfake.SendOption) {
	h.t.Helper()
	h.fake.SendText(chat, user, text, opts...)
	h.sent++
}

// next waits for the next message the bot sends to chat.
func (h *harness) next(chat int64) tgfake.Message {
	h.t.Helper()
	return h.nextN(chat, 1)[0]
}

// nextN waits for the next n messages to chat.
func (h *harness) nextN(chat int64, n int) []tgfake.Message {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	want := h.seen[chat] + n
	msgs, err := h.fake.WaitMessages(ctx, chat, want)
	if err != nil {
		var got []string
		for _, m := range msgs {
			got = append(got, m.Plain)
		}
		h.t.Fatalf("chat %d: waited for %d messages, got %d: %q\nlogs:\n%s", chat, want, len(msgs), got, h.logs.String())
	}
	out := msgs[h.seen[chat]:want]
	h.seen[chat] = want
	return out
}

// ask sends a command and returns the one reply.
func (h *harness) ask(chat, user int64, text string, opts ...tgfake.SendOption) tgfake.Message {
	h.t.Helper()
	h.send(chat, user, text, opts...)
	return h.next(chat)
}

// settle waits until the bot has handled n updates in total.
func (h *harness) settle(n int64) {
	h.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for h.bot.handled.Load() < n {
		if time.Now().After(deadline) {
			h.t.Fatalf("bot handled %d updates, want %d", h.bot.handled.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sync waits until the bot has handled every update sent to it.
func (h *harness) sync() {
	h.t.Helper()
	h.settle(h.sent)
}

// noMoreMessages checks that the bot sent nothing more to chat.
func (h *harness) noMoreMessages(chat int64) {
	h.t.Helper()
	if msgs := h.fake.Messages(chat); len(msgs) != h.seen[chat] {
		var extra []string
		for _, m := range msgs[h.seen[chat]:] {
			extra = append(extra, m.Plain)
		}
		h.t.Errorf("chat %d: unexpected messages %q", chat, extra)
	}
}

// press presses a button under a message and returns the callback answer.
func (h *harness) press(chat, user int64, msg tgfake.Message, data string, opts ...tgfake.SendOption) tgfake.CallbackAnswer {
	h.t.Helper()
	id := h.fake.SendCallback(chat, user, msg.ID, data, opts...)
	if id == "" {
		h.t.FailNow()
	}
	h.sent++
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	ans, err := h.fake.WaitCallbackAnswer(ctx, id)
	if err != nil {
		h.t.Fatalf("no answer to callback %q: %v\nlogs:\n%s", data, err, h.logs.String())
	}
	// The handler may still edit the message after answering.
	h.sync()
	return ans
}

// message returns the current state of a message (after edits).
func (h *harness) message(chat int64, id int) tgfake.Message {
	h.t.Helper()
	for _, m := range h.fake.Messages(chat) {
		if m.ID == id {
			return m
		}
	}
	h.t.Fatalf("chat %d has no message %d", chat, id)
	return tgfake.Message{}
}

// approved stores an approved user directly.
func (h *harness) approved(id int64, lang string, topics ...string) {
	h.t.Helper()
	now := time.Now()
	_, _, err := h.store.CreateUser(storage.User{ID: id, ChatID: id, Name: "User " + strconv.FormatInt(id, 10), Lang: lang,
		Status: storage.StatusApproved, Mode: storage.ModeInstant, TZ: "UTC", Topics: topics, Created: now, Updated: now})
	if err != nil {
		h.t.Fatal(err)
	}
	h.fake.AddChat(id)
}

func (h *harness) user(id int64) *storage.User {
	h.t.Helper()
	u, err := h.store.User(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return &u
}

func mustContain(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%q does not contain %q", got, w)
		}
	}
}

func buttonData(m tgfake.Message) []string {
	var out []string
	for _, row := range m.InlineKeyboard {
		for _, b := range row {
			out = append(out, b.CallbackData)
		}
	}
	return out
}

func TestNewNeedsToken(t *testing.T) {
	t.Parallel()
	st, err := storage.Open(filepath.Join(t.TempDir(), "db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tok := range []string{"", "  "} {
		_, err := New(Options{Token: tok, Store: st})
		if !errors.Is(err, ErrNoToken) {
			t.Fatalf("New(%q) = %v, want ErrNoToken", tok, err)
		}
		mustContain(t, err.Error(), "TELEGRAM_BOT_TOKEN", "@BotFather", "/newbot", ".env")
	}
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no store", Options{Token: testToken}, "no store"},
		{"bad access", Options{Token: testToken, Store: st, Access: "closed"}, "access mode"},
		{"webhook without secret", Options{Token: testToken, Store: st, WebhookURL: "https://x.example/hook", WebhookListen: ":0"}, "WEBHOOK_SECRET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestParseCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text, name, args string
		ok               bool
	}{
		{"/start", "start", "", true},
		{"/Start", "start", "", true},
		{"/subscribe vtb-china", "subscribe", "vtb-china", true},
		{"/watch  x  a b ", "watch", "x  a b", true},
		{"/watch\nx a", "watch", "x a", true},
		{"/help@dozor_test_bot", "help", "", true},
		{"/help@Dozor_Test_Bot args", "help", "args", true},
		{"/help@other_bot", "", "", false},
		{"/help@", "", "", false},
		{"hello", "", "", false},
		{"/", "", "", false},
		{"/привет", "", "", false},
		{" /start", "", "", false},
	} {
		name, args, ok := parseCommand(tc.text, "dozor_test_bot")
		if name != tc.name || args != tc.args || ok != tc.ok {
			t.Errorf("parseCommand(%q) = %q, %q, %v; want %q, %q, %v", tc.text, name, args, ok, tc.name, tc.args, tc.ok)
		}
	}
}

func TestPackBlocks(t *testing.T) {
	t.Parallel()
	blocks := make([]string, 300)
	for i := range blocks {
		blocks[i] = fmt.Sprintf("<b>%03d</b> %s", i, strings.Repeat("я", 40))
	}
	msgs := packBlocks(blocks, "\n", tgTextLimit)
	if len(msgs) < 2 {
		t.Fatalf("got %d messages, want several", len(msgs))
	}
	joined := strings.Join(msgs, "\n")
	if joined != strings.Join(blocks, "\n") {
		t.Error("packing lost or reordered blocks")
	}
	for _, m := range msgs {
		if n := utf16Length(m); n > tgTextLimit {
			t.Errorf("message of %d units", n)
		}
	}
	huge := "<b>" + strings.Repeat("x<", 5000) + "</b>"
	msgs = packBlocks([]string{"a", huge, "b"}, "\n", tgTextLimit)
	for _, m := range msgs {
		if utf16Length(m) > tgTextLimit || strings.Contains(m, "<b>") {
			t.Errorf("oversized block not reduced to escaped text: %.80q", m)
		}
	}
}

func TestSetMyCommands(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	names := func(cmds []models.BotCommand) []string {
		var out []string
		for _, c := range cmds {
			out = append(out, c.Command)
		}
		return out
	}
	en := h.fake.Commands(tgfake.Scope{Type: tgfake.ScopeDefault}, "")
	ru := h.fake.Commands(tgfake.Scope{Type: tgfake.ScopeDefault}, "ru")
	if len(en) == 0 || len(ru) == 0 {
		t.Fatalf("default commands: en %v, ru %v", en, ru)
	}
	mustContain(t, strings.Join(names(en), " "), "start", "help", "topics", "subscribe", "latest", "settings", "search")
	if strings.Contains(strings.Join(names(en), " "), "watch") {
		t.Error("admin commands in the default scope")
	}
	if en[0].Description == ru[0].Description {
		t.Errorf("ru and en descriptions are the same: %q", en[0].Description)
	}
	for _, lang := range []string{"", "ru"} {
		adm := h.fake.Commands(tgfake.Scope{Type: tgfake.ScopeChat, ChatID: adminID}, lang)
		mustContain(t, strings.Join(names(adm), " "), "start", "watch", "unwatch", "addsource", "stats", "ban")
	}
}

func TestCommandWithBotName(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en")
	m := h.ask(aliceID, aliceID, "/help@"+h.fake.BotUsername())
	mustContain(t, m.Plain, "/subscribe")

	// In a group: commands for other bots are not ours.
	group := int64(-5001)
	h.send(group, adminID, "/start@other_bot")
	h.send(group, adminID, "/start@"+h.fake.BotUsername())
	m = h.next(group)
	mustContain(t, m.Plain, "dozor")
	h.settle(3)
	h.noMoreMessages(group)
	if u := h.user(group); u.Status != storage.StatusApproved || u.ChatID != group {
		t.Errorf("group started by an admin: %+v", u)
	}
	h.store.PutTopic("fintech", "fintech", time.Now())
	h.fake.SetMember(group, aliceID, tgfake.StatusAdministrator)
	m = h.ask(group, aliceID, "/subscribe@"+h.fake.BotUsername()+" fintech")
	mustContain(t, m.Plain, "Subscribed to fintech")
	if u := h.user(group); !u.Subscribed("fintech") {
		t.Error("the group is not subscribed")
	}
	if u := h.user(aliceID); u.Subscribed("fintech") {
		t.Error("the group's subscription went to the user")
	}
}

func TestOffsetSurvivesRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en")
	h.ask(aliceID, aliceID, "/help")
	h.ask(aliceID, aliceID, "/search")
	h.stop()
	v, err := h.store.GetMeta(offsetKey)
	if err != nil || string(v) != "3" {
		t.Fatalf("stored offset %q, %v; want 3 after updates 1 and 2", v, err)
	}
	// Updates that arrive while the bot is down are handled by the next
	// run, once.
	h.send(aliceID, aliceID, "/settings")
	h.start()
	m := h.next(aliceID)
	mustContain(t, m.Plain, "Settings")
	h.settle(1)
	h.stop()
	h.noMoreMessages(aliceID)
	if v, _ := h.store.GetMeta(offsetKey); string(v) != "4" {
		t.Errorf("stored offset %q, want 4", v)
	}
}

func TestOffsetSkipsHandledUpdatesAfterCrash(t *testing.T) {
	t.Parallel()
	// Telegram still holds updates 1-3 (the crashed run never confirmed
	// them), but the store says 1 and 2 were handled.
	h := newStoppedHarness(t, nil)
	h.approved(aliceID, "en")
	h.send(aliceID, aliceID, "/help")
	h.send(aliceID, aliceID, "/search")
	h.send(aliceID, aliceID, "/settings")
	if err := h.store.SetMeta(offsetKey, []byte("3")); err != nil {
		t.Fatal(err)
	}
	h.start()
	m := h.next(aliceID)
	mustContain(t, m.Plain, "Settings")
	h.settle(1)
	h.stop()
	h.noMoreMessages(aliceID)
	if h.bot.handled.Load() != 1 {
		t.Errorf("handled %d updates, want 1", h.bot.handled.Load())
	}
}

func TestPanicInHandlerIsRecovered(t *testing.T) {
	t.Parallel()
	var boom atomic.Bool
	h := newHarness(t, func(o *Options) {
		o.Now = func() time.Time {
			if boom.Load() {
				// Raw and URL-encoded: the log's scrubber must catch both.
				panic("clock exploded " + testToken + " " + url.QueryEscape(testToken))
			}
			return time.Now()
		}
	})
	h.approved(aliceID, "en", "fintech")
	boom.Store(true)
	h.send(aliceID, aliceID, "/latest")
	h.settle(1)
	boom.Store(false)
	m := h.ask(aliceID, aliceID, "/help")
	mustContain(t, m.Plain, "/subscribe")
	logs := h.logs.String()
	mustContain(t, logs, "handler panicked", "clock exploded [REDACTED] [REDACTED]", "goroutine")
	h.stop()
	if v, _ := h.store.GetMeta(offsetKey); string(v) != "3" {
		t.Errorf("offset %q after a panicking update: it must not be replayed forever", v)
	}
}

func TestRunWaitsForHandlers(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var inHandler atomic.Bool
	entered := make(chan struct{})
	h := newHarness(t, func(o *Options) {
		o.Now = func() time.Time {
			if inHandler.CompareAndSwap(false, true) {
				close(entered)
				<-release
			}
			return time.Now()
		}
	})
	h.approved(aliceID, "en", "fintech")
	h.send(aliceID, aliceID, "/latest")
	<-entered
	h.cancel()
	select {
	case <-h.done:
		t.Fatal("Run returned while a handler was running")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return")
	}
	h.cancel = nil
	if h.bot.handled.Load() != 1 {
		t.Errorf("handled %d, want 1", h.bot.handled.Load())
	}
	// The handler ran to the end: its reply went out after the context
	// of Run had ended.
	if msgs := h.fake.Messages(aliceID); len(msgs) != 1 {
		t.Errorf("got %d replies, want 1", len(msgs))
	}
}

func TestRejectedTokenIsFatalAndNotLogged(t *testing.T) {
	t.Parallel()
	fake := tgfake.New(t, "999999:ThisIsTheRealTokenOfAnotherBot_xyz")
	st, err := storage.Open(filepath.Join(t.TempDir(), "db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logs := &syncBuffer{}
	b, err := New(Options{Token: testToken, APIURL: fake.URL(), Store: st, Log: testLogger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	err = b.Run(ctx)
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Run = %v, want a quick error", err)
	}
	if !errors.Is(err, tgbot.ErrorUnauthorized) && !errors.Is(err, tgbot.ErrorNotFound) {
		t.Errorf("Run = %v, want the library's error in its chain", err)
	}
	// cli prints the error through the Scrubber the logger uses.
	printed := logging.NewScrubber(testToken).String(err.Error())
	mustContain(t, printed, "TELEGRAM_BOT_TOKEN")
	if f := tokenForms(printed + logs.String()); len(f) > 0 {
		t.Errorf("token as %q in %q / %s", f, printed, logs)
	}
}

func TestUnreachableAPIDoesNotLogToken(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	apiURL := srv.URL
	srv.Close() // connection refused from now on
	st, err := storage.Open(filepath.Join(t.TempDir(), "db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logs := &syncBuffer{}
	b, err := New(Options{Token: testToken, APIURL: apiURL, Store: st, Log: testLogger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(logs.String(), "cannot reach Telegram") {
		if time.Now().After(deadline) {
			t.Fatal("no retry logged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
	if f := tokenForms(logs.String()); len(f) > 0 {
		t.Errorf("token as %q in logs:\n%s", f, logs)
	}
}

func TestLibraryErrorsDoNotLogToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en")
	h.fake.FailNext("sendMessage", 502, 0)
	m := h.ask(aliceID, aliceID, "/help") // the reply is retried after the 502
	mustContain(t, m.Plain, "/subscribe")
	mustContain(t, h.logs.String(), "call failed, retrying", "502")
	h.stop() // checks the logs for the token
}

func TestReplyWaitsOutFloodControl(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en")
	h.fake.FailNext("sendMessage", http.StatusTooManyRequests, 1)
	m := h.ask(aliceID, aliceID, "/help")
	mustContain(t, m.Plain, "/subscribe")
	if n := h.fake.Count429(); n != 1 {
		t.Errorf("%d 429s, want 1", n)
	}
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-Token_value"
	h := newStoppedHarness(t, nil, func(o *Options) {
		o.WebhookURL = "https://dozor.example.com/telegram/hook"
		o.WebhookListen = "127.0.0.1:0"
		o.WebhookSecret = secret
	})
	h.approved(aliceID, "en")
	h.start()
	wh := h.fake.Webhook()
	if wh.URL != "https://dozor.example.com/telegram/hook" || wh.SecretToken != secret {
		t.Fatalf("setWebhook recorded %+v", wh)
	}
	hookURL := "http://" + h.bot.addr.String() + "/telegram/hook"
	update := func(id int, text string) string {
		return fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":%d,"chat":{"id":%d,"type":"private","first_name":"Alice"},"from":{"id":%d,"is_bot":false,"first_name":"Alice","language_code":"en"},"text":%q,"entities":[{"type":"bot_command","offset":0,"length":%d}]}}`,
			id, id, time.Now().Unix(), aliceID, aliceID, text, len(strings.Fields(text)[0]))
	}
	post := func(method, secretHeader, body string) int {
		req, _ := http.NewRequest(method, hookURL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if secretHeader != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secretHeader)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name, method, secret string
		want                 int
	}{
		{"no secret", http.MethodPost, "", http.StatusUnauthorized},
		{"wrong secret", http.MethodPost, "wrong", http.StatusUnauthorized},
		{"secret prefix", http.MethodPost, secret[:5], http.StatusUnauthorized},
		{"get with secret", http.MethodGet, secret, http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := post(tc.method, tc.secret, update(7, "/search")); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}
	if got := post(http.MethodPost, secret, update(8, "/help")); got != http.StatusOK {
		t.Fatalf("status %d with the right secret", got)
	}
	m := h.next(aliceID)
	mustContain(t, m.Plain, "/subscribe")
	h.settle(1)

	// The user blocks the bot: Telegram says so with my_chat_member.
	blocked := fmt.Sprintf(`{"update_id":9,"my_chat_member":{"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"Alice"},"date":%d,`+
		`"old_chat_member":{"status":"member","user":{"id":1,"is_bot":true,"first_name":"dozor"}},"new_chat_member":{"status":"kicked","user":{"id":1,"is_bot":true,"first_name":"dozor"},"until_date":0}}}`,
		aliceID, aliceID, time.Now().Unix())
	if got := post(http.MethodPost, secret, blocked); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	h.settle(2)
	if !h.user(aliceID).Inactive {
		t.Error("a user who blocked the bot is not marked inactive")
	}
	h.stop()
	h.noMoreMessages(aliceID) // the rejected /search never ran
	if h.bot.handled.Load() != 2 {
		t.Errorf("handled %d updates, want 2", h.bot.handled.Load())
	}
	if strings.Contains(h.logs.String(), secret) {
		t.Error("the webhook secret is in the logs")
	}
}

func withLang(code string) []tgfake.SendOption { return []tgfake.SendOption{tgfake.LanguageCode(code)} }

func withName(name string) []tgfake.SendOption { return []tgfake.SendOption{tgfake.FirstName(name)} }
