package tgfake

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-telegram/bot/models"
)

// The wire types below mirror the JSON the real Bot API sends. They are kept
// separate from the library's models so the fake's output does not inherit
// the library's marshalling quirks.

type wireUser struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name,omitempty"`
	Username     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

type wireMe struct {
	wireUser
	CanJoinGroups           bool `json:"can_join_groups"`
	CanReadAllGroupMessages bool `json:"can_read_all_group_messages"`
	SupportsInlineQueries   bool `json:"supports_inline_queries"`
	CanConnectToBusiness    bool `json:"can_connect_to_business"`
	HasMainWebApp           bool `json:"has_main_web_app"`
}

type wireChat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
}

type wireMessage struct {
	MessageID      int                    `json:"message_id"`
	From           *wireUser              `json:"from,omitempty"`
	Chat           wireChat               `json:"chat"`
	Date           int64                  `json:"date"`
	EditDate       int64                  `json:"edit_date,omitempty"`
	ReplyToMessage *wireMessage           `json:"reply_to_message,omitempty"`
	Text           string                 `json:"text,omitempty"`
	Entities       []models.MessageEntity `json:"entities,omitempty"`
	ReplyMarkup    json.RawMessage        `json:"reply_markup,omitempty"`
}

type wireCallbackQuery struct {
	ID           string       `json:"id"`
	From         wireUser     `json:"from"`
	Message      *wireMessage `json:"message,omitempty"`
	ChatInstance string       `json:"chat_instance"`
	Data         string       `json:"data,omitempty"`
}

type wireUpdate struct {
	UpdateID      int64              `json:"update_id"`
	Message       *wireMessage       `json:"message,omitempty"`
	CallbackQuery *wireCallbackQuery `json:"callback_query,omitempty"`
}

// update is a queued update; kind is its allowed_updates name.
type update struct {
	kind string
	wire wireUpdate
}

// chat is everything the fake knows about one chat.
type chat struct {
	id         int64
	typ        string
	title      string
	firstName  string
	lastName   string
	username   string
	blocked    bool
	migratedTo int64
	lastMsgID  int
	msgs       map[int]*storedMessage
	actions    []string
	members    map[int64]string // status by user id: "creator", "administrator", "member", …
}

// storedMessage is a message in a chat, from the bot or from a user.
type storedMessage struct {
	Message
	fromBot bool
	from    wireUser        // the user, for user messages
	markup  json.RawMessage // normalized inline keyboard as Telegram returns it
}

func chatTypeFor(id int64) string {
	switch {
	case id > 0:
		return "private"
	case id <= -1_000_000_000_000:
		return "supergroup"
	default:
		return "group"
	}
}

// chat returns the chat, creating it as a known chat. Callers hold s.mu.
func (s *Server) chat(id int64) *chat {
	c := s.chats[id]
	if c == nil {
		c = &chat{id: id, typ: chatTypeFor(id), msgs: map[int]*storedMessage{}}
		switch c.typ {
		case "private":
			c.firstName = "Test"
		default:
			c.title = fmt.Sprintf("Test group %d", -id)
		}
		s.chats[id] = c
	}
	return c
}

func (c *chat) wire() wireChat {
	return wireChat{ID: c.id, Type: c.typ, Title: c.title, Username: c.username, FirstName: c.firstName, LastName: c.lastName}
}

func (s *Server) botUser() wireUser {
	return wireUser{ID: s.botID, IsBot: true, FirstName: s.botName, Username: s.botUsername}
}

// wireMessage renders m as Telegram returns it. Callers hold s.mu.
func (s *Server) wireMessage(c *chat, m *storedMessage, withReply bool) *wireMessage {
	w := &wireMessage{
		MessageID:   m.ID,
		Chat:        c.wire(),
		Date:        m.Sent.Unix(),
		Text:        m.Plain,
		Entities:    m.Entities,
		ReplyMarkup: m.markup,
	}
	if m.fromBot {
		u := s.botUser()
		w.From = &u
	} else {
		u := m.from
		w.From = &u
	}
	if !m.Edited.IsZero() {
		w.EditDate = m.Edited.Unix()
	}
	if withReply && m.ReplyTo != 0 {
		if r := c.msgs[m.ReplyTo]; r != nil && !r.Deleted {
			w.ReplyToMessage = s.wireMessage(c, r, false)
		}
	}
	return w
}

// addMessage stores a new message in c with the next message id.
func (c *chat) addMessage(m *storedMessage, now time.Time) {
	c.lastMsgID++
	m.ID = c.lastMsgID
	m.ChatID = c.id
	m.Sent = now
	c.msgs[m.ID] = m
}
