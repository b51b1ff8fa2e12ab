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

func (b *Bot) cmdTopics(ctx context.Context, r *cmdReq) {
	text, kb, err := b.topicsPage(r.lang, r.user, 0)
	if err != nil {
		b.fail(ctx, r, "list topics", err)
		return
	}
	b.send(ctx, r.chatID, text, kb)
}

// topicsPage is page n of /topics: up to topicsPerMessage topics, each with
// its toggle button, and ◀ n/m ▶ to the other pages. The message always
// shows the topics its buttons toggle.
func (b *Bot) topicsPage(lang string, u storage.User, n int) (string, *models.InlineKeyboardMarkup, error) {
	topics, err := b.store.Topics()
	if err != nil {
		return "", nil, err
	}
	if len(topics) == 0 {
		return tr(lang, "no_topics"), nil, nil
	}
	pages := (len(topics) + topicsPerMessage - 1) / topicsPerMessage
	n = max(0, min(n, pages-1))
	var sb strings.Builder
	var names []string
	sb.WriteString(tr(lang, "topics_header"))
	for _, t := range topics[n*topicsPerMessage : min(len(topics), (n+1)*topicsPerMessage)] {
		mark := "▫️"
		if u.Subscribed(t.Name) {
			mark = "✅"
		}
		line := fmt.Sprintf("%s <b>%s</b> — <code>%s</code>", mark, escapeTG(t.Name), escapeTG(truncateUTF16(oneLine(t.Query), 120)))
		if utf16Length(sb.String())+1+utf16Length(line) > tgTextLimit-64 {
			break // 25 lines of at most ~200 characters always fit; belt and braces
		}
		sb.WriteString("\n")
		sb.WriteString(line)
		names = append(names, t.Name)
	}
	kb := topicsKeyboard(names, u)
	if pages > 1 {
		row := pagerRow("tp:", n, pages)
		mid := models.InlineKeyboardButton{Text: fmt.Sprintf("%d / %d", n+1, pages), CallbackData: "tp:" + strconv.Itoa(n)}
		kb.InlineKeyboard = append(kb.InlineKeyboard, []models.InlineKeyboardButton{row[0], mid, row[1]})
	}
	return sb.String(), kb, nil
}

// topicsPageOf is the page a /topics message shows, from its buttons.
func topicsPageOf(kb *models.InlineKeyboardMarkup) int {
	if kb == nil || len(kb.InlineKeyboard) == 0 {
		return 0
	}
	last := kb.InlineKeyboard[len(kb.InlineKeyboard)-1]
	if len(last) == 3 {
		if n, err := strconv.Atoi(strings.TrimPrefix(last[1].CallbackData, "tp:")); err == nil {
			return n
		}
	}
	return 0
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

// maxNames is how many topic names one /subscribe or /unsubscribe reads;
// listedNames how many of one kind its answer names.
const (
	maxNames    = 50
	listedNames = 20
)

// changeSubscriptions handles /subscribe and /unsubscribe with one or more
// topic names: one store write, one answer however many names.
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
	cut := len(names) > maxNames
	if cut {
		names = names[:maxNames]
	}
	topics, err := b.store.Topics()
	if err != nil {
		b.fail(ctx, r, "list topics", err)
		return
	}
	exact, folded := map[string]string{}, map[string]string{}
	for _, t := range topics {
		exact[t.Name] = t.Name
		folded[strings.ToLower(t.Name)] = t.Name
	}
	var known, unknown []string
	for _, raw := range names {
		name, ok := exact[raw]
		if !ok {
			name, ok = folded[strings.ToLower(raw)]
		}
		switch {
		case ok && !slices.Contains(known, name):
			known = append(known, name)
		case !ok && !subscribe && r.user.Subscribed(raw):
			known = append(known, raw) // a removed topic's leftover subscription
		case !ok && !slices.Contains(unknown, raw):
			unknown = append(unknown, raw)
		}
	}
	var changed, unchanged []string
	if len(known) > 0 {
		u, err := b.store.UpdateUser(r.user.ID, func(u *storage.User) {
			changed, unchanged = nil, nil
			for _, name := range known {
				i := slices.Index(u.Topics, name)
				switch {
				case subscribe && i < 0:
					u.Topics = append(u.Topics, name)
					changed = append(changed, name)
				case !subscribe && i >= 0:
					u.Topics = slices.Delete(u.Topics, i, i+1)
					changed = append(changed, name)
				default:
					unchanged = append(unchanged, name)
				}
			}
		})
		if err != nil {
			b.fail(ctx, r, "update subscriptions", err)
			return
		}
		r.user = u
	} else {
		quiet(ctx)
	}
	doneKey, sameKey := "subscribed", "already_subscribed"
	if !subscribe {
		doneKey, sameKey = "unsubscribed", "not_subscribed"
	}
	var lines []string
	if len(changed) > 0 {
		lines = append(lines, tr(r.lang, doneKey, nameList(r.lang, changed)))
	}
	if len(unchanged) > 0 {
		lines = append(lines, tr(r.lang, sameKey, nameList(r.lang, unchanged)))
	}
	if len(unknown) > 0 {
		lines = append(lines, tr(r.lang, "topic_unknown", nameList(r.lang, unknown)))
	}
	if cut {
		lines = append(lines, tr(r.lang, "names_cut", maxNames))
	}
	b.reply(ctx, r.chatID, strings.Join(lines, "\n"))
}

// nameList is "a, b, c" (escaped, each cut to 64), at most listedNames of
// them and "+N more".
func nameList(lang string, names []string) string {
	shown := names[:min(len(names), listedNames)]
	out := make([]string, len(shown))
	for i, n := range shown {
		out[i] = escapeTG(truncateUTF16(n, 64))
	}
	s := strings.Join(out, ", ")
	if rest := len(names) - len(shown); rest > 0 {
		s += " " + tr(lang, "and_more", rest)
	}
	return s
}

func (b *Bot) cmdLatest(ctx context.Context, r *cmdReq) {
	if len(r.user.Topics) == 0 {
		b.reply(ctx, r.chatID, tr(r.lang, "latest_no_topics"))
		return
	}
	var views []AlertView
	seen := map[uint64]bool{}
	err := b.store.ArticlesSince(b.now().Add(-recentWindow), func(a *storage.Article) bool {
		if a.StoryID == 0 || seen[a.StoryID] {
			return true // not placed in a story yet, or its story is listed
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
	// One message lists them all, as a digest does; a button per story
	// opens its full card.
	for i := range views {
		b.fillView(&views[i], r.lang)
	}
	text, shown := formatList(tr(r.lang, "latest_header"), views, r.lang, r.user.Location(), true, 0)
	kb := &models.InlineKeyboardMarkup{}
	var row []models.InlineKeyboardButton
	for i, v := range views[:shown] {
		row = append(row, models.InlineKeyboardButton{Text: strconv.Itoa(i + 1), CallbackData: "card:" + strconv.FormatUint(v.StoryID(), 10)})
		if len(row) == 5 {
			kb.InlineKeyboard, row = append(kb.InlineKeyboard, row), nil
		}
	}
	if len(row) > 0 {
		kb.InlineKeyboard = append(kb.InlineKeyboard, row)
	}
	b.send(ctx, r.chatID, text, kb)
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
