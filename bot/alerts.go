package bot

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"dozor/jobs"
	"dozor/storage"
)

// Sender sends and edits Telegram messages; *bot.Bot satisfies it.
type Sender interface {
	SendMessage(ctx context.Context, params *tgbot.SendMessageParams) (*models.Message, error)
	EditMessageText(ctx context.Context, params *tgbot.EditMessageTextParams) (*models.Message, error)
}

// Alerts lays out and sends alerts for the deliver stage (jobs.Telegram):
// the bot's part of delivery is the message and what Telegram's answers
// mean; queueing, pacing and retries are the stage's.
type Alerts struct {
	API Sender
}

// RenderAlert lays out one story as a full alert with buttons, or several
// as one grouped message, in the user's language and time zone.
func (a Alerts) RenderAlert(u storage.User, stories []jobs.AlertStory, more int) jobs.Rendered {
	lang, loc := userLang(u), u.Location()
	if len(stories) == 1 && more == 0 {
		return jobs.Rendered{
			HTML: FormatAlert(stories[0], lang, loc), Plain: FormatPlain(stories[0], lang, loc),
			HTMLShown: 1, PlainShown: 1,
			Buttons: buttonsOf(AlertKeyboard(stories[0], lang)),
		}
	}
	html, n := formatGroup(stories, lang, loc, true, more)
	plain, np := formatGroup(stories, lang, loc, false, more)
	return jobs.Rendered{HTML: html, Plain: plain, HTMLShown: n, PlainShown: np, Group: true}
}

// SendAlert sends m to a chat and returns the message's id. Its error is
// a *jobs.SendError.
func (a Alerts) SendAlert(ctx context.Context, chatID int64, m *jobs.Rendered, plain bool) (int, error) {
	p := &tgbot.SendMessageParams{ChatID: chatID, Text: m.HTML, ParseMode: models.ParseModeHTML}
	if plain {
		p.Text, p.ParseMode = m.Plain, ""
	}
	if kb := keyboardOf(m.Buttons); kb != nil {
		p.ReplyMarkup = kb
	}
	if m.Group {
		p.LinkPreviewOptions = &models.LinkPreviewOptions{IsDisabled: tgbot.True()}
	}
	p.DisableNotification = m.Silent
	msg, err := a.API.SendMessage(ctx, p)
	if err != nil {
		return 0, classify(err)
	}
	return msg.ID, nil
}

// EditAlert replaces a sent alert's text and buttons with m. Its error is
// a *jobs.SendError; Telegram's "message is not modified" is none.
func (a Alerts) EditAlert(ctx context.Context, chatID int64, msgID int, m *jobs.Rendered) error {
	p := &tgbot.EditMessageTextParams{ChatID: chatID, MessageID: msgID, Text: m.HTML, ParseMode: models.ParseModeHTML}
	if kb := keyboardOf(m.Buttons); kb != nil {
		p.ReplyMarkup = kb
	}
	if m.Group {
		p.LinkPreviewOptions = &models.LinkPreviewOptions{IsDisabled: tgbot.True()}
	}
	_, err := a.API.EditMessageText(ctx, p)
	if err != nil && strings.Contains(err.Error(), "message is not modified") {
		return nil
	}
	return classify(err)
}

// classify says what a failed Bot API call means for delivery, in words
// that carry no request URL (the library's errors quote it, token and all).
func classify(err error) error {
	if err == nil {
		return nil
	}
	var (
		flood *tgbot.TooManyRequestsError
		moved *tgbot.MigrateError
		uerr  *url.Error
	)
	se := &jobs.SendError{Kind: jobs.SendRetry, Msg: err.Error()}
	switch {
	case errors.As(err, &flood):
		se.Kind, se.RetryAfter = jobs.SendFlood, time.Duration(flood.RetryAfter)*time.Second
		se.Msg = "too many requests: retry after " + se.RetryAfter.String()
	case errors.As(err, &moved):
		se.Kind, se.MigrateTo = jobs.SendMoved, int64(moved.MigrateToChatID)
		se.Msg = "the group became a supergroup"
	case errors.Is(err, tgbot.ErrorForbidden):
		se.Kind = jobs.SendBlocked
	case errors.Is(err, tgbot.ErrorBadRequest) && isEntityError(err):
		se.Kind = jobs.SendBadHTML
	case errors.Is(err, tgbot.ErrorBadRequest):
		se.Kind = jobs.SendRefused
	case errors.As(err, &uerr):
		se.Msg = "cannot reach Telegram: " + uerr.Err.Error()
	case strings.Contains(err.Error(), "error decode response body"):
		se.Msg = "Telegram's reply could not be read" // it may quote a proxy page, path and all
	}
	return se
}

func isEntityError(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "can't parse entities")
}

// userLang is the user's interface language: the one they chose, English
// if unknown, as in the chat interface.
func userLang(u storage.User) string {
	if u.Lang == "ru" {
		return "ru"
	}
	return "en"
}

func buttonsOf(kb *models.InlineKeyboardMarkup) [][]jobs.Button {
	if kb == nil {
		return nil
	}
	rows := make([][]jobs.Button, len(kb.InlineKeyboard))
	for i, row := range kb.InlineKeyboard {
		for _, b := range row {
			rows[i] = append(rows[i], jobs.Button{Text: b.Text, Data: b.CallbackData})
		}
	}
	return rows
}

func keyboardOf(rows [][]jobs.Button) *models.InlineKeyboardMarkup {
	if len(rows) == 0 {
		return nil
	}
	kb := &models.InlineKeyboardMarkup{InlineKeyboard: make([][]models.InlineKeyboardButton, len(rows))}
	for i, row := range rows {
		for _, b := range row {
			kb.InlineKeyboard[i] = append(kb.InlineKeyboard[i], models.InlineKeyboardButton{Text: b.Text, CallbackData: b.Data})
		}
	}
	return kb
}
