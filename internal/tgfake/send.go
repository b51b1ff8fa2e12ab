package tgfake

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"
)

const (
	// maxCallbackData is Telegram's limit on callback_data, in bytes.
	maxCallbackData = 64
	// deleteWindow is how long a message can be deleted for everyone.
	deleteWindow = 48 * time.Hour
)

// chatActions are the actions sendChatAction accepts.
var chatActions = map[string]bool{
	"typing": true, "upload_photo": true, "record_video": true, "upload_video": true,
	"record_voice": true, "upload_voice": true, "upload_document": true, "choose_sticker": true,
	"find_location": true, "record_video_note": true, "upload_video_note": true,
}

// resolveChat finds the chat a chat_id parameter names, failing like
// Telegram for empty, unknown and migrated chats. Callers hold s.mu.
func (s *Server) resolveChat(raw string) (*chat, *apiError) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, badRequest("chat_id is empty")
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, badRequest("chat not found") // @usernames are not modelled
	}
	c := s.chats[id]
	if c == nil {
		return nil, badRequest("chat not found")
	}
	if c.migratedTo != 0 {
		e := badRequest("group chat was upgraded to a supergroup chat")
		e.migrateTo = c.migratedTo
		return nil, e
	}
	return c, nil
}

// blockedError is the 403 Telegram gives for a chat that shut the bot out.
func blockedError(c *chat) *apiError {
	switch c.typ {
	case "private":
		return forbidden("bot was blocked by the user")
	case "supergroup":
		return forbidden("bot was kicked from the supergroup chat")
	default:
		return forbidden("bot was kicked from the group chat")
	}
}

// messageText is a text parameter after Telegram's processing.
type messageText struct {
	raw       string
	parseMode string
	plain     string
	entities  []models.MessageEntity
}

// parseText validates text as Telegram does: UTF-8, parse_mode applied
// (explicit entities win over parse_mode), outer white space trimmed, then
// 1..4096 characters. Markdown modes are accepted without validation.
func parseText(p params) (messageText, *apiError) {
	t := messageText{raw: p["text"], parseMode: p["parse_mode"]}
	if !utf8.ValidString(t.raw) {
		return t, badRequest("strings must be encoded in UTF-8")
	}
	var ents []models.MessageEntity
	plain := t.raw
	switch {
	case p.has("entities"):
		if err := json.Unmarshal([]byte(p["entities"]), &ents); err != nil {
			return t, badRequest("can't parse entities JSON object")
		}
	default:
		switch strings.ToLower(t.parseMode) {
		case "":
		case "html":
			var err error
			plain, ents, err = parseHTML(t.raw)
			if err != nil {
				return t, badRequest("can't parse entities: " + err.Error())
			}
		case "markdown", "markdownv2":
		default:
			return t, badRequest("unsupported parse_mode")
		}
	}
	t.plain, t.entities = trimText(plain, ents)
	if t.plain == "" {
		return t, badRequest("message text is empty")
	}
	if utf8.RuneCountInString(t.plain) > maxTextRunes {
		return t, badRequest("message is too long")
	}
	return t, nil
}

// replyMarkup is a validated reply_markup parameter.
type replyMarkup struct {
	raw      json.RawMessage
	keyboard [][]models.InlineKeyboardButton
	wire     json.RawMessage // inline keyboard as Telegram echoes it back
}

// inlineActions are the button fields of which exactly one makes a button do
// something; a button with none is a "text button", which inline keyboards
// do not allow.
var inlineActions = []string{
	"url", "callback_data", "web_app", "login_url", "switch_inline_query",
	"switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
	"copy_text", "callback_game", "pay",
}

func parseReplyMarkup(raw string) (replyMarkup, *apiError) {
	if strings.TrimSpace(raw) == "" {
		return replyMarkup{}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &obj); err != nil {
		return replyMarkup{}, badRequest("can't parse reply keyboard markup JSON object")
	}
	rm := replyMarkup{raw: json.RawMessage(raw)}
	rowsRaw, inline := obj["inline_keyboard"]
	if !inline {
		for _, k := range []string{"keyboard", "remove_keyboard", "force_reply"} {
			if _, ok := obj[k]; ok {
				return rm, nil
			}
		}
		return replyMarkup{}, badRequest("can't parse reply keyboard markup JSON object")
	}
	var rows [][]map[string]json.RawMessage
	if err := json.Unmarshal(rowsRaw, &rows); err != nil {
		return replyMarkup{}, badRequest("can't parse inline keyboard button: field \"inline_keyboard\" must be an Array of Arrays of InlineKeyboardButton")
	}
	wireRows := make([][]map[string]json.RawMessage, len(rows))
	rm.keyboard = make([][]models.InlineKeyboardButton, len(rows))
	for i, row := range rows {
		for _, btn := range row {
			clean, aerr := checkButton(btn)
			if aerr != nil {
				return replyMarkup{}, aerr
			}
			data, _ := json.Marshal(clean)
			var b models.InlineKeyboardButton
			if err := json.Unmarshal(data, &b); err != nil {
				return replyMarkup{}, badRequest("can't parse inline keyboard button: " + err.Error())
			}
			wireRows[i] = append(wireRows[i], clean)
			rm.keyboard[i] = append(rm.keyboard[i], b)
		}
	}
	rm.wire, _ = json.Marshal(map[string]any{"inline_keyboard": wireRows})
	return rm, nil
}

