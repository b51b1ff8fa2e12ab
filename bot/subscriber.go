package bot

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot/models"

	"dozor/storage"
)

const (
	// latestStories is how many stories /latest shows.
	latestStories = 10
	// recentWindow is how far back /latest, /test and 🔎 look.
	recentWindow = 7 * 24 * time.Hour
	// topicsPerMessage keeps each /topics message and its keyboard small.
	topicsPerMessage = 25
)

func (b *Bot) cmdStart(ctx context.Context, r *cmdReq) {
	if !r.hasUser {
		status := storage.StatusPending
		if b.open || r.admin {
			status = storage.StatusApproved
		}
		u, created, err := b.store.CreateUser(b.newUser(r.from, &r.msg.Chat, status))
		if err != nil {
			b.log.Error("bot: create user", "chat_id", r.chatID, "err", err)
			b.reply(ctx, r.chatID, tr(r.lang, "internal_error"))
			return
		}
		r.user, r.hasUser, r.lang = u, true, normLang(u.Lang)
		if created {
			b.log.Info("bot: new user", "user_id", u.ID, "status", string(u.Status))
			if u.Status == storage.StatusPending {
				b.reply(ctx, r.chatID, tr(r.lang, "waiting"))
				b.askAdmins()
				return
			}
			b.reply(ctx, r.chatID, tr(r.lang, "welcome"))
			return
		}
	}
	switch r.user.Status {
	case storage.StatusApproved:
		b.reactivate(&r.user)
		b.reply(ctx, r.chatID, tr(r.lang, "welcome"))
	case storage.StatusPending:
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, "still_waiting"))
	}
}

func (b *Bot) cmdHelp(ctx context.Context, r *cmdReq) {
	blocks := []string{tr(r.lang, "help")}
	if r.admin {
		blocks = append(blocks, tr(r.lang, "help_admin"))
	}
	b.sendBlocks(ctx, r.chatID, blocks, "\n\n")
}

func (b *Bot) cmdSearch(ctx context.Context, r *cmdReq) {
	b.reply(ctx, r.chatID, tr(r.lang, "search_later"))
}

func (b *Bot) cmdTopics(ctx context.Context, r *cmdReq) {
	topics, err := b.store.Topics()
	if err != nil {
		b.fail(ctx, r, "list topics", err)
		return
	}
	if len(topics) == 0 {
		b.reply(ctx, r.chatID, tr(r.lang, "no_topics"))
		return
	}
	// Each message carries the buttons of the topics it lists, so a
	// button's message always shows what the button toggles.
	var sb strings.Builder
	var names []string
	flush := func() {
		if len(names) > 0 {
			b.send(ctx, r.chatID, sb.String(), topicsKeyboard(names, r.user))
		}
		sb.Reset()
		names = nil
	}
	sb.WriteString(tr(r.lang, "topics_header"))
	for _, t := range topics {
		mark := "▫️"
		if r.user.Subscribed(t.Name) {
			mark = "✅"
		}
		line := fmt.Sprintf("%s <b>%s</b> — <code>%s</code>", mark, escapeTG(t.Name), escapeTG(truncateUTF16(oneLine(t.Query), 120)))
		if len(names) == topicsPerMessage || utf16Length(sb.String())+1+utf16Length(line) > tgTextLimit {
			flush()
		}
		if sb.Len() > 0 {
			sb.WriteString("\n")
		}
		sb.WriteString(line)
		names = append(names, t.Name)
	}
	flush()
}

// topicsKeyboard has one toggle button per topic.
func topicsKeyboard(names []string, u storage.User) *models.InlineKeyboardMarkup {
	kb := &models.InlineKeyboardMarkup{}
	for _, n := range names {
		label := "▫️ " + n
		if u.Subscribed(n) {
			label = "✅ " + n
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, []models.InlineKeyboardButton{{Text: label, CallbackData: topicData("sub", n)}})
	}
	return kb
}

// topicData is callback data naming a topic: "sub:name", or "sub#hash"
// when the name is too long for Telegram's 64 bytes (32 Cyrillic letters
// are 64 bytes on their own).
func topicData(prefix, name string) string {
	if d := prefix + ":" + name; len(d) <= tgCallbackLimit {
		return d
	}
	return prefix + "#" + topicHash(name)
}

func topicHash(name string) string {
	h := fnv.New64a()
	h.Write([]byte(name))
	return strconv.FormatUint(h.Sum64(), 36)
}

// topicFromData resolves the topic named by callback data after the prefix
// (sep is ':' or '#'); ok is false when no such topic exists any more. For
// ':' the name is returned even then, so a subscription to a removed topic
// can still be dropped.
func (b *Bot) topicFromData(sep byte, arg string) (name string, ok bool) {
	topics, err := b.store.Topics()
	if err != nil {
		b.log.Error("bot: list topics", "err", err)
	}
	for _, t := range topics {
		if (sep == ':' && t.Name == arg) || (sep == '#' && topicHash(t.Name) == arg) {
			return t.Name, true
		}
	}
	if sep == ':' {
		return arg, false
	}
	return "", false
}

