// Package tgfake is a strict in-process fake of the Telegram Bot API for
// tests of dozor's bot.
//
// It speaks the real wire protocol over loopback HTTP ({URL}/bot{token}/{method},
// query string, urlencoded, JSON or multipart bodies, {"ok":false,...} errors
// with the HTTP status equal to error_code) so the bot under test runs
// unchanged with bot.WithServerURL(s.URL()). Where a sloppy bot would work
// against a lenient fake but fail in production, the fake fails too: HTML is
// parsed with Telegram's rules, message length is counted after parsing,
// callback_data is limited to 64 bytes, unknown chats are "chat not found",
// blocked users give 403, migrated groups give migrate_to_chat_id, and
// sendMessage is rate limited with 429 and retry_after.
//
// The test side drives the bot with SendText and SendCallback and inspects what
// it did with Messages, WaitMessages, Commands, CallbackAnswer and counters.
// Misuse on the test side (pressing a button the bot never showed, a private
// chat whose id is not the user's) and calls to real methods the fake does not
// model fail the test through t.Errorf rather than being answered wrongly.
//
// Default limits: 30 sendMessage calls per sliding second overall, a token
// bucket of 1 message per second with a burst of 3 per private chat, and 20
// messages per sliding minute per group. They use the clock from WithClock,
// so tests step time instead of sleeping.
//
// Not modelled: media and other send methods, webhook delivery (setWebhook
// is recorded and blocks getUpdates, as in Telegram), Markdown validation
// (Markdown and MarkdownV2 text is accepted as is), group privacy mode,
// channels, @username chat ids and inline mode.
package tgfake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"
)

// Option configures a Server.
type Option func(*config)

type config struct {
	username  string
	firstName string
	now       func() time.Time
	limits    limits
}

// WithBotUsername sets the username getMe reports (default "dozor_test_bot"),
// which matters for commands written as /cmd@username in groups.
func WithBotUsername(username string) Option {
	return func(c *config) { c.username = username }
}

// WithClock replaces the clock used for message dates, rate limits and
// callback query expiry, so tests can step time instead of sleeping.
// Long polling still waits in real time.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithGlobalLimit sets how many sendMessage calls per sliding second the bot
// may make across all chats (default 30); 0 switches the limit off.
func WithGlobalLimit(perSecond int) Option {
	return func(c *config) { c.limits.globalPerSecond = max(0, perSecond) }
}

// WithPerChatLimit sets the token bucket for one private chat: perSecond
// messages sustained, burst at once (default 1/s with a burst of 3);
// perSecond <= 0 switches it off.
func WithPerChatLimit(perSecond float64, burst int) Option {
	return func(c *config) {
		c.limits.chatPerSecond = max(0, perSecond)
		c.limits.chatBurst = max(1, burst)
	}
}

// WithGroupLimit sets how many messages per sliding minute one group chat may
// receive (default 20); 0 switches it off.
func WithGroupLimit(perMinute int) Option {
	return func(c *config) { c.limits.groupPerMinute = max(0, perMinute) }
}

// WithoutRateLimits switches all flood limits off, for tests about something
// else that send many messages quickly.
func WithoutRateLimits() Option {
	return func(c *config) { c.limits = limits{} }
}

// Message is one message the bot sent, in its current state.
type Message struct {
	ChatID int64
	ID     int
	// Text is the text parameter exactly as the bot sent it (HTML source
	// when ParseMode is HTML).
	Text string
	// Plain is what the user sees: tags removed, entities decoded, outer
	// white space trimmed, as Telegram stores it.
	Plain     string
	ParseMode string
	Entities  []models.MessageEntity
	// InlineKeyboard is the parsed inline keyboard, nil without one.
	InlineKeyboard [][]models.InlineKeyboardButton
	// ReplyMarkup is the reply_markup parameter as sent, nil without one.
	ReplyMarkup         json.RawMessage
	ReplyTo             int // message_id the bot replied to, 0 if none
	DisableNotification bool
	Sent                time.Time
	Edited              time.Time // zero until edited
	Deleted             bool
}

