package bot

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"dozor/internal/analysis"
	"dozor/storage"
)

// similarMax is how many articles 🔎 lists.
const similarMax = 10

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
	if (kind == "sub" || kind == "mute" || kind == "set") && msg != nil && !b.mayManage(ctx, chatID, msg.Chat.Type, q.From.ID) {
		quiet(ctx)
		b.answer(ctx, q.ID, stripTags(tr(lang, "group_admins_only")))
		return
	}
	switch {
	case kind == "sub" && (sep == ':' || sep == '#'):
		b.onToggle(ctx, q, msg, user, sep, arg)
	case kind == "mute" && (sep == ':' || sep == '#'):
		b.onMute(ctx, q, user, sep, arg)
	case kind == "sim" && sep == ':':
		b.onSimilar(ctx, q, chatID, user, arg)
	case kind == "set" && sep == ':':
		b.onSetting(ctx, q, msg, user, arg)
	case kind == "tp" && sep == ':':
		b.onTopicsPage(ctx, q, msg, user, arg)
	case kind == "card" && sep == ':':
		b.onCard(ctx, q, chatID, user, arg)
	case kind == "pg" && sep == ':':
		b.onPage(ctx, q, msg, &cmdReq{chatID: chatID, from: &q.From, lang: lang, admin: admin, user: user, hasUser: true}, arg)
	default:
		quiet(ctx)
		b.answer(ctx, q.ID, tr(lang, "cb_expired"))
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
		b.answer(ctx, q.ID, tr(normLang(user.Lang), "cb_expired"))
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
		b.answer(ctx, q.ID, tr(lang, "cb_expired"))
		return
	}
	st, err := b.store.Story(id)
	if err != nil || len(st.Articles) == 0 || !(b.store.Delivered(user.ID, id) || slices.ContainsFunc(st.Topics, user.Subscribed)) {
		b.answer(ctx, q.ID, tr(lang, "story_gone"))
		return
	}
	a, err := b.store.ArticleHead(st.Articles[0])
	if err != nil {
		b.answer(ctx, q.ID, tr(lang, "story_gone"))
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

// onMute is the 🔕 button under an alert.
func (b *Bot) onMute(ctx context.Context, q *models.CallbackQuery, user storage.User, sep byte, arg string) {
	lang := normLang(user.Lang)
	name, _ := b.topicFromData(sep, arg)
	if name == "" || !user.Subscribed(name) {
		quiet(ctx)
		b.answer(ctx, q.ID, tr(lang, "cb_not_subscribed", name))
		return
	}
	_, err := b.store.UpdateUser(user.ID, func(u *storage.User) {
		if i := slices.Index(u.Topics, name); i >= 0 {
			u.Topics = slices.Delete(u.Topics, i, i+1)
		}
	})
	if err != nil {
		b.log.Error("bot: mute topic", "user_id", user.ID, "err", err)
		b.answer(ctx, q.ID, tr(lang, "internal_error"))
		return
	}
	b.answer(ctx, q.ID, tr(lang, "cb_muted", name))
}

// onSetting applies a /settings button and redraws the settings message.
func (b *Bot) onSetting(ctx context.Context, q *models.CallbackQuery, msg *models.Message, user storage.User, arg string) {
	key, value, _ := strings.Cut(arg, ":")
	nu, note, ok := b.applySetting(user, key, value)
	if !ok {
		quiet(ctx)
		b.answer(ctx, q.ID, tr(normLang(user.Lang), "cb_expired"))
		return
	}
	b.answer(ctx, q.ID, note)
	if msg == nil {
		return
	}
	b.edit(ctx, msg.Chat.ID, msg.ID, settingsText(nu), settingsKeyboard(nu))
}

// onSimilar is the 🔎 button: the other articles of the story, else
// articles of the last week that share most of the story title's words.
func (b *Bot) onSimilar(ctx context.Context, q *models.CallbackQuery, chatID int64, user storage.User, arg string) {
	lang := normLang(user.Lang)
	id, err := strconv.ParseUint(arg, 10, 64)
	if err != nil {
		b.answer(ctx, q.ID, tr(lang, "cb_expired"))
		return
	}
	st, err := b.store.Story(id)
	if err != nil {
		b.answer(ctx, q.ID, tr(lang, "story_gone"))
		return
	}
	b.answer(ctx, q.ID, "")
	loc := user.Location()

	var arts []storage.Article
	for _, aid := range st.Articles {
		if a, err := b.store.Article(aid); err == nil {
			arts = append(arts, a)
		}
	}
	header := "sim_story"
	if len(arts) < 2 {
		header = "sim_similar"
		arts, err = b.similarArticles(st)
		if err != nil {
			b.log.Error("bot: similar articles", "story_id", id, "err", err)
			b.reply(ctx, chatID, tr(lang, "internal_error"))
			return
		}
	}
	if len(arts) == 0 {
		b.reply(ctx, chatID, tr(lang, "sim_none"))
		return
	}
	blocks := []string{tr(lang, header, len(arts))}
	for _, a := range arts {
		blocks = append(blocks, articleLine(a, lang, loc))
	}
	b.sendBlocks(ctx, chatID, blocks, "\n")
}

// similarArticles finds articles of the last week, outside the story, that
// contain at least half (and at least two) of the stems of the story's
// title, best first.
func (b *Bot) similarArticles(st storage.Story) ([]storage.Article, error) {
	var stems []string
	for _, w := range analysis.Tokens(st.Title) {
		if len([]rune(w)) <= 3 {
			continue // prepositions and the like; abbreviations are too ambiguous alone
		}
		if s := analysis.Stem(w); !slices.Contains(stems, s) {
			stems = append(stems, s)
		}
	}
	if len(stems) == 0 {
		return nil, nil
	}
	need := max(2, (len(stems)+1)/2)
	if len(stems) < 2 {
		need = 1
	}
	type scored struct {
		a     storage.Article
		score int
	}
	var found []scored
	seenStory := map[uint64]bool{st.ID: true}
	err := b.store.ArticlesSince(b.now().Add(-recentWindow), func(a *storage.Article) bool {
		if seenStory[a.StoryID] {
			return true
		}
		doc := analysis.Analyze(a.Title, a.BestText(), a.URL)
		n := 0
		for _, s := range stems {
			if doc.Has(s) {
				n++
			}
		}
		if n >= need {
			seenStory[a.StoryID] = true
			found = append(found, scored{*a, n})
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	// Stable: among equal scores the newest (ArticlesSince order) first.
	sort.SliceStable(found, func(i, j int) bool { return found[i].score > found[j].score })
	var out []storage.Article
	for _, f := range found[:min(len(found), similarMax)] {
		out = append(out, f.a)
	}
	return out, nil
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
