package tgfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"dozor/internal/tgfake"
)

const token = "123456:TEST-secret_token"

// testCtx bounds a test that waits for the bot; hitting it means the bot
// never did what the test waits for.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newBot builds a go-telegram bot pointed at the fake.
func newBot(t *testing.T, s *tgfake.Server, opts ...bot.Option) *bot.Bot {
	t.Helper()
	opts = append([]bot.Option{
		bot.WithServerURL(s.URL()),
		bot.WithSkipGetMe(),
		bot.WithDefaultHandler(func(context.Context, *bot.Bot, *models.Update) {}),
	}, opts...)
	b, err := bot.New(s.Token(), opts...)
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	return b
}

// startBot runs b's long polling until the test ends and waits for it to stop.
func startBot(t *testing.T, b *bot.Bot) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Start(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// fakeClock is a settable clock for WithClock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// apiReply is the Bot API envelope, for raw HTTP tests.
type apiReply struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// call makes a raw form-encoded Bot API request to path (relative to URL).
func call(ctx context.Context, t *testing.T, s *tgfake.Server, path string, form url.Values) (int, apiReply, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, apiReply{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(req)
}

func do(req *http.Request) (int, apiReply, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, apiReply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, apiReply{}, err
	}
	var r apiReply
	if err := json.Unmarshal(body, &r); err != nil {
		return resp.StatusCode, apiReply{}, fmt.Errorf("decode %q: %w", body, err)
	}
	return resp.StatusCode, r, nil
}

func method(name string) string { return "/bot" + token + "/" + name }

func updateIDs(t *testing.T, r apiReply) []int64 {
	t.Helper()
	var ups []models.Update
	if err := json.Unmarshal(r.Result, &ups); err != nil {
		t.Fatalf("decode updates %s: %v", r.Result, err)
	}
	ids := []int64{}
	for _, u := range ups {
		ids = append(ids, u.ID)
	}
	return ids
}

func TestGetMe(t *testing.T) {
	s := tgfake.New(t, token)
	b, err := bot.New(token, bot.WithServerURL(s.URL())) // without WithSkipGetMe: New calls getMe
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	if got := s.Calls("getMe"); got != 1 {
		t.Errorf("getMe calls after bot.New = %d, want 1", got)
	}
	me, err := b.GetMe(testCtx(t))
	if err != nil {
		t.Fatalf("GetMe: %v", err)
	}
	if me.ID != 123456 || !me.IsBot || me.Username != "dozor_test_bot" {
		t.Errorf("GetMe = %+v, want bot 123456 @dozor_test_bot", me)
	}
	if b.ID() != s.BotID() {
		t.Errorf("bot.ID() = %d, fake BotID() = %d", b.ID(), s.BotID())
	}
}

func TestRouting(t *testing.T) {
	s := tgfake.New(t, token)
	tests := []struct {
		name   string
		path   string
		status int
		desc   string
	}{
		{"wrong token", "/bot999:wrong-secret/getMe", 401, "Unauthorized"},
		{"malformed token", "/botnot-a-token/getMe", 404, "Not Found"},
		{"unknown method", method("noSuchMethod"), 404, "Not Found"},
		{"no method", "/bot" + token, 404, "Not Found"},
		{"not a bot path", "/getMe", 404, "Not Found"},
		{"method name case", method("GETME"), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, r, err := call(testCtx(t), t, s, tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status || r.Description != tt.desc || r.OK != (tt.status == 200) {
				t.Errorf("status %d %+v, want %d %q", status, r, tt.status, tt.desc)
			}
			if !r.OK && r.ErrorCode != status {
				t.Errorf("error_code %d differs from HTTP status %d", r.ErrorCode, status)
			}
		})
	}
}

func TestWrongTokenThroughLibrary(t *testing.T) {
	s := tgfake.New(t, token)
	_, err := bot.New("999:wrong-secret", bot.WithServerURL(s.URL()))
	if !errors.Is(err, bot.ErrorUnauthorized) {
		t.Fatalf("bot.New with a wrong token: %v, want bot.ErrorUnauthorized", err)
	}
}

func TestSendMessage(t *testing.T) {
	s := tgfake.New(t, token)
	s.AddChat(42)
	b := newBot(t, s)
	kb := models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{
		{{Text: "Подробнее", CallbackData: "more:1"}, {Text: "Source", URL: "https://example.com/a?b=1"}},
	}}
	got, err := b.SendMessage(testCtx(t), &bot.SendMessageParams{
		ChatID:      42,
		Text:        "<b>Заголовок</b> &amp; <a href=\"https://example.com/?a=1&amp;b=2\">текст</a>",
		ParseMode:   models.ParseModeHTML,
		ReplyMarkup: kb,
	})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if got.ID != 1 || got.Chat.ID != 42 || got.From == nil || !got.From.IsBot {
		t.Errorf("returned message %+v, want id 1 in chat 42 from the bot", got)
	}
	if got.Text != "Заголовок & текст" {
		t.Errorf("returned text %q, want the parsed text", got.Text)
	}
	wantEnts := []models.MessageEntity{
		{Type: "bold", Offset: 0, Length: 9},
		{Type: "text_link", Offset: 12, Length: 5, URL: "https://example.com/?a=1&b=2"},
	}
	if fmt.Sprint(got.Entities) != fmt.Sprint(wantEnts) {
		t.Errorf("returned entities %+v, want %+v", got.Entities, wantEnts)
	}
	if got.ReplyMarkup == nil || got.ReplyMarkup.InlineKeyboard[0][0].CallbackData != "more:1" {
		t.Errorf("returned reply_markup %+v, want the inline keyboard", got.ReplyMarkup)
	}

	msgs := s.Messages(42)
	if len(msgs) != 1 {
		t.Fatalf("Messages(42) = %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.ParseMode != "HTML" || !strings.HasPrefix(m.Text, "<b>Заголовок</b>") || m.Plain != got.Text {
		t.Errorf("stored %+v, want raw HTML text, parse mode and plain text", m)
	}
	if btn, ok := m.Button("Подробнее"); !ok || btn.CallbackData != "more:1" {
		t.Errorf("stored keyboard %+v, want button Подробнее with more:1", m.InlineKeyboard)
	}
	if m.Sent.IsZero() || len(s.AllMessages()) != 1 {
		t.Errorf("send time %v, AllMessages %d", m.Sent, len(s.AllMessages()))
	}
}

func TestSendMessageRejects(t *testing.T) {
	long := strings.Repeat("я", 4097)
	data65 := strings.Repeat("x", 65)
	tests := []struct {
		name   string
		params bot.SendMessageParams
		want   string
	}{
		{"unknown chat", bot.SendMessageParams{ChatID: 99, Text: "hi"}, "Bad Request: chat not found"},
		{"username chat", bot.SendMessageParams{ChatID: "@someone", Text: "hi"}, "Bad Request: chat not found"},
		{"empty text", bot.SendMessageParams{ChatID: 42, Text: ""}, "Bad Request: message text is empty"},
		{"only white space", bot.SendMessageParams{ChatID: 42, Text: " \n "}, "Bad Request: message text is empty"},
		{"only empty tags", bot.SendMessageParams{ChatID: 42, Text: "<b> </b>", ParseMode: models.ParseModeHTML}, "Bad Request: message text is empty"},
		{"too long", bot.SendMessageParams{ChatID: 42, Text: long}, "Bad Request: message is too long"},
		{"script tag", bot.SendMessageParams{ChatID: 42, Text: "<script>x</script>", ParseMode: models.ParseModeHTML},
			`Bad Request: can't parse entities: Unsupported start tag "script" at byte offset 0`},
		{"unescaped less-than", bot.SendMessageParams{ChatID: 42, Text: "1 < 2", ParseMode: models.ParseModeHTML}, "can't parse entities"},
		{"unescaped ampersand", bot.SendMessageParams{ChatID: 42, Text: "AT&T", ParseMode: models.ParseModeHTML}, "can't parse entities"},
		{"unclosed tag", bot.SendMessageParams{ChatID: 42, Text: "<b>x", ParseMode: models.ParseModeHTML}, "can't parse entities"},
		{"unknown parse mode", bot.SendMessageParams{ChatID: 42, Text: "x", ParseMode: "HTML5"}, "Bad Request: unsupported parse_mode"},
		{"callback data too long", bot.SendMessageParams{ChatID: 42, Text: "x", ReplyMarkup: models.InlineKeyboardMarkup{
			InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "b", CallbackData: data65}}}}}, "Bad Request: BUTTON_DATA_INVALID"},
		{"button without action", bot.SendMessageParams{ChatID: 42, Text: "x", ReplyMarkup: models.InlineKeyboardMarkup{
			InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "b"}}}}}, "Text buttons are unallowed in the inline keyboard"},
		{"button URL", bot.SendMessageParams{ChatID: 42, Text: "x", ReplyMarkup: models.InlineKeyboardMarkup{
			InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "b", URL: "example.com"}}}}}, "Bad Request: BUTTON_URL_INVALID"},
		{"reply to a missing message", bot.SendMessageParams{ChatID: 42, Text: "x", ReplyParameters: &models.ReplyParameters{MessageID: 77}},
			"Bad Request: message to be replied not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tgfake.New(t, token)
			s.AddChat(42)
			b := newBot(t, s)
			_, err := b.SendMessage(testCtx(t), &tt.params)
			if !errors.Is(err, bot.ErrorBadRequest) {
				t.Fatalf("SendMessage: %v, want bot.ErrorBadRequest", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("SendMessage: %v, want it to contain %q", err, tt.want)
			}
			if n := len(s.AllMessages()); n != 0 {
				t.Errorf("%d messages delivered, want none", n)
			}
		})
	}
}