// Button finds an inline keyboard button by its label.
func (m Message) Button(text string) (models.InlineKeyboardButton, bool) {
	for _, row := range m.InlineKeyboard {
		for _, b := range row {
			if b.Text == text {
				return b, true
			}
		}
	}
	return models.InlineKeyboardButton{}, false
}

func (m Message) clone() Message {
	m.Entities = slices.Clone(m.Entities)
	m.ReplyMarkup = slices.Clone(m.ReplyMarkup)
	if m.InlineKeyboard != nil {
		kb := make([][]models.InlineKeyboardButton, len(m.InlineKeyboard))
		for i, row := range m.InlineKeyboard {
			kb[i] = slices.Clone(row)
		}
		m.InlineKeyboard = kb
	}
	return m
}

// Scope identifies a set of bot commands as in setMyCommands.
type Scope struct {
	Type   string // default, all_private_chats, all_group_chats, all_chat_administrators, chat, chat_administrators, chat_member
	ChatID int64  // for chat, chat_administrators and chat_member
	UserID int64  // for chat_member
}

// Bot command scope types, for Scope.Type.
const (
	ScopeDefault               = "default"
	ScopeAllPrivateChats       = "all_private_chats"
	ScopeAllGroupChats         = "all_group_chats"
	ScopeAllChatAdministrators = "all_chat_administrators"
	ScopeChat                  = "chat"
	ScopeChatAdministrators    = "chat_administrators"
	ScopeChatMember            = "chat_member"
)

// WebhookInfo is what setWebhook recorded. The fake does not deliver updates
// to the webhook; it only makes getUpdates fail with 409 while one is set,
// as Telegram does.
type WebhookInfo struct {
	URL            string
	SecretToken    string
	AllowedUpdates []string
	MaxConnections int
}

// CallbackAnswer is the bot's answerCallbackQuery for one callback query.
type CallbackAnswer struct {
	QueryID   string
	Text      string
	ShowAlert bool
	URL       string
	CacheTime int
	Time      time.Time
}

// Server is the fake Bot API. All methods are safe for concurrent use.
type Server struct {
	t           testing.TB
	token       string
	botID       int64
	botUsername string
	botName     string
	now         func() time.Time
	srv         *httptest.Server
	closeOnce   sync.Once

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every change, see notify
	pollers   chan struct{} // closed and replaced when waiting changes
	waiting   int           // long polls waiting for updates
	closed    bool
	limiter   *limiter
	chats     map[int64]*chat
	sent      []msgRef // bot messages in send order
	updates   []update // not yet confirmed
	nextUpd   int64
	allowed   map[string]bool // nil: Telegram's default set
	pollGen   uint64
	webhook   WebhookInfo
	commands  map[commandKey][]models.BotCommand
	cmdsSet   int
	callbacks map[string]*callbackQuery
	nextCBQ   uint64
	failures  map[string][]failure
	count429  int
	calls     map[string]int
}

type msgRef struct {
	chatID int64
	id     int
}

type commandKey struct {
	scope Scope
	lang  string
}

type callbackQuery struct {
	chatID  int64
	created time.Time
	answer  *CallbackAnswer
}

type failure struct {
	code       int
	retryAfter int
}

// New starts a fake for the bot with this token and closes it when the test
// ends. The token must look like a real one ("123456:secret"): the part before
// the colon is the bot's user id, as in Telegram and bot.Bot.ID.
func New(t testing.TB, token string, opts ...Option) *Server {
	t.Helper()
	id, ok := botIDFromToken(token)
	if !ok {
		t.Fatalf("tgfake: token %q must look like 123456:secret", token)
	}
	cfg := config{
		username:  "dozor_test_bot",
		firstName: "Dozor",
		now:       time.Now,
		limits:    limits{globalPerSecond: 30, chatPerSecond: 1, chatBurst: 3, groupPerMinute: 20},
	}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{
		t:           t,
		token:       token,
		botID:       id,
		botUsername: cfg.username,
		botName:     cfg.firstName,
		now:         cfg.now,
		changed:     make(chan struct{}),
		pollers:     make(chan struct{}),
		limiter:     newLimiter(cfg.limits),
		chats:       map[int64]*chat{},
		nextUpd:     1,
		commands:    map[commandKey][]models.BotCommand{},
		callbacks:   map[string]*callbackQuery{},
		failures:    map[string][]failure{},
		calls:       map[string]int{},
	}
	s.srv = httptest.NewServer(s.handler())
	t.Cleanup(s.Close)
	return s
}