// checkButton validates one inline button and returns it without the empty
// fields clients leave in (the library always sends "copy_text":{"text":""}).
func checkButton(btn map[string]json.RawMessage) (map[string]json.RawMessage, *apiError) {
	textRaw, ok := btn["text"]
	if !ok {
		return nil, badRequest("can't parse inline keyboard button: Can't find field \"text\"")
	}
	var text string
	if err := json.Unmarshal(textRaw, &text); err != nil {
		return nil, badRequest("can't parse inline keyboard button: Field \"text\" must be of type String")
	}
	if strings.TrimSpace(text) == "" {
		return nil, badRequest("BUTTON_TEXT_INVALID")
	}
	clean := map[string]json.RawMessage{}
	for k, v := range btn {
		if !isEmptyJSON(k, v) {
			clean[k] = v
		}
	}
	actions := 0
	for _, k := range inlineActions {
		if _, ok := clean[k]; ok {
			actions++
		}
	}
	if actions == 0 {
		return nil, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
	}
	if raw, ok := clean["callback_data"]; ok {
		var data string
		if err := json.Unmarshal(raw, &data); err != nil || len(data) > maxCallbackData {
			return nil, badRequest("BUTTON_DATA_INVALID")
		}
	}
	if raw, ok := clean["url"]; ok {
		var u string
		if err := json.Unmarshal(raw, &u); err != nil || !validButtonURL(u) {
			return nil, badRequest("BUTTON_URL_INVALID")
		}
	}
	return clean, nil
}

// isEmptyJSON reports fields that carry nothing: "", false, {"text":""}.
func isEmptyJSON(key string, v json.RawMessage) bool {
	switch string(bytes.TrimSpace(v)) {
	case `""`, "false", "null":
		return key != "text" && key != "switch_inline_query" && key != "switch_inline_query_current_chat"
	}
	if key == "copy_text" {
		var ct struct {
			Text string `json:"text"`
		}
		return json.Unmarshal(v, &ct) == nil && ct.Text == ""
	}
	return false
}

func validButtonURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.Host != ""
	case "tg":
		return true
	}
	return false
}

func (s *Server) sendMessage(_ *http.Request, p params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, aerr := s.resolveChat(p["chat_id"])
	if aerr != nil {
		return nil, aerr
	}
	text, aerr := parseText(p)
	if aerr != nil {
		return nil, aerr
	}
	markup, aerr := parseReplyMarkup(p["reply_markup"])
	if aerr != nil {
		return nil, aerr
	}
	replyTo, aerr := replyTarget(c, p)
	if aerr != nil {
		return nil, aerr
	}
	if c.blocked {
		return nil, blockedError(c)
	}
	now := s.now()
	if retry, ok := s.limiter.take(c.id, now); !ok {
		return nil, tooMany(retry)
	}
	m := &storedMessage{
		Message: Message{
			Text:                text.raw,
			Plain:               text.plain,
			ParseMode:           text.parseMode,
			Entities:            text.entities,
			InlineKeyboard:      markup.keyboard,
			ReplyMarkup:         markup.raw,
			ReplyTo:             replyTo,
			DisableNotification: p.bool("disable_notification"),
		},
		fromBot: true,
		markup:  markup.wire,
	}
	c.addMessage(m, now)
	s.sent = append(s.sent, msgRef{chatID: c.id, id: m.ID})
	s.notify()
	return s.wireMessage(c, m, true), nil
}

// replyTarget reads reply_parameters (or the older reply_to_message_id) and
// checks the message exists unless allow_sending_without_reply is set.
func replyTarget(c *chat, p params) (int, *apiError) {
	var rp struct {
		MessageID                int  `json:"message_id"`
		AllowSendingWithoutReply bool `json:"allow_sending_without_reply"`
	}
	if p.has("reply_parameters") {
		if err := json.Unmarshal([]byte(p["reply_parameters"]), &rp); err != nil {
			return 0, badRequest("can't parse reply parameters JSON object")
		}
	} else {
		rp.MessageID = p.int("reply_to_message_id")
		rp.AllowSendingWithoutReply = p.bool("allow_sending_without_reply")
	}
	if rp.MessageID == 0 {
		return 0, nil
	}
	if m := c.msgs[rp.MessageID]; m == nil || m.Deleted {
		if rp.AllowSendingWithoutReply {
			return 0, nil
		}
		return 0, badRequest("message to be replied not found")
	}
	return rp.MessageID, nil
}