// findTopic resolves a name a user typed: exact, else ignoring case.
func (b *Bot) findTopic(name string) (string, bool, error) {
	topics, err := b.store.Topics()
	if err != nil {
		return "", false, err
	}
	for _, t := range topics {
		if t.Name == name {
			return t.Name, true, nil
		}
	}
	for _, t := range topics {
		if strings.EqualFold(t.Name, name) {
			return t.Name, true, nil
		}
	}
	return "", false, nil
}

func (b *Bot) cmdSubscribe(ctx context.Context, r *cmdReq) {
	b.changeSubscriptions(ctx, r, true)
}

func (b *Bot) cmdUnsubscribe(ctx context.Context, r *cmdReq) {
	b.changeSubscriptions(ctx, r, false)
}

// changeSubscriptions handles /subscribe and /unsubscribe with one or more
// topic names.
func (b *Bot) changeSubscriptions(ctx context.Context, r *cmdReq, subscribe bool) {
	names := strings.FieldsFunc(r.args, func(c rune) bool { return c == ' ' || c == ',' || c == '\n' || c == '\t' })
	if len(names) == 0 {
		key := "subscribe_usage"
		if !subscribe {
			key = "unsubscribe_usage"
		}
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, key))
		return
	}
	var lines []string
	for _, raw := range names {
		name, ok, err := b.findTopic(raw)
		if err != nil {
			b.fail(ctx, r, "find topic", err)
			return
		}
		if !ok && subscribe {
			lines = append(lines, tr(r.lang, "topic_unknown", escapeTG(truncateUTF16(raw, 64))))
			continue
		}
		if !ok {
			// A removed topic's subscriptions are gone already; try the
			// name as typed in case of a leftover.
			name = raw
		}
		changed := false
		u, err := b.store.UpdateUser(r.user.ID, func(u *storage.User) {
			i := slices.Index(u.Topics, name)
			switch {
			case subscribe && i < 0:
				u.Topics = append(u.Topics, name)
				changed = true
			case !subscribe && i >= 0:
				u.Topics = slices.Delete(u.Topics, i, i+1)
				changed = true
			}
		})
		if err != nil {
			b.fail(ctx, r, "update subscriptions", err)
			return
		}
		r.user = u
		var key string
		switch {
		case subscribe && changed:
			key = "subscribed"
		case subscribe:
			key = "already_subscribed"
		case changed:
			key = "unsubscribed"
		case ok:
			key = "not_subscribed"
		default:
			key = "topic_unknown"
		}
		lines = append(lines, tr(r.lang, key, escapeTG(truncateUTF16(name, 64))))
	}
	b.sendBlocks(ctx, r.chatID, lines, "\n")
}

func (b *Bot) cmdLatest(ctx context.Context, r *cmdReq) {
	if len(r.user.Topics) == 0 {
		b.reply(ctx, r.chatID, tr(r.lang, "latest_no_topics"))
		return
	}
	var views []AlertView
	seen := map[uint64]bool{}
	err := b.store.ArticlesSince(b.now().Add(-recentWindow), func(a *storage.Article) bool {
		if seen[a.StoryID] {
			return true
		}
		var topics []string
		for _, t := range a.Topics {
			if r.user.Subscribed(t) {
				topics = append(topics, t)
			}
		}
		if len(topics) == 0 {
			return true
		}
		seen[a.StoryID] = true
		views = append(views, AlertView{Article: *a, Topics: topics})
		return len(views) < latestStories
	})
	if err != nil {
		b.fail(ctx, r, "latest articles", err)
		return
	}
	if len(views) == 0 {
		b.reply(ctx, r.chatID, tr(r.lang, "latest_empty"))
		return
	}
	loc := r.user.Location()
	for _, v := range views {
		b.fillView(&v, r.lang)
		b.send(ctx, r.chatID, FormatAlert(v, r.lang, loc), AlertKeyboard(v, r.lang))
		if ctx.Err() != nil {
			return
		}
	}
}

// fillView adds the story, its summary (in lang, else in the summary
// language) and the other outlets to a view.
func (b *Bot) fillView(v *AlertView, lang string) {
	if st, err := b.store.Story(v.Article.StoryID); err == nil {
		v.Story = st
		seen := map[string]bool{v.Article.Source: true}
		for _, id := range st.Articles {
			if id == v.Article.ID {
				continue
			}
			if a, err := b.store.ArticleHead(id); err == nil && a.Source != "" && !seen[a.Source] {
				seen[a.Source] = true
				v.AlsoIn = append(v.AlsoIn, a.Source)
			}
		}
	}
	for _, l := range []string{lang, b.summaryLang} {
		if l == "" {
			continue
		}
		if s, err := b.store.Summary(v.Article.StoryID, l); err == nil {
			v.Summary = &s
			return
		}
	}
}
