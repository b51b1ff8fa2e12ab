package bot

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"dozor/storage"
)

// similarMax is how many articles 🔎 lists.
const similarMax = 10

// manages are the buttons that change a chat's subscriptions or settings,
// which in a group only its administrators may press.
var manages = map[string]bool{"sub": true, "mute": true, "m1d": true, "m1w": true, "m0": true, "um": true, "set": true, "dg": true}

// onCallback handles inline button presses: appr/deny (admins), sub, mute,
// sim and set (subscribers).
func (b *Bot) onCallback(ctx context.Context, _ *tgbot.Bot, u *models.Update) {
	q := u.CallbackQuery
	if q.From.IsBot {
		quiet(ctx)
		return
	}
	var msg *models.Message
	chatID := q.From.ID
	switch {
	case q.Message.Message != nil:
		msg = q.Message.Message
		chatID = msg.Chat.ID
	case q.Message.InaccessibleMessage != nil:
		chatID = q.Message.InaccessibleMessage.Chat.ID
	}
	kind, arg, sep := q.Data, "", byte(0)
	if i := strings.IndexAny(q.Data, ":#"); i >= 0 {
		kind, arg, sep = q.Data[:i], q.Data[i+1:], q.Data[i]
	}
	admin := b.admins[q.From.ID]
	user, found, err := b.subscriber(chatID)
	if err != nil {
		b.log.Error("bot: load user", "chat_id", chatID, "err", err)
		b.answer(ctx, q.ID, tr(langFromCode(q.From.LanguageCode), "internal_error"))
		return
	}
	if b.isBanned(chatID, q.From.ID, user, found, admin) {
		quiet(ctx)
		return
	}
	if kind == "appr" || kind == "deny" {
		b.onDecision(ctx, q, msg, kind, arg)
		return
	}
	if admin && chatID == q.From.ID && (!found || user.Status != storage.StatusApproved) {
		if user, err = b.ensureAdmin(&q.From); err == nil {
			found = true
		}
	}
	lang := langFromCode(q.From.LanguageCode)
	if found {
		lang = normLang(user.Lang)
	}
	switch {
	case !found:
		quiet(ctx)
		b.answer(ctx, q.ID, tr(lang, "need_start"))
		return
	case user.Status != storage.StatusApproved:
		quiet(ctx)
		b.answer(ctx, q.ID, tr(lang, "still_waiting"))
		return
	}
	b.reactivate(&user)
	if manages[kind] && msg != nil && !b.mayManage(ctx, chatID, msg.Chat.Type, q.From.ID) {
		quiet(ctx)
		b.answer(ctx, q.ID, stripTags(tr(lang, "group_admins_only")))
		return
	}
	switch {
	case kind == "sub" && (sep == ':' || sep == '#'):
		b.onToggle(ctx, q, msg, user, sep, arg)
	case kind == "mute" && (sep == ':' || sep == '#'):
		b.onMuteMenu(ctx, q, msg, user, sep, arg)
	case (kind == "m1d" || kind == "m1w" || kind == "m0") && (sep == ':' || sep == '#'):
		b.onMuteFor(ctx, q, msg, user, kind, sep, arg)
	case kind == "um" && (sep == ':' || sep == '#'):
		b.onUnmute(ctx, q, msg, user, sep, arg)
	case kind == "dg" && sep == ':':
		b.onSetting(ctx, q, msg, user, arg, func(u storage.User) (string, *models.InlineKeyboardMarkup) {
			return digestText(u, b.now()), digestKeyboard(u, "dg")
		})
	case kind == "sim" && sep == ':':
		b.onSimilar(ctx, q, chatID, user, arg)
	case kind == "set" && sep == ':':
		b.onSetting(ctx, q, msg, user, arg, func(u storage.User) (string, *models.InlineKeyboardMarkup) {
			return settingsText(u, b.now()), settingsKeyboard(u)
		})
	case kind == "tp" && sep == ':':
		b.onTopicsPage(ctx, q, msg, user, arg)
	case kind == "card" && sep == ':':
		b.onCard(ctx, q, chatID, user, arg)
	case kind == "sr" && sep == ':':
		b.onSearchPage(ctx, q, msg, user, arg)
	case kind == "pg" && sep == ':':
		b.onPage(ctx, q, msg, &cmdReq{chatID: chatID, from: &q.From, lang: lang, admin: admin, user: user, hasUser: true}, arg)
	default:
		quiet(ctx)
		b.refuseButton(ctx, q.ID, tr(lang, "cb_expired"))
	}
}

