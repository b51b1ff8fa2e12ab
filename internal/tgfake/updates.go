package tgfake

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"
)

const (
	// maxPollTimeout is the Bot API's cap on getUpdates' timeout, in seconds.
	maxPollTimeout = 50
	// callbackTimeout is how long a callback query can be answered; the
	// client stops waiting after roughly this long.
	callbackTimeout = 15 * time.Second
)

// defaultUpdates are the update types sent when allowed_updates is empty or
// was never set: all except chat_member, message_reaction and
// message_reaction_count. The fake only produces message and callback_query.
var defaultUpdates = map[string]bool{"message": true, "callback_query": true}

func (s *Server) getMe(*http.Request, params) (any, *apiError) {
	return wireMe{wireUser: s.botUser(), CanJoinGroups: true}, nil
}

// getUpdates follows the Bot API: updates below offset are confirmed and
// forgotten, a negative offset keeps only the last -offset updates, limit is
// clamped to 1..100, timeout to 0..50 seconds, and the call returns as soon
// as there is an update. A newer getUpdates ends a waiting one with 409, as
// does an active webhook.
func (s *Server) getUpdates(r *http.Request, p params) (any, *apiError) {
	offset := p.int64("offset")
	limit := 100
	if p.has("limit") {
		limit = min(max(p.int("limit"), 1), 100)
	}
	timeout := min(max(p.int("timeout"), 0), maxPollTimeout)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.webhook.URL != "" {
		return nil, conflict("can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
	}
	if p.has("allowed_updates") {
		var kinds []string
		if err := json.Unmarshal([]byte(p["allowed_updates"]), &kinds); err == nil {
			s.setAllowed(kinds)
		}
	}
	s.pollGen++
	gen := s.pollGen
	s.notify() // wakes an older waiting poll so it can see it was superseded
	s.confirm(offset)

	var deadline <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(time.Duration(timeout) * time.Second)
		defer timer.Stop()
		deadline = timer.C
	}
	for {
		if s.pollGen != gen {
			return nil, conflict("terminated by other getUpdates request; make sure that only one bot instance is running")
		}
		batch := s.batch(offset, limit)
		if len(batch) > 0 || deadline == nil || s.closed {
			return batch, nil
		}
		ch := s.changed
		s.setWaiting(+1)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			deadline = nil
		case <-r.Context().Done():
			s.mu.Lock()
			s.setWaiting(-1)
			return []wireUpdate{}, nil // the client is gone; nothing reads this
		}
		s.mu.Lock()
		s.setWaiting(-1)
	}
}

// setWaiting counts parked long polls. It signals its own channel rather
// than s.changed, which would wake the pollers themselves. Callers hold s.mu.
func (s *Server) setWaiting(delta int) {
	s.waiting += delta
	close(s.pollers)
	s.pollers = make(chan struct{})
}

// confirm drops the updates the bot has seen. Callers hold s.mu.
func (s *Server) confirm(offset int64) {
	switch {
	case offset > 0:
		i := 0
		for i < len(s.updates) && s.updates[i].wire.UpdateID < offset {
			i++
		}
		s.updates = s.updates[i:]
	case offset < 0:
		if keep := int(-offset); keep < len(s.updates) {
			s.updates = s.updates[len(s.updates)-keep:]
		}
	}
}

// batch is the next limit updates at or after offset. Callers hold s.mu.
func (s *Server) batch(offset int64, limit int) []wireUpdate {
	out := []wireUpdate{}
	for _, u := range s.updates {
		if len(out) == limit {
			break
		}
		if u.wire.UpdateID >= offset {
			out = append(out, u.wire)
		}
	}
	return out
}

// setAllowed stores allowed_updates; an empty list means the default set.
// Callers hold s.mu.
func (s *Server) setAllowed(kinds []string) {
	if len(kinds) == 0 {
		s.allowed = nil
		return
	}
	s.allowed = map[string]bool{}
	for _, k := range kinds {
		s.allowed[k] = true
	}
}

// enqueue queues an update unless allowed_updates excludes its kind, in
// which case Telegram never stores it. Callers hold s.mu.
func (s *Server) enqueue(kind string, w wireUpdate) {
	allowed := s.allowed
	if allowed == nil {
		allowed = defaultUpdates
	}
	if !allowed[kind] {
		return
	}
	w.UpdateID = s.nextUpd
	s.nextUpd++
	s.updates = append(s.updates, update{kind: kind, wire: w})
	s.notify()
}

// SendOption describes the user behind SendText and SendCallback.
type SendOption func(*sender)

type sender struct {
	firstName string
	lastName  string
	username  string
	lang      string
	replyTo   int
}

// FirstName sets the user's first name (default "Test").
func FirstName(name string) SendOption { return func(s *sender) { s.firstName = name } }

// LastName sets the user's last name (default none).
func LastName(name string) SendOption { return func(s *sender) { s.lastName = name } }

// Username sets the user's @username (default none, as for many real users).
func Username(username string) SendOption { return func(s *sender) { s.username = username } }

// LanguageCode sets the user's client language (default "en").
func LanguageCode(code string) SendOption { return func(s *sender) { s.lang = code } }

// ReplyTo makes the message a reply to message id in the same chat.
func ReplyTo(messageID int) SendOption { return func(s *sender) { s.replyTo = messageID } }

func newSender(opts []SendOption) sender {
	snd := sender{firstName: "Test", lang: "en"}
	for _, o := range opts {
		o(&snd)
	}
	return snd
}

func (snd sender) user(id int64) wireUser {
	return wireUser{ID: id, FirstName: snd.firstName, LastName: snd.lastName, Username: snd.username, LanguageCode: snd.lang}
}