func TestLengthCountedAfterParsing(t *testing.T) {
	s := tgfake.New(t, token, tgfake.WithoutRateLimits())
	s.AddChat(42)
	b := newBot(t, s)
	ctx := testCtx(t)
	for _, text := range []string{
		"<b>" + strings.Repeat("я", 4096) + "</b>",
		strings.Repeat("&lt;", 4096),
		"\n\n" + strings.Repeat("😀", 4096) + "  ",
	} {
		if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: text, ParseMode: models.ParseModeHTML}); err != nil {
			t.Errorf("SendMessage of %d bytes that parse to 4096 characters: %v", len(text), err)
		}
	}
	_, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: strings.Repeat("&lt;", 4097), ParseMode: models.ParseModeHTML})
	if err == nil || !strings.Contains(err.Error(), "message is too long") {
		t.Errorf("4097 characters after parsing: %v, want message is too long", err)
	}
}

func TestBlocked(t *testing.T) {
	s := tgfake.New(t, token)
	b := newBot(t, s)
	ctx := testCtx(t)
	s.SendText(7, 7, "/start")
	s.Block(7)
	s.Block(-5)

	_, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 7, Text: "news"})
	if !errors.Is(err, bot.ErrorForbidden) || !strings.Contains(err.Error(), "Forbidden: bot was blocked by the user") {
		t.Errorf("SendMessage to a blocked user: %v, want bot.ErrorForbidden", err)
	}
	_, err = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: -5, Text: "news"})
	if !errors.Is(err, bot.ErrorForbidden) || !strings.Contains(err.Error(), "bot was kicked from the group chat") {
		t.Errorf("SendMessage to a group that kicked the bot: %v, want bot.ErrorForbidden", err)
	}
	if n := len(s.AllMessages()); n != 0 {
		t.Errorf("%d messages delivered, want none", n)
	}

	s.SendText(7, 7, "/start") // the user restarts the bot
	if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 7, Text: "welcome back"}); err != nil {
		t.Errorf("SendMessage after the user wrote again: %v", err)
	}
}