func botIDFromToken(token string) (int64, bool) {
	id, secret, ok := strings.Cut(token, ":")
	if !ok || secret == "" || strings.ContainsAny(secret, "/?#") {
		return 0, false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n > 0
}

// URL is the base URL to pass to bot.WithServerURL.
func (s *Server) URL() string { return s.srv.URL }

// Token is the token the fake accepts.
func (s *Server) Token() string { return s.token }

// BotID is the bot's user id, taken from the token.
func (s *Server) BotID() int64 { return s.botID }

// BotUsername is the username getMe reports.
func (s *Server) BotUsername() string { return s.botUsername }

// Close stops the server. Waiting long polls return at once, so Close does
// not hang on a bot that is still polling. New registers it with t.Cleanup.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.notify()
		s.mu.Unlock()
		s.srv.Close()
	})
}

// notify wakes everything waiting for a change. Callers hold s.mu.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor blocks until cond, called with s.mu held, returns true.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		if cond() {
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// AddChat makes a chat known to the bot, as if the user had pressed Start (or
// the bot had been added to the group) without sending anything the bot sees.
// Positive ids are private chats, negative ids above -10^12 basic groups,
// lower ones supergroups.
func (s *Server) AddChat(chatID int64) {
	s.t.Helper()
	if chatID == 0 {
		s.t.Errorf("tgfake: AddChat: chat id 0 is not a valid Telegram chat id")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chat(chatID)
}

// Block makes the user block the bot (for a group: kick it): every later
// sendMessage, edit or chat action there fails with 403. The user's next
// SendText unblocks it, as pressing "Restart" does.
func (s *Server) Block(chatID int64) {
	s.t.Helper()
	if chatID == 0 {
		s.t.Errorf("tgfake: Block: chat id 0 is not a valid Telegram chat id")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chat(chatID).blocked = true
}

// Unblock undoes Block.
func (s *Server) Unblock(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.chats[chatID]; c != nil {
		c.blocked = false
	}
}

// Migrate upgrades basic group chatID to supergroup newChatID: from now on
// every call naming chatID fails with 400 and migrate_to_chat_id, and
// newChatID is a known chat.
func (s *Server) Migrate(chatID, newChatID int64) {
	s.t.Helper()
	if chatTypeFor(chatID) != "group" || chatTypeFor(newChatID) != "supergroup" {
		s.t.Errorf("tgfake: Migrate(%d, %d): only a basic group (-1 .. -999999999999) migrates, to a supergroup (-100xxxxxxxxxx)", chatID, newChatID)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.chat(chatID)
	old.migratedTo = newChatID
	s.chat(newChatID).title = old.title
}

// FailNext makes the next call of method (case-insensitive, like Telegram)
// fail with code before it does anything. 429 carries retry_after (at least
// 1, as Telegram never sends 0); 502, 503 and 504 come as nginx HTML pages,
// which is what api.telegram.org returns when the Bot API backend is down.
// Calls queue up: FailNext twice fails the next two calls.
func (s *Server) FailNext(method string, code int, retryAfter int) {
	s.t.Helper()
	if code < 400 || code > 599 {
		s.t.Errorf("tgfake: FailNext(%q, %d): code must be an HTTP error status", method, code)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := strings.ToLower(method)
	s.failures[m] = append(s.failures[m], failure{code: code, retryAfter: max(1, retryAfter)})
}

// Count429 is how many 429 responses the fake has sent, from rate limits and
// from FailNext.
func (s *Server) Count429() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count429
}

// CommandsSet is how many setMyCommands calls succeeded.
func (s *Server) CommandsSet() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmdsSet
}

// Commands is the command list stored for exactly this scope and language
// code ("" for all languages), nil if none; like getMyCommands it does not
// fall back to broader scopes.
func (s *Server) Commands(scope Scope, languageCode string) []models.BotCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands[commandKey{scope: scope, lang: languageCode}])
}