// editTarget finds the bot message an edit names. Callers hold s.mu.
func (s *Server) editTarget(p params) (*chat, *storedMessage, *apiError) {
	if p["inline_message_id"] != "" {
		return nil, nil, badRequest("MESSAGE_ID_INVALID") // inline messages are not modelled
	}
	c, aerr := s.resolveChat(p["chat_id"])
	if aerr != nil {
		return nil, nil, aerr
	}
	id := p.int("message_id")
	if id == 0 {
		return nil, nil, badRequest("message identifier is not specified")
	}
	m := c.msgs[id]
	if m == nil || m.Deleted {
		return nil, nil, badRequest("message to edit not found")
	}
	if !m.fromBot {
		return nil, nil, badRequest("message can't be edited")
	}
	return c, m, nil
}

const notModified = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"

// editMessageText replaces text and keyboard; like Telegram, leaving out
// reply_markup removes the keyboard, and an edit that changes nothing is an
// error.
func (s *Server) editMessageText(_ *http.Request, p params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, m, aerr := s.editTarget(p)
	if aerr != nil {
		return nil, aerr
	}
	text, aerr := parseText(p)
	if aerr != nil {
		return nil, aerr
	}
	markup, aerr := parseReplyMarkup(p["reply_markup"])
	if aerr != nil {
		return nil, aerr
	}
	if c.blocked {
		return nil, blockedError(c)
	}
	if text.plain == m.Plain && entitiesEqual(text.entities, m.Entities) && bytes.Equal(markup.wire, m.markup) {
		return nil, badRequest(notModified)
	}
	m.Text, m.Plain, m.ParseMode, m.Entities = text.raw, text.plain, text.parseMode, text.entities
	m.InlineKeyboard, m.ReplyMarkup, m.markup = markup.keyboard, markup.raw, markup.wire
	m.Edited = s.now()
	s.notify()
	return s.wireMessage(c, m, true), nil
}

func (s *Server) editMessageReplyMarkup(_ *http.Request, p params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, m, aerr := s.editTarget(p)
	if aerr != nil {
		return nil, aerr
	}
	markup, aerr := parseReplyMarkup(p["reply_markup"])
	if aerr != nil {
		return nil, aerr
	}
	if markup.raw != nil && markup.keyboard == nil {
		return nil, badRequest("inline keyboard expected") // only inline keyboards can be edited in
	}
	if c.blocked {
		return nil, blockedError(c)
	}
	if bytes.Equal(markup.wire, m.markup) {
		return nil, badRequest(notModified)
	}
	m.InlineKeyboard, m.ReplyMarkup, m.markup = markup.keyboard, markup.raw, markup.wire
	m.Edited = s.now()
	s.notify()
	return s.wireMessage(c, m, true), nil
}

func entitiesEqual(a, b []models.MessageEntity) bool {
	return slices.EqualFunc(a, b, func(x, y models.MessageEntity) bool {
		return x.Type == y.Type && x.Offset == y.Offset && x.Length == y.Length &&
			x.URL == y.URL && x.Language == y.Language && x.CustomEmojiID == y.CustomEmojiID
	})
}

func (s *Server) deleteMessage(_ *http.Request, p params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, aerr := s.resolveChat(p["chat_id"])
	if aerr != nil {
		return nil, aerr
	}
	m := c.msgs[p.int("message_id")]
	if m == nil || m.Deleted {
		return nil, badRequest("message to delete not found")
	}
	if s.now().Sub(m.Sent) > deleteWindow {
		return nil, badRequest("message can't be deleted for everyone")
	}
	m.Deleted = true
	s.notify()
	return true, nil
}

func (s *Server) answerCallbackQuery(_ *http.Request, p params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := p["callback_query_id"]
	q := s.callbacks[id]
	now := s.now()
	if q == nil || q.answer != nil || now.Sub(q.created) > callbackTimeout {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	q.answer = &CallbackAnswer{
		QueryID:   id,
		Text:      p["text"],
		ShowAlert: p.bool("show_alert"),
		URL:       p["url"],
		CacheTime: p.int("cache_time"),
		Time:      now,
	}
	s.notify()
	return true, nil
}

func (s *Server) sendChatAction(_ *http.Request, p params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, aerr := s.resolveChat(p["chat_id"])
	if aerr != nil {
		return nil, aerr
	}
	action := p["action"]
	if !chatActions[action] {
		return nil, badRequest("wrong parameter action in request")
	}
	if c.blocked {
		return nil, blockedError(c)
	}
	c.actions = append(c.actions, action)
	s.notify()
	return true, nil
}