func TestInjectedFailures(t *testing.T) {
	s := tgfake.New(t, token)
	s.AddChat(42)
	b := newBot(t, s)
	ctx := testCtx(t)

	s.FailNext("sendMessage", 429, 7)
	_, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "x"})
	var tooMany *bot.TooManyRequestsError
	if !errors.As(err, &tooMany) || tooMany.RetryAfter != 7 {
		t.Fatalf("SendMessage after FailNext(429, 7): %v, want *bot.TooManyRequestsError with RetryAfter 7", err)
	}
	if s.Count429() != 1 {
		t.Errorf("Count429 = %d, want 1", s.Count429())
	}

	s.FailNext("SENDMESSAGE", 502, 0)
	_, err = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "x"})
	if err == nil || errors.Is(err, bot.ErrorBadRequest) {
		t.Errorf("SendMessage after FailNext(502): %v, want a non-API error", err)
	}
	s.FailNext("sendMessage", 500, 0)
	_, err = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "x"})
	if err == nil || !strings.Contains(err.Error(), "500 Internal Server Error") {
		t.Errorf("SendMessage after FailNext(500): %v, want the 500", err)
	}
	if n := len(s.AllMessages()); n != 0 {
		t.Errorf("%d messages delivered by failed calls, want none", n)
	}
	if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "x"}); err != nil {
		t.Errorf("SendMessage once the failures are used up: %v", err)
	}
	if got := s.Calls("sendMessage"); got != 4 {
		t.Errorf("Calls(sendMessage) = %d, want 4", got)
	}
}

func TestMigrate(t *testing.T) {
	s := tgfake.New(t, token)
	const group, supergroup = -4001, -1001234567890
	s.SendText(group, 5, "/start@dozor_test_bot")
	s.Migrate(group, supergroup)
	b := newBot(t, s)
	ctx := testCtx(t)

	_, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: group, Text: "x"})
	var mig *bot.MigrateError
	if !errors.As(err, &mig) || int64(mig.MigrateToChatID) != supergroup {
		t.Fatalf("SendMessage to a migrated group: %v, want *bot.MigrateError to %d", err, int64(supergroup))
	}
	if !strings.Contains(mig.Message, "group chat was upgraded to a supergroup chat") {
		t.Errorf("migrate error message %q", mig.Message)
	}
	if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: supergroup, Text: "x"}); err != nil {
		t.Errorf("SendMessage to the new supergroup: %v", err)
	}
}

