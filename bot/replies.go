package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"dozor/internal/backoff"
	"dozor/internal/pacer"
	"dozor/jobs"
	"dozor/storage"
)

// replyDeadline is how long a reply is retried through 429s, 5xx and
// network errors before it is given up (and logged); the command's effect
// stands either way.
const replyDeadline = 30 * time.Second

// replyBackoff spaces retries of a reply after a server or network error.
var replyBackoff = backoff.Policy{Base: 500 * time.Millisecond, Max: 8 * time.Second, Jitter: 0.2}

// answerDeadline bounds a callback answer: Telegram accepts one for about
// 15 s after the press, and a late one only costs a send.
const answerDeadline = 10 * time.Second

// call makes one Bot API call that sends something to chat, through the
// pacer at reply priority, and retries it while that is worth it: after a
// 429 (which pauses the pacer for every sender), a 5xx or a network error,
// until replyDeadline. chat 0 counts against the global limit only. The
// pacer serves the chat of the update being handled fairly among others.
func (b *Bot) call(ctx context.Context, chat int64, what string, fn func(context.Context) error) error {
	return b.callAt(ctx, chat, pacer.Reply, what, fn)
}

// callAt is call at a priority of the pacer.
func (b *Bot) callAt(ctx context.Context, chat int64, prio pacer.Priority, what string, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, replyDeadline)
	defer cancel()
	owner := cmp.Or(chat, chatOfCtx(ctx))
	var last error
	for attempt := 1; ; attempt++ {
		done, err := b.pace.WaitFor(ctx, chat, owner, prio)
		if err != nil {
			return cmp.Or(last, err)
		}
		err = fn(ctx)
		done()
		if err == nil {
			return nil
		}
		last = err
		var se *jobs.SendError
		if !errors.As(classify(err), &se) {
			return err
		}
		switch se.Kind {
		case jobs.SendFlood:
			b.pace.Pause(max(se.RetryAfter, time.Second))
			b.log.Warn("bot: telegram flood control: pausing all sends", "retry_after", se.RetryAfter, "chat_id", chat, "call", what)
		case jobs.SendRetry:
			wait := replyBackoff.Delay(attempt)
			b.log.Info("bot: call failed, retrying", "call", what, "chat_id", chat, "attempt", attempt, "retry_in", wait, "err", err)
			if serr := backoff.Sleep(ctx, wait); serr != nil {
				return err
			}
		default:
			return err
		}
	}
}

// reply sends an HTML text without buttons.
func (b *Bot) reply(ctx context.Context, chatID int64, text string) {
	b.send(ctx, chatID, text, nil)
}

// send sends an HTML message through the pacer. Failures are logged: a
// user who cannot be answered needs no further handling here.
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
	var m *models.Message
	err := b.call(ctx, chatID, "sendMessage", func(ctx context.Context) error {
		var err error
		m, err = b.api.SendMessage(ctx, p)
		return err
	})
	if err != nil {
		b.log.Warn("bot: reply not delivered", "chat_id", chatID, "err", err)
		return nil
	}
	return m
}

// edit replaces a message's text and buttons, through the pacer. Telegram's
// "message is not modified" (a button for the value already shown) is no
// failure.
func (b *Bot) edit(ctx context.Context, chatID int64, msgID int, text string, kb *models.InlineKeyboardMarkup) {
	p := &tgbot.EditMessageTextParams{ChatID: chatID, MessageID: msgID, Text: text, ParseMode: models.ParseModeHTML,
		LinkPreviewOptions: &models.LinkPreviewOptions{IsDisabled: tgbot.True()}}
	if kb != nil {
		p.ReplyMarkup = kb
	}
	err := b.call(ctx, chatID, "editMessageText", func(ctx context.Context) error {
		_, err := b.api.EditMessageText(ctx, p)
		return err
	})
	if err != nil && !strings.Contains(err.Error(), "not modified") {
		b.log.Warn("bot: edit message", "chat_id", chatID, "err", err)
	}
}

// editButtons replaces a message's buttons only.
func (b *Bot) editButtons(ctx context.Context, chatID int64, msgID int, kb *models.InlineKeyboardMarkup) {
	err := b.call(ctx, chatID, "editMessageReplyMarkup", func(ctx context.Context) error {
		_, err := b.api.EditMessageReplyMarkup(ctx, &tgbot.EditMessageReplyMarkupParams{ChatID: chatID, MessageID: msgID, ReplyMarkup: kb})
		return err
	})
	if err != nil && !strings.Contains(err.Error(), "not modified") {
		b.log.Warn("bot: edit buttons", "chat_id", chatID, "err", err)
	}
}

// slowDown tells a user who sent more than their budget that the rest is
// dropped; it is sent at most once a minute per user.
func (b *Bot) slowDown(ctx context.Context, chat int64, upd *models.Update) {
	lang := langEN
	var from *models.User
	switch {
	case upd.Message != nil:
		from = upd.Message.From
	case upd.CallbackQuery != nil:
		from = &upd.CallbackQuery.From
	}
	if from != nil {
		lang = langFromCode(from.LanguageCode)
	}
	if u, ok, err := b.subscriber(chat); err == nil && ok {
		if u.Status == storage.StatusBanned {
			return
		}
		lang = normLang(u.Lang)
	}
	if upd.CallbackQuery != nil {
		b.refuseButton(ctx, upd.CallbackQuery.ID, stripTags(tr(lang, "slow_down")))
		return
	}
	b.reply(ctx, chat, tr(lang, "slow_down"))
}

// maxReplies is the most messages one command answers with.
const maxReplies = 2

// sendBlocks sends blocks joined by sep in at most maxReplies messages
// within Telegram's length limit; a block is never split, and what does
// not fit is counted in a last line.
func (b *Bot) sendBlocks(ctx context.Context, chatID int64, blocks []string, sep string) {
	texts := packBlocks(blocks, sep, tgTextLimit-64)
	if len(texts) > maxReplies {
		rest := 0
		for _, t := range texts[maxReplies:] {
			rest += strings.Count(t, sep) + 1
		}
		texts = texts[:maxReplies]
		texts[maxReplies-1] += fmt.Sprintf("\n… +%d", rest)
	}
	for _, text := range texts {
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

// answer answers a callback query; the text shows as a small toast. It
// goes through the pacer's global limit, at reply priority.
func (b *Bot) answer(ctx context.Context, queryID, text string) {
	b.answerAt(ctx, queryID, text, pacer.Reply)
}

// refuseButton answers a button press that does nothing (expired, forged,
// over the budget) only if the pacer has room to spare: under a flood of
// such presses the others' replies go first and these are dropped.
func (b *Bot) refuseButton(ctx context.Context, queryID, text string) {
	b.answerAt(ctx, queryID, text, pacer.Spare)
}

func (b *Bot) answerAt(ctx context.Context, queryID, text string, prio pacer.Priority) {
	ctx, cancel := context.WithTimeout(ctx, answerDeadline)
	defer cancel()
	err := b.callAt(ctx, 0, prio, "answerCallbackQuery", func(ctx context.Context) error {
		_, err := b.api.AnswerCallbackQuery(ctx, &tgbot.AnswerCallbackQueryParams{
			CallbackQueryID: queryID,
			Text:            truncateUTF16(text, 200),
		})
		return err
	})
	switch {
	case err == nil:
	case prio == pacer.Spare:
		b.log.Debug("bot: refusal of a button not answered", "err", err) // as intended under load
	default:
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