// SendText queues a text message from userID in chatID, as the user typing
// it, and returns its message id. A positive chatID is the private chat with
// userID and must equal it; a negative one is a group. Commands get
// bot_command entities as in Telegram, which the library's command matching
// relies on. The chat becomes known, and a user who had blocked the bot
// unblocks it by writing.
func (s *Server) SendText(chatID, userID int64, text string, opts ...SendOption) int {
	s.t.Helper()
	switch {
	case userID <= 0:
		s.t.Errorf("tgfake: SendText: user id must be positive, got %d", userID)
		return 0
	case chatID > 0 && chatID != userID:
		s.t.Errorf("tgfake: SendText: a private chat's id is the user's id, got chat %d for user %d", chatID, userID)
		return 0
	case chatID == 0:
		s.t.Errorf("tgfake: SendText: chat id 0 is not a valid Telegram chat id")
		return 0
	case text == "" || !utf8.ValidString(text) || utf8.RuneCountInString(text) > maxTextRunes:
		s.t.Errorf("tgfake: SendText: a Telegram user can send only 1..%d characters of valid UTF-8, got %q", maxTextRunes, text)
		return 0
	}
	snd := newSender(opts)

	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.chats[chatID]; old != nil && old.migratedTo != 0 {
		s.t.Errorf("tgfake: SendText: chat %d migrated to %d; users write there now", chatID, old.migratedTo)
		return 0
	}
	c := s.chat(chatID)
	if c.typ == "private" {
		c.firstName, c.lastName, c.username = snd.firstName, snd.lastName, snd.username
		c.blocked = false
	}
	if snd.replyTo != 0 {
		if r := c.msgs[snd.replyTo]; r == nil || r.Deleted {
			s.t.Errorf("tgfake: SendText: chat %d has no message %d to reply to", chatID, snd.replyTo)
			return 0
		}
	}
	if c.typ != "private" {
		if c.members == nil {
			c.members = map[int64]string{}
		}
		if c.members[userID] == "" {
			c.members[userID] = "member" // writing in a group takes being in it
		}
	}
	m := &storedMessage{
		Message: Message{Text: text, Plain: text, Entities: commandEntities(text), ReplyTo: snd.replyTo},
		from:    snd.user(userID),
	}
	c.addMessage(m, s.now())
	s.enqueue("message", wireUpdate{Message: s.wireMessage(c, m, true)})
	return m.ID
}

// SendCallback queues the user pressing the inline button with this
// callback_data under the bot's message messageID, and returns the callback
// query id. The button must exist on that message: a real user can only press
// what the bot showed.
func (s *Server) SendCallback(chatID, userID int64, messageID int, data string, opts ...SendOption) string {
	s.t.Helper()
	if userID <= 0 || (chatID > 0 && chatID != userID) {
		s.t.Errorf("tgfake: SendCallback: user %d cannot press buttons in chat %d", userID, chatID)
		return ""
	}
	snd := newSender(opts)

	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[chatID]
	if c == nil {
		s.t.Errorf("tgfake: SendCallback: chat %d is unknown", chatID)
		return ""
	}
	m := c.msgs[messageID]
	if m == nil || m.Deleted || !m.fromBot {
		s.t.Errorf("tgfake: SendCallback: chat %d has no bot message %d", chatID, messageID)
		return ""
	}
	if !hasCallbackData(m.InlineKeyboard, data) {
		s.t.Errorf("tgfake: SendCallback: message %d in chat %d has no button with callback_data %q", messageID, chatID, data)
		return ""
	}
	s.nextCBQ++
	id := strconv.FormatUint(uint64(s.botID)<<20+s.nextCBQ, 10)
	s.callbacks[id] = &callbackQuery{chatID: chatID, created: s.now()}
	s.enqueue("callback_query", wireUpdate{CallbackQuery: &wireCallbackQuery{
		ID:           id,
		From:         snd.user(userID),
		Message:      s.wireMessage(c, m, true),
		ChatInstance: strconv.FormatInt(chatID*7919+s.botID, 10),
		Data:         data,
	}})
	return id
}

func hasCallbackData(kb [][]models.InlineKeyboardButton, data string) bool {
	for _, row := range kb {
		if slices.ContainsFunc(row, func(b models.InlineKeyboardButton) bool { return b.CallbackData == data }) {
			return true
		}
	}
	return false
}

// commandEntities finds /commands (optionally /command@botname) the way
// Telegram marks them: the slash starts the text or follows a character that
// is not part of a word, path or tag. Offsets are UTF-16.
func commandEntities(text string) []models.MessageEntity {
	var ents []models.MessageEntity
	pos := 0 // UTF-16 offset of text[i]
	var prev rune = -1
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == '/' && (prev == -1 || !isCommandNeighbour(prev)) {
			j := i + 1
			for j < len(text) && j-i-1 < 64 && isCommandByte(text[j]) {
				j++
			}
			if j > i+1 && (j == len(text) || !isCommandByte(text[j])) {
				if j < len(text) && text[j] == '@' {
					k := j + 1
					for k < len(text) && isCommandByte(text[k]) {
						k++
					}
					if n := k - j - 1; n >= 3 && n <= 32 {
						j = k
					}
				}
				ents = append(ents, models.MessageEntity{Type: models.MessageEntityTypeBotCommand, Offset: pos, Length: j - i})
				pos += j - i
				prev = rune(text[j-1])
				i = j
				continue
			}
		}
		pos += utf16Len(r)
		prev = r
		i += size
	}
	return ents
}

func isCommandByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func isCommandNeighbour(r rune) bool {
	return r < utf8.RuneSelf && isCommandByte(byte(r)) || r == '/' || r == '<' || r == '>' || r == '\\'
}