func TestLongPollingDeliversToHandler(t *testing.T) {
	s := tgfake.New(t, token)
	b := newBot(t, s)
	replied := make(chan error, 1) // the handler outlives the stored message; wait for it
	b.RegisterHandler(bot.HandlerTypeMessageText, "start", bot.MatchTypeCommand, func(ctx context.Context, b *bot.Bot, u *models.Update) {
		text := fmt.Sprintf("Привет, <b>%s</b> (%s)", html.EscapeString(u.Message.From.FirstName), u.Message.From.LanguageCode)
		_, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.Message.Chat.ID, Text: text, ParseMode: models.ParseModeHTML})
		replied <- err
	})
	startBot(t, b)

	ctx := testCtx(t)
	s.SendText(42, 42, "/start", tgfake.FirstName("Иван & Co"), tgfake.LanguageCode("ru"), tgfake.Username("ivan"))
	select {
	case err := <-replied:
		if err != nil {
			t.Fatalf("reply: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the /start handler never ran")
	}
	msgs, err := s.WaitMessages(ctx, 42, 1)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].Plain != "Привет, Иван & Co (ru)" {
		t.Errorf("reply %q, want the greeting", msgs[0].Plain)
	}
}

func TestCallbackFlow(t *testing.T) {
	s := tgfake.New(t, token)
	s.AddChat(42)
	b := newBot(t, s)
	ctx := testCtx(t)
	sent, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "short", ReplyMarkup: models.InlineKeyboardMarkup{
		InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "More", CallbackData: "more:1"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan error, 1) // the handler outlives the stored answer; wait for it
	b.RegisterHandler(bot.HandlerTypeCallbackQueryData, "more:", bot.MatchTypePrefix, func(ctx context.Context, b *bot.Bot, u *models.Update) {
		handled <- func() error {
			msg := u.CallbackQuery.Message.Message
			if msg == nil {
				return fmt.Errorf("callback query without its message: %+v", u.CallbackQuery)
			}
			if _, err := b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: msg.Chat.ID, MessageID: msg.ID, Text: "the long version"}); err != nil {
				return err
			}
			_, err := b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: u.CallbackQuery.ID, Text: "done"})
			return err
		}()
	})
	startBot(t, b)

	id := s.SendCallback(42, 42, sent.ID, "more:1")
	select {
	case err := <-handled:
		if err != nil {
			t.Fatalf("callback handler: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the callback handler never ran")
	}
	ans, ok := s.CallbackAnswer(id)
	if !ok || ans.Text != "done" {
		t.Errorf("answer %+v (%v), want text done", ans, ok)
	}
	if a, err := s.WaitCallbackAnswer(ctx, id); err != nil || a != ans {
		t.Errorf("WaitCallbackAnswer = %+v, %v", a, err)
	}
	m := s.Messages(42)[0]
	if m.Plain != "the long version" || m.Edited.IsZero() || m.InlineKeyboard != nil {
		t.Errorf("after the edit: %+v, want new text, an edit time and no keyboard (edits without reply_markup drop it)", m)
	}
	_, err = b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: id})
	if !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "query is too old") {
		t.Errorf("answering twice: %v, want query is too old", err)
	}
}

func TestCallbackQueryExpires(t *testing.T) {
	clock := newClock()
	s := tgfake.New(t, token, tgfake.WithClock(clock.Now))
	s.AddChat(42)
	b := newBot(t, s)
	ctx := testCtx(t)
	sent, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "x", ReplyMarkup: models.InlineKeyboardMarkup{
		InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "Go", CallbackData: "go"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := s.SendCallback(42, 42, sent.ID, "go")
	clock.Advance(time.Minute)
	if _, err := b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: id}); err == nil {
		t.Error("answering a callback query a minute late succeeded")
	}
}

// recordingTB catches the fake's complaints about test misuse.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordingTB) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

func TestMisuseFailsTheTest(t *testing.T) {
	rec := &recordingTB{TB: t}
	s := tgfake.New(rec, token)
	s.AddChat(42)
	b := newBot(t, s)
	ctx := testCtx(t)
	sent, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "x", ReplyMarkup: models.InlineKeyboardMarkup{
		InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "Go", CallbackData: "go"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func()
		want string
	}{
		{"button the bot never showed", func() { s.SendCallback(42, 42, sent.ID, "stop") }, `no button with callback_data "stop"`},
		{"private chat of another user", func() { s.SendText(42, 43, "hi") }, "a private chat's id is the user's id"},
		{"message too long for a user", func() { s.SendText(42, 42, strings.Repeat("x", 4097)) }, "1..4096 characters"},
		{"unimplemented method", func() { _, _ = b.GetChat(ctx, &bot.GetChatParams{ChatID: 42}) }, "getChat, a real Bot API method the fake does not implement"},
	}
	for _, st := range steps {
		before := len(rec.errors())
		st.do()
		errs := rec.errors()
		if len(errs) != before+1 || !strings.Contains(errs[len(errs)-1], st.want) {
			t.Errorf("%s: test errors %q, want one containing %q", st.name, errs[before:], st.want)
		}
	}
	if s.PendingUpdates() != 0 {
		t.Errorf("misuse queued %d updates, want none", s.PendingUpdates())
	}
}