// Calls is how many requests with the right token named method
// (case-insensitive), failed ones included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[strings.ToLower(method)]
}

// Webhook is the webhook setWebhook recorded; its URL is empty when none.
func (s *Server) Webhook() WebhookInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.webhook
	w.AllowedUpdates = slices.Clone(w.AllowedUpdates)
	return w
}

// PendingUpdates is how many updates the bot has not confirmed yet.
func (s *Server) PendingUpdates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.updates)
}

// Messages is what the bot sent to chatID, oldest first, deleted ones
// included with Deleted set.
func (s *Server) Messages(chatID int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messagesLocked(chatID)
}

func (s *Server) messagesLocked(chatID int64) []Message {
	var out []Message
	for _, ref := range s.sent {
		if ref.chatID == chatID {
			out = append(out, s.chats[ref.chatID].msgs[ref.id].Message.clone())
		}
	}
	return out
}

// AllMessages is what the bot sent to any chat, in send order.
func (s *Server) AllMessages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.sent))
	for _, ref := range s.sent {
		out = append(out, s.chats[ref.chatID].msgs[ref.id].Message.clone())
	}
	return out
}

// WaitMessages blocks until the bot has sent at least n messages to chatID
// and returns them all. On ctx's end it returns what there is and the
// context's error, so a test can report what did arrive.
func (s *Server) WaitMessages(ctx context.Context, chatID int64, n int) ([]Message, error) {
	err := s.waitFor(ctx, func() bool {
		count := 0
		for _, ref := range s.sent {
			if ref.chatID == chatID {
				count++
			}
		}
		return count >= n
	})
	msgs := s.Messages(chatID)
	if err != nil {
		return msgs, fmt.Errorf("tgfake: waiting for %d messages to chat %d, got %d: %w", n, chatID, len(msgs), err)
	}
	return msgs, nil
}

// WaitAllMessages blocks until the bot has sent at least n messages to any
// chats and returns them all, in send order. On ctx's end it returns what
// there is and the context's error.
func (s *Server) WaitAllMessages(ctx context.Context, n int) ([]Message, error) {
	err := s.waitFor(ctx, func() bool { return len(s.sent) >= n })
	msgs := s.AllMessages()
	if err != nil {
		return msgs, fmt.Errorf("tgfake: waiting for %d messages in all, got %d: %w", n, len(msgs), err)
	}
	return msgs, nil
}

// CallbackAnswer is the bot's answer to the callback query with this id.
func (s *Server) CallbackAnswer(queryID string) (CallbackAnswer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.callbacks[queryID]
	if q == nil || q.answer == nil {
		return CallbackAnswer{}, false
	}
	return *q.answer, true
}

// WaitCallbackAnswer blocks until the bot answers the callback query.
func (s *Server) WaitCallbackAnswer(ctx context.Context, queryID string) (CallbackAnswer, error) {
	err := s.waitFor(ctx, func() bool {
		q := s.callbacks[queryID]
		return q != nil && q.answer != nil
	})
	if err != nil {
		return CallbackAnswer{}, fmt.Errorf("tgfake: waiting for the answer to callback query %s: %w", queryID, err)
	}
	a, _ := s.CallbackAnswer(queryID)
	return a, nil
}

// ChatActions lists the sendChatAction actions the bot sent to chatID.
func (s *Server) ChatActions(chatID int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.chats[chatID]; c != nil {
		return slices.Clone(c.actions)
	}
	return nil
}