// onToggle subscribes or unsubscribes from a /topics button and redraws
// that message's buttons.
func (b *Bot) onToggle(ctx context.Context, q *models.CallbackQuery, msg *models.Message, user storage.User, sep byte, arg string) {
	lang := normLang(user.Lang)
	name, exists := b.topicFromData(sep, arg)
	if name == "" || (!exists && !user.Subscribed(name)) {
		quiet(ctx)
		b.answer(ctx, q.ID, tr(lang, "cb_topic_gone"))
		return
	}
	subscribed := false
	nu, err := b.store.UpdateUser(user.ID, func(u *storage.User) {
		if i := slices.Index(u.Topics, name); i >= 0 {
			u.Topics = slices.Delete(u.Topics, i, i+1)
		} else if exists {
			u.Topics = append(u.Topics, name)
			subscribed = true
		}
	})
	if err != nil {
		b.log.Error("bot: toggle subscription", "user_id", user.ID, "err", err)
		b.answer(ctx, q.ID, tr(lang, "internal_error"))
		return
	}
	if subscribed {
		b.answer(ctx, q.ID, tr(lang, "cb_subscribed", name))
	} else {
		b.answer(ctx, q.ID, tr(lang, "cb_unsubscribed", name))
	}
	if msg == nil {
		return
	}
	// Redraw the page the message shows, marks and buttons.
	text, kb, err := b.topicsPage(lang, nu, topicsPageOf(msg.ReplyMarkup))
	if err != nil {
		b.log.Error("bot: list topics", "err", err)
		return
	}
	b.edit(ctx, msg.Chat.ID, msg.ID, text, kb)
}

// onTopicsPage is a ◀ ▶ press under /topics: "tp:<page>".
func (b *Bot) onTopicsPage(ctx context.Context, q *models.CallbackQuery, msg *models.Message, user storage.User, arg string) {
	quiet(ctx)
	n, err := strconv.Atoi(arg)
	if err != nil || msg == nil {
		b.refuseButton(ctx, q.ID, tr(normLang(user.Lang), "cb_expired"))
		return
	}
	text, kb, err := b.topicsPage(normLang(user.Lang), user, n)
	if err != nil {
		b.log.Error("bot: list topics", "err", err)
		b.answer(ctx, q.ID, tr(normLang(user.Lang), "internal_error"))
		return
	}
	b.edit(ctx, msg.Chat.ID, msg.ID, text, kb)
	b.answer(ctx, q.ID, "")
}

// onCard is a story's button under /latest: its full alert card. Only a
// story on one of the chat's topics, or one it was sent, is shown.
func (b *Bot) onCard(ctx context.Context, q *models.CallbackQuery, chatID int64, user storage.User, arg string) {
	quiet(ctx)
	lang := normLang(user.Lang)
	id, err := strconv.ParseUint(arg, 10, 64)
	if err != nil {
		b.refuseButton(ctx, q.ID, tr(lang, "cb_expired"))
		return
	}
	st, ok := b.viewable(user, id)
	if !ok {
		b.refuseButton(ctx, q.ID, tr(lang, "story_gone"))
		return
	}
	a, err := b.store.ArticleHead(st.Articles[0])
	if err != nil {
		b.refuseButton(ctx, q.ID, tr(lang, "story_gone"))
		return
	}
	v := AlertView{Article: a, Story: st}
	for _, t := range st.Topics {
		if user.Subscribed(t) {
			v.Topics = append(v.Topics, t)
		}
	}
	b.fillView(&v, lang)
	b.answer(ctx, q.ID, "")
	b.send(ctx, chatID, FormatAlert(v, lang, user.Location()), AlertKeyboard(v, lang))
}

// viewable is story id if the user may open it from a button: one it was
// sent or one on a topic it follows, so a forged button shows nothing of
// someone else's topics.
func (b *Bot) viewable(user storage.User, id uint64) (storage.Story, bool) {
	st, err := b.store.Story(id)
	if err != nil || len(st.Articles) == 0 {
		return storage.Story{}, false
	}
	return st, b.store.Delivered(user.ID, id) || slices.ContainsFunc(st.Topics, user.Subscribed)
}