func TestGetUpdatesOffsetAndLimit(t *testing.T) {
	s := tgfake.New(t, token)
	ctx := testCtx(t)
	for i := range 3 {
		s.SendText(42, 42, fmt.Sprintf("m%d", i))
	}
	steps := []struct {
		form    url.Values
		want    []int64
		pending int
	}{
		{url.Values{}, []int64{1, 2, 3}, 3},
		{url.Values{"limit": {"2"}}, []int64{1, 2}, 3},
		{url.Values{"limit": {"0"}}, []int64{1}, 3},     // clamped to 1..100
		{url.Values{"offset": {"2"}}, []int64{2, 3}, 2}, // confirms update 1
		{url.Values{"offset": {"1"}}, []int64{2, 3}, 2}, // a confirmed update does not come back
		{url.Values{"offset": {"4"}}, []int64{}, 0},
	}
	for i, st := range steps {
		status, r, err := call(ctx, t, s, method("getUpdates"), st.form)
		if err != nil || status != 200 {
			t.Fatalf("step %d: %d %+v %v", i, status, r, err)
		}
		got := updateIDs(t, r)
		if fmt.Sprint(got) != fmt.Sprint(st.want) || s.PendingUpdates() != st.pending {
			t.Errorf("step %d %v: updates %v pending %d, want %v pending %d", i, st.form, got, s.PendingUpdates(), st.want, st.pending)
		}
	}

	for i := range 3 {
		s.SendText(42, 42, fmt.Sprintf("n%d", i)) // updates 4, 5, 6
	}
	_, r, err := call(ctx, t, s, method("getUpdates"), url.Values{"offset": {"-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := updateIDs(t, r); fmt.Sprint(got) != "[6]" || s.PendingUpdates() != 1 {
		t.Errorf("offset -1: updates %v pending %d, want [6] and the rest forgotten", got, s.PendingUpdates())
	}
}

func TestGetUpdatesLongPoll(t *testing.T) {
	s := tgfake.New(t, token)
	ctx := testCtx(t)

	type result struct {
		status int
		r      apiReply
		err    error
	}
	poll := func(ctx context.Context, form url.Values) <-chan result {
		ch := make(chan result, 1)
		go func() {
			status, r, err := call(ctx, t, s, method("getUpdates"), form)
			ch <- result{status, r, err}
		}()
		return ch
	}

	// A poll blocks until an update arrives and then returns it.
	got := poll(ctx, url.Values{"timeout": {"50"}})
	if err := s.WaitPollers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	s.SendText(42, 42, "wake up")
	res := <-got
	if res.err != nil || res.status != 200 {
		t.Fatalf("long poll: %d %v", res.status, res.err)
	}
	if ids := updateIDs(t, res.r); fmt.Sprint(ids) != "[1]" {
		t.Errorf("long poll returned %v, want [1]", ids)
	}

	// Cancelling the request ends the poll.
	pollCtx, cancel := context.WithCancel(ctx)
	got = poll(pollCtx, url.Values{"timeout": {"50"}, "offset": {"2"}})
	if err := s.WaitPollers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if res := <-got; !errors.Is(res.err, context.Canceled) {
		t.Errorf("cancelled long poll: %d %+v %v, want context.Canceled", res.status, res.r, res.err)
	}
	if err := s.WaitPollers(ctx, 0); err != nil {
		t.Fatalf("the server kept waiting for a cancelled poll: %v", err)
	}

	// A second poller terminates the first with 409, as Telegram does.
	first := poll(ctx, url.Values{"timeout": {"50"}, "offset": {"2"}})
	if err := s.WaitPollers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	status, _, err := call(ctx, t, s, method("getUpdates"), url.Values{"offset": {"2"}})
	if err != nil || status != 200 {
		t.Fatalf("second poller: %d %v", status, err)
	}
	res = <-first
	if res.status != 409 || !strings.Contains(res.r.Description, "terminated by other getUpdates request") {
		t.Errorf("first poller got %d %+v, want 409 terminated", res.status, res.r)
	}

	// Close does not wait out a parked poll.
	parked := poll(ctx, url.Values{"timeout": {"50"}, "offset": {"2"}})
	if err := s.WaitPollers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if res := <-parked; res.err != nil || res.status != 200 {
		t.Errorf("poll across Close: %d %v, want an empty 200", res.status, res.err)
	}
}

func TestAllowedUpdates(t *testing.T) {
	s := tgfake.New(t, token)
	s.AddChat(42)
	b := newBot(t, s)
	ctx := testCtx(t)
	sent, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "x", ReplyMarkup: models.InlineKeyboardMarkup{
		InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "Go", CallbackData: "go"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := call(ctx, t, s, method("getUpdates"), url.Values{"allowed_updates": {`["callback_query"]`}}); err != nil {
		t.Fatal(err)
	}
	s.SendText(42, 42, "dropped")
	s.SendCallback(42, 42, sent.ID, "go")
	_, r, err := call(ctx, t, s, method("getUpdates"), nil) // the setting sticks without the parameter
	if err != nil {
		t.Fatal(err)
	}
	var ups []models.Update
	if err := json.Unmarshal(r.Result, &ups); err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].CallbackQuery == nil || ups[0].CallbackQuery.Data != "go" {
		t.Errorf("updates %s, want only the callback query", r.Result)
	}
}

func TestWebhook(t *testing.T) {
	s := tgfake.New(t, token)
	b := newBot(t, s)
	ctx := testCtx(t)
	if _, err := b.SetWebhook(ctx, &bot.SetWebhookParams{URL: "http://example.com/hook"}); !errors.Is(err, bot.ErrorBadRequest) {
		t.Errorf("http webhook: %v, want a bad request", err)
	}
	if _, err := b.SetWebhook(ctx, &bot.SetWebhookParams{URL: "https://example.com/hook", SecretToken: "s3cret-Token_1"}); err != nil {
		t.Fatalf("SetWebhook: %v", err)
	}
	if w := s.Webhook(); w.URL != "https://example.com/hook" || w.SecretToken != "s3cret-Token_1" {
		t.Errorf("Webhook() = %+v", w)
	}
	status, r, err := call(ctx, t, s, method("getUpdates"), nil)
	if err != nil || status != 409 || !strings.Contains(r.Description, "webhook is active") {
		t.Errorf("getUpdates with a webhook: %d %+v %v, want 409", status, r, err)
	}
	if _, err := b.DeleteWebhook(ctx, &bot.DeleteWebhookParams{DropPendingUpdates: true}); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	if status, _, err := call(ctx, t, s, method("getUpdates"), nil); err != nil || status != 200 {
		t.Errorf("getUpdates after deleteWebhook: %d %v", status, err)
	}
}

func TestGlobalRateLimit(t *testing.T) {
	const chats = 40
	tests := []struct {
		name     string
		interval time.Duration // clock step between messages
		sends    int
		want429  int
	}{
		{"burst of 31 in one instant", 0, 31, 1},
		{"paced at 34ms", 34 * time.Millisecond, 90, 0},
		{"paced at 30ms", 30 * time.Millisecond, 90, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			s := tgfake.New(t, token, tgfake.WithClock(clock.Now))
			for c := int64(1); c <= chats; c++ {
				s.AddChat(c)
			}
			b := newBot(t, s)
			ctx := testCtx(t)
			var delivered int
			var firstRefusal error
			for i := range tt.sends {
				_, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: int64(i%chats + 1), Text: "x"})
				if err == nil {
					delivered++
				} else if firstRefusal == nil {
					firstRefusal = err
					break
				}
				clock.Advance(tt.interval)
			}
			if tt.want429 == 0 {
				if firstRefusal != nil {
					t.Fatalf("refused at a legal pace: %v", firstRefusal)
				}
				return
			}
			var tooMany *bot.TooManyRequestsError
			if !errors.As(firstRefusal, &tooMany) || tooMany.RetryAfter < 1 {
				t.Fatalf("over the limit: %v, want *bot.TooManyRequestsError with RetryAfter >= 1", firstRefusal)
			}
			if delivered != 30 || len(s.AllMessages()) != 30 || s.Count429() != 1 {
				t.Errorf("delivered %d, stored %d, Count429 %d; want 30, 30, 1", delivered, len(s.AllMessages()), s.Count429())
			}
			clock.Advance(time.Duration(tooMany.RetryAfter) * time.Second)
			if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: chats, Text: "x"}); err != nil {
				t.Errorf("after waiting retry_after: %v", err)
			}
		})
	}
}

