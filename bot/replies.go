package bot

import (
	"context"
	"errors"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// maxRetryAfter is the longest 429 wait a reply accepts before giving up.
const maxRetryAfter = 30 * time.Second

// reply sends an HTML text without buttons.
func (b *Bot) reply(ctx context.Context, chatID int64, text string) {
	b.send(ctx, chatID, text, nil)
}

// send sends an HTML message, waiting out one or two 429s. Failures are
// logged: a user who cannot be answered needs no further handling here.
func (b *Bot) send(ctx context.Context, chatID int64, text string, kb *models.InlineKeyboardMarkup) *models.Message {
	p := &tgbot.SendMessageParams{
		ChatID:             chatID,
		Text:               text,
		ParseMode:          models.ParseModeHTML,
		LinkPreviewOptions: &models.LinkPreviewOptions{IsDisabled: tgbot.True()},
	}
	if kb != nil {
		p.ReplyMarkup = kb
	}
	for attempt := 0; ; attempt++ {
		m, err := b.api.SendMessage(ctx, p)
		if err == nil {
			return m
		}
		var tm *tgbot.TooManyRequestsError
		wait := time.Duration(0)
		if errors.As(err, &tm) {
			wait = time.Duration(max(tm.RetryAfter, 1)) * time.Second
		}
		if wait == 0 || wait > maxRetryAfter || attempt >= 2 {
			b.log.Warn("bot: send message", "chat_id", chatID, "err", err)
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// sendBlocks sends blocks joined by sep, split into as many messages as
// Telegram's length limit needs; a block is never split.
func (b *Bot) sendBlocks(ctx context.Context, chatID int64, blocks []string, sep string) {
	for _, text := range packBlocks(blocks, sep, tgTextLimit) {
		if b.send(ctx, chatID, text, nil) == nil && ctx.Err() != nil {
			return
		}
	}
}

// packBlocks joins blocks into texts of at most limit UTF-16 units of
// source (parsed text is never longer than its HTML source). A block too
// long on its own is reduced to its plain text and shortened.
func packBlocks(blocks []string, sep string, limit int) []string {
	var out []string
	var cur strings.Builder
	curLen, sepLen := 0, utf16Length(sep)
	for _, blk := range blocks {
		n := utf16Length(blk)
		if n > limit {
			blk = escapeTG(truncateUTF16(stripTags(blk), limit/2))
			n = utf16Length(blk)
		}
		if curLen > 0 && curLen+sepLen+n > limit {
			out = append(out, cur.String())
			cur.Reset()
			curLen = 0
		}
		if curLen > 0 {
			cur.WriteString(sep)
			curLen += sepLen
		}
		cur.WriteString(blk)
		curLen += n
	}
	if curLen > 0 {
		out = append(out, cur.String())
	}
	return out
}

// stripTags turns the HTML this package writes back into plain text.
func stripTags(s string) string {
	var sb strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>' && in:
			in = false
		case !in:
			sb.WriteRune(r)
		}
	}
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&amp;", "&").Replace(sb.String())
}

// answer answers a callback query; the text shows as a small toast.
func (b *Bot) answer(ctx context.Context, queryID, text string) {
	_, err := b.api.AnswerCallbackQuery(ctx, &tgbot.AnswerCallbackQueryParams{
		CallbackQueryID: queryID,
		Text:            truncateUTF16(text, 200),
	})
	if err != nil {
		b.log.Warn("bot: answer callback", "err", err)
	}
}

// fail logs an internal error and tells the user something went wrong.
func (b *Bot) fail(ctx context.Context, r *cmdReq, what string, err error) {
	b.log.Error("bot: "+what, "chat_id", r.chatID, "err", err)
	b.reply(ctx, r.chatID, tr(r.lang, "internal_error"))
}

// setCommands publishes the command menu: subscriber commands for everyone
// in English (the default) and Russian, and subscriber plus admin commands
// in each admin's private chat. Failures are logged: the menu is a
// convenience, commands work without it.
func (b *Bot) setCommands(ctx context.Context) {
	var user, all []cmdSpec
	for _, c := range b.commandTable() {
		all = append(all, c)
		if !c.admin {
			user = append(user, c)
		}
	}
	list := func(cmds []cmdSpec, lang string) []models.BotCommand {
		out := make([]models.BotCommand, len(cmds))
		for i, c := range cmds {
			desc := c.en
			if lang == langRU {
				desc = c.ru
			}
			out[i] = models.BotCommand{Command: c.name, Description: desc}
		}
		return out
	}
	set := func(scope models.BotCommandScope, cmds []cmdSpec, lang string) {
		code := ""
		if lang == langRU {
			code = langRU
		}
		_, err := b.api.SetMyCommands(ctx, &tgbot.SetMyCommandsParams{Commands: list(cmds, lang), Scope: scope, LanguageCode: code})
		if err != nil && ctx.Err() == nil {
			b.log.Warn("bot: setMyCommands failed", "language", lang, "err", err)
		}
	}
	for _, lang := range []string{langEN, langRU} {
		set(&models.BotCommandScopeDefault{}, user, lang)
		for _, id := range b.adminIDs {
			set(&models.BotCommandScopeChat{ChatID: id}, all, lang)
		}
	}
}