// onSetting applies a button under /settings or /digest ("key:value") and
// redraws that message with view.
func (b *Bot) onSetting(ctx context.Context, q *models.CallbackQuery, msg *models.Message, user storage.User, arg string, view func(storage.User) (string, *models.InlineKeyboardMarkup)) {
	key, value, _ := strings.Cut(arg, ":")
	nu, note, ok := b.applySettings(user, [][2]string{{key, value}})
	if !ok {
		quiet(ctx)
		b.refuseButton(ctx, q.ID, tr(normLang(user.Lang), "cb_expired"))
		return
	}
	b.answer(ctx, q.ID, note)
	if msg == nil {
		return
	}
	text, kb := view(nu)
	b.edit(ctx, msg.Chat.ID, msg.ID, text, kb)
}

// onSimilar is the 🔎 button: the other articles of the story, and the
// stories most like it, from the search index.
func (b *Bot) onSimilar(ctx context.Context, q *models.CallbackQuery, chatID int64, user storage.User, arg string) {
	quiet(ctx)
	lang := normLang(user.Lang)
	id, err := strconv.ParseUint(arg, 10, 64)
	if err != nil {
		b.refuseButton(ctx, q.ID, tr(lang, "cb_expired"))
		return
	}
	st, ok := b.viewable(user, id)
	if !ok {
		b.refuseButton(ctx, q.ID, tr(lang, "story_gone"))
		return
	}
	if b.search == nil {
		b.answer(ctx, q.ID, stripTags(tr(lang, "search_unavailable")))
		return
	}
	release, err := b.heavy.take(q.From.ID)
	if err != nil {
		b.answer(ctx, q.ID, stripTags(refusal(lang, err)))
		return
	}
	defer release()
	loc := user.Location()

	var blocks []string
	var others []string
	for _, aid := range st.Articles[1:min(len(st.Articles), similarMax+1)] {
		if a, err := b.store.ArticleHead(aid); err == nil {
			others = append(others, articleLine(a, lang, loc))
		}
	}
	if len(others) > 0 {
		blocks = append(blocks, tr(lang, "sim_story", len(others)))
		blocks = append(blocks, others...)
	}
	first, err := b.store.Article(st.Articles[0])
	if err != nil {
		release()
		b.refuseButton(ctx, q.ID, stripTags(tr(lang, "story_gone")))
		return
	}
	sctx, cancel := context.WithTimeout(ctx, heavyTimeout)
	hits, err := b.search.Similar(sctx, id, first.Title, first.BestText(), similarMax)
	cancel()
	if err != nil {
		b.log.Error("bot: similar stories", "story_id", id, "err", err)
	}
	var similar []string
	for _, h := range hits {
		if a, err := b.store.ArticleHead(h.ArticleID); err == nil {
			similar = append(similar, articleLine(a, lang, loc))
		}
	}
	release()
	b.answer(ctx, q.ID, "")
	if len(similar) > 0 {
		if len(blocks) > 0 {
			blocks = append(blocks, "")
		}
		blocks = append(blocks, tr(lang, "sim_similar", len(similar)))
		blocks = append(blocks, similar...)
	}
	if len(blocks) == 0 {
		b.reply(ctx, chatID, tr(lang, "sim_none"))
		return
	}
	b.sendBlocks(ctx, chatID, blocks, "\n")
}

// articleLine is "• <a>Title</a> — Source, 22 Nov 14:05".
func articleLine(a storage.Article, lang string, loc *time.Location) string {
	title := cleanFeedText(a.Title, true)
	if title == "" {
		title = a.URL
	}
	title = escapeTG(truncateUTF16(title, 200))
	if href := httpLink(a.URL); href != "" {
		title = fmt.Sprintf(`<a href="%s">%s</a>`, escapeTG(href), title)
	}
	line := "• " + title
	var meta []string
	if src := cleanFeedText(a.Source, true); src != "" {
		meta = append(meta, escapeTG(truncateUTF16(src, 64)))
	}
	if when := formatWhen(a.Time(), lang, loc); when != "" {
		meta = append(meta, escapeTG(when))
	}
	if len(meta) > 0 {
		line += " — " + strings.Join(meta, ", ")
	}
	return line
}