func TestPerChatRateLimit(t *testing.T) {
	clock := newClock()
	s := tgfake.New(t, token, tgfake.WithClock(clock.Now), tgfake.WithGroupLimit(20))
	s.AddChat(42)
	s.AddChat(-5)
	b := newBot(t, s)
	ctx := testCtx(t)
	send := func(chat int64) error {
		_, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: chat, Text: "x"})
		return err
	}
	for i := range 3 {
		if err := send(42); err != nil {
			t.Fatalf("message %d of the burst: %v", i+1, err)
		}
	}
	var tooMany *bot.TooManyRequestsError
	if err := send(42); !errors.As(err, &tooMany) || tooMany.RetryAfter != 1 {
		t.Fatalf("fourth message in the same instant: %v, want 429 retry after 1", err)
	}
	clock.Advance(time.Second)
	if err := send(42); err != nil {
		t.Errorf("one second later: %v", err)
	}
	if err := send(42); !errors.As(err, &tooMany) {
		t.Errorf("sustained faster than 1/s: %v, want 429", err)
	}

	for i := range 20 {
		if err := send(-5); err != nil {
			t.Fatalf("group message %d: %v", i+1, err)
		}
		clock.Advance(time.Second)
	}
	if err := send(-5); !errors.As(err, &tooMany) || tooMany.RetryAfter != 40 {
		t.Errorf("21st group message within a minute: %v, want 429 retry after 40", err)
	}
}

func TestCommands(t *testing.T) {
	s := tgfake.New(t, token)
	s.AddChat(42)
	b := newBot(t, s)
	ctx := testCtx(t)
	public := []models.BotCommand{{Command: "start", Description: "Подписаться"}, {Command: "help", Description: "Help"}}
	admin := append(public, models.BotCommand{Command: "addsource", Description: "Add a feed"})

	if _, err := b.SetMyCommands(ctx, &bot.SetMyCommandsParams{Commands: public}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SetMyCommands(ctx, &bot.SetMyCommandsParams{Commands: admin, Scope: &models.BotCommandScopeChat{ChatID: 42}, LanguageCode: "ru"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SetMyCommands(ctx, &bot.SetMyCommandsParams{Commands: public, Scope: &models.BotCommandScopeAllPrivateChats{}}); err != nil {
		t.Fatal(err)
	}
	if s.CommandsSet() != 3 {
		t.Errorf("CommandsSet = %d, want 3", s.CommandsSet())
	}
	if got := s.Commands(tgfake.Scope{Type: tgfake.ScopeDefault}, ""); fmt.Sprint(got) != fmt.Sprint(public) {
		t.Errorf("default commands %v", got)
	}
	if got := s.Commands(tgfake.Scope{Type: tgfake.ScopeChat, ChatID: 42}, "ru"); len(got) != 3 {
		t.Errorf("admin chat commands %v", got)
	}
	if got := s.Commands(tgfake.Scope{Type: tgfake.ScopeChat, ChatID: 42}, ""); got != nil {
		t.Errorf("chat commands without language %v, want none (no fallback)", got)
	}
	got, err := b.GetMyCommands(ctx, &bot.GetMyCommandsParams{Scope: &models.BotCommandScopeChat{ChatID: 42}, LanguageCode: "ru"})
	if err != nil || len(got) != 3 || got[2].Command != "addsource" {
		t.Errorf("GetMyCommands(chat 42, ru) = %v, %v", got, err)
	}
	got, err = b.GetMyCommands(ctx, &bot.GetMyCommandsParams{Scope: &models.BotCommandScopeAllGroupChats{}})
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("GetMyCommands(all groups) = %#v, %v, want an empty list", got, err)
	}

	bad := []struct {
		name   string
		params bot.SetMyCommandsParams
		want   string
	}{
		{"bad command", bot.SetMyCommandsParams{Commands: []models.BotCommand{{Command: "add-source", Description: "x"}}}, "BOT_COMMAND_INVALID"},
		{"empty description", bot.SetMyCommandsParams{Commands: []models.BotCommand{{Command: "x", Description: ""}}}, "BOT_COMMAND_DESCRIPTION_INVALID"},
		{"unknown chat", bot.SetMyCommandsParams{Commands: public, Scope: &models.BotCommandScopeChat{ChatID: 99}}, "chat not found"},
		{"bad language", bot.SetMyCommandsParams{Commands: public, LanguageCode: "rus"}, "invalid language code"},
	}
	for _, tt := range bad {
		if _, err := b.SetMyCommands(ctx, &tt.params); !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want bad request %q", tt.name, err, tt.want)
		}
	}
	if s.CommandsSet() != 3 {
		t.Errorf("CommandsSet after rejected calls = %d, want 3", s.CommandsSet())
	}
}

func TestEditAndDelete(t *testing.T) {
	s := tgfake.New(t, token)
	userMsg := s.SendText(42, 42, "hello")
	b := newBot(t, s)
	ctx := testCtx(t)
	sent, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if sent.ID != userMsg+1 {
		t.Errorf("bot message id %d, want %d (ids are shared within a chat)", sent.ID, userMsg+1)
	}
	steps := []struct {
		name string
		do   func() error
		want string // "" for success
	}{
		{"same text", func() error {
			_, err := b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: 42, MessageID: sent.ID, Text: "v1"})
			return err
		}, "message is not modified"},
		{"new text", func() error {
			_, err := b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: 42, MessageID: sent.ID, Text: "<i>v2</i>", ParseMode: models.ParseModeHTML})
			return err
		}, ""},
		{"add keyboard", func() error {
			_, err := b.EditMessageReplyMarkup(ctx, &bot.EditMessageReplyMarkupParams{ChatID: 42, MessageID: sent.ID, ReplyMarkup: models.InlineKeyboardMarkup{
				InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "ok", CallbackData: "ok"}}}}})
			return err
		}, ""},
		{"same keyboard", func() error {
			_, err := b.EditMessageReplyMarkup(ctx, &bot.EditMessageReplyMarkupParams{ChatID: 42, MessageID: sent.ID, ReplyMarkup: models.InlineKeyboardMarkup{
				InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "ok", CallbackData: "ok"}}}}})
			return err
		}, "message is not modified"},
		{"user's message", func() error {
			_, err := b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: 42, MessageID: userMsg, Text: "x"})
			return err
		}, "message can't be edited"},
		{"delete", func() error {
			_, err := b.DeleteMessage(ctx, &bot.DeleteMessageParams{ChatID: 42, MessageID: sent.ID})
			return err
		}, ""},
		{"edit deleted", func() error {
			_, err := b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: 42, MessageID: sent.ID, Text: "v3"})
			return err
		}, "message to edit not found"},
		{"delete twice", func() error {
			_, err := b.DeleteMessage(ctx, &bot.DeleteMessageParams{ChatID: 42, MessageID: sent.ID})
			return err
		}, "message to delete not found"},
	}
	for _, st := range steps {
		err := st.do()
		switch {
		case st.want == "" && err != nil:
			t.Errorf("%s: %v", st.name, err)
		case st.want != "" && (!errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), st.want)):
			t.Errorf("%s: %v, want bad request %q", st.name, err, st.want)
		}
	}
	m := s.Messages(42)[0]
	if m.Plain != "v2" || m.Text != "<i>v2</i>" || !m.Deleted || m.Edited.IsZero() {
		t.Errorf("final state %+v, want edited to v2 and deleted", m)
	}
}

func TestChatAction(t *testing.T) {
	s := tgfake.New(t, token)
	s.AddChat(42)
	b := newBot(t, s)
	ctx := testCtx(t)
	if _, err := b.SendChatAction(ctx, &bot.SendChatActionParams{ChatID: 42, Action: models.ChatActionTyping}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SendChatAction(ctx, &bot.SendChatActionParams{ChatID: 42, Action: "dancing"}); !errors.Is(err, bot.ErrorBadRequest) {
		t.Errorf("unknown action: %v, want a bad request", err)
	}
	if got := s.ChatActions(42); fmt.Sprint(got) != "[typing]" {
		t.Errorf("ChatActions = %v", got)
	}
}

func TestOtherEncodings(t *testing.T) {
	s := tgfake.New(t, token, tgfake.WithoutRateLimits())
	s.AddChat(42)
	ctx := testCtx(t)

	body := `{"chat_id":42,"text":"json &amp; co","parse_mode":"html","reply_markup":{"inline_keyboard":[[{"text":"a","callback_data":"x"}]]}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+method("sendMessage"), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if status, r, err := do(req); err != nil || status != 200 || !r.OK {
		t.Fatalf("JSON body: %d %+v %v", status, r, err)
	}

	req, err = http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+method("sendMessage")+"?chat_id=42&text=query", nil)
	if err != nil {
		t.Fatal(err)
	}
	if status, r, err := do(req); err != nil || status != 200 || !r.OK {
		t.Fatalf("query string: %d %+v %v", status, r, err)
	}

	msgs := s.Messages(42)
	if len(msgs) != 2 || msgs[0].Plain != "json & co" || msgs[0].InlineKeyboard[0][0].CallbackData != "x" || msgs[1].Plain != "query" {
		t.Errorf("messages %+v", msgs)
	}
}

func TestWaitMessagesReportsWhatArrived(t *testing.T) {
	s := tgfake.New(t, token)
	s.AddChat(42)
	b := newBot(t, s)
	if _, err := b.SendMessage(testCtx(t), &bot.SendMessageParams{ChatID: 42, Text: "one"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	msgs, err := s.WaitMessages(ctx, 42, 2)
	if !errors.Is(err, context.Canceled) || len(msgs) != 1 {
		t.Errorf("WaitMessages for 2 with 1 sent: %d messages, %v; want 1 and context.Canceled", len(msgs), err)
	}
}

func BenchmarkSendMessage(b *testing.B) {
	s := tgfake.New(b, token, tgfake.WithoutRateLimits())
	s.AddChat(42)
	bt, err := bot.New(s.Token(), bot.WithServerURL(s.URL()), bot.WithSkipGetMe())
	if err != nil {
		b.Fatal(err)
	}
	params := &bot.SendMessageParams{ChatID: 42, Text: "<b>Заголовок</b> &amp; текст", ParseMode: models.ParseModeHTML}
	ctx := context.Background()
	for b.Loop() {
		if _, err := bt.SendMessage(ctx, params); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWaitAllMessages(t *testing.T) {
	s := tgfake.New(t, token)
	s.AddChat(42)
	s.AddChat(43)
	b := newBot(t, s)
	done := make(chan error, 1)
	go func() {
		for _, chat := range []int64{42, 43} {
			if _, err := b.SendMessage(testCtx(t), &bot.SendMessageParams{ChatID: chat, Text: fmt.Sprint("to ", chat)}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	msgs, err := s.WaitAllMessages(testCtx(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].ChatID != 42 || msgs[1].ChatID != 43 || msgs[1].Plain != "to 43" {
		t.Errorf("messages %+v", msgs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	msgs, err = s.WaitAllMessages(ctx, 3)
	if !errors.Is(err, context.Canceled) || len(msgs) != 2 {
		t.Errorf("WaitAllMessages for 3 with 2 sent: %d messages, %v; want 2 and context.Canceled", len(msgs), err)
	}
}
