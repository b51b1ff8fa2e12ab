package bot

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
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
	// maxRetryAfter is the longest 429 wait a reply accepts before giving up.
	maxRetryAfter = 30 * time.Second
)

// commonZones are the time zones /settings offers as buttons; any other
// IANA name works with /settings tz.
var commonZones = []string{"Europe/Moscow", "Europe/London", "UTC", "Asia/Shanghai"}

// cmdSpec is one chat command.
type cmdSpec struct {
	name  string
	admin bool
	run   func(ctx context.Context, r *cmdReq)
	// descriptions for setMyCommands
	en, ru string
}

// cmdReq is one command as a handler sees it, after access checks.
type cmdReq struct {
	msg     *models.Message
	from    *models.User
	chatID  int64
	args    string
	lang    string
	admin   bool
	user    storage.User // the chat's subscriber record, if hasUser
	hasUser bool
}

func (b *Bot) commandTable() []cmdSpec {
	return []cmdSpec{
		{name: "start", run: b.cmdStart, en: "Start and subscribe", ru: "Начать и подписаться"},
		{name: "help", run: b.cmdHelp, en: "What the bot does, with examples", ru: "Что умеет бот, с примерами"},
		{name: "topics", run: b.cmdTopics, en: "Topics: subscribe or unsubscribe", ru: "Темы: подписаться или отписаться"},
		{name: "subscribe", run: b.cmdSubscribe, en: "Follow a topic: /subscribe name", ru: "Подписаться: /subscribe имя"},
		{name: "unsubscribe", run: b.cmdUnsubscribe, en: "Stop following: /unsubscribe name", ru: "Отписаться: /unsubscribe имя"},
		{name: "latest", run: b.cmdLatest, en: "Latest stories on your topics", ru: "Последние сюжеты по вашим темам"},
		{name: "settings", run: b.cmdSettings, en: "Language, delivery, time zone", ru: "Язык, доставка, часовой пояс"},
		{name: "search", run: b.cmdSearch, en: "Search the archive (coming later)", ru: "Поиск по архиву (скоро)"},

		{name: "watch", admin: true, run: b.cmdWatch, en: "Add or change a topic", ru: "Добавить или изменить тему"},
		{name: "unwatch", admin: true, run: b.cmdUnwatch, en: "Remove a topic", ru: "Удалить тему"},
		{name: "watchlist", admin: true, run: b.cmdWatchlist, en: "Topics and subscribers", ru: "Темы и подписчики"},
		{name: "test", admin: true, run: b.cmdTest, en: "Try a query on the last 7 days", ru: "Проверить запрос на 7 днях"},
		{name: "addsource", admin: true, run: b.cmdAddSource, en: "Add a feed", ru: "Добавить ленту"},
		{name: "rmsource", admin: true, run: b.cmdRmSource, en: "Remove a feed", ru: "Удалить ленту"},
		{name: "sources", admin: true, run: b.cmdSources, en: "Feeds and their health", ru: "Ленты и их состояние"},
		{name: "stats", admin: true, run: b.cmdStats, en: "Counters for today", ru: "Счётчики за сегодня"},
		{name: "users", admin: true, run: b.cmdUsers, en: "Users and their status", ru: "Пользователи и их статус"},
		{name: "approve", admin: true, run: b.cmdApprove, en: "Approve a user: /approve id", ru: "Одобрить: /approve id"},
		{name: "ban", admin: true, run: b.cmdBan, en: "Ban a user: /ban id", ru: "Заблокировать: /ban id"},
	}
}

func (b *Bot) registerHandlers() {
	for _, c := range b.commandTable() {
		b.api.RegisterHandlerMatchFunc(func(u *models.Update) bool {
			name, _, ok := b.commandOf(u)
			return ok && name == c.name
		}, func(ctx context.Context, _ *tgbot.Bot, u *models.Update) {
			b.runCommand(ctx, c, u)
		})
	}
	b.api.RegisterHandlerMatchFunc(func(u *models.Update) bool { return u.CallbackQuery != nil }, b.onCallback)
}

// commandOf returns the command of a message addressed to this bot.
func (b *Bot) commandOf(u *models.Update) (name, args string, ok bool) {
	if u.Message == nil {
		return "", "", false
	}
	return parseCommand(u.Message.Text, b.username)
}

// parseCommand splits "/cmd args" or "/cmd@botname args". A command for
// another bot (/cmd@otherbot, common in groups) is not ours.
func parseCommand(text, username string) (name, args string, ok bool) {
	if !strings.HasPrefix(text, "/") {
		return "", "", false
	}
	head, rest := text[1:], ""
	if i := strings.IndexAny(head, " \t\n\r"); i >= 0 {
		head, rest = head[:i], head[i+1:]
	}
	if at := strings.IndexByte(head, '@'); at >= 0 {
		if username == "" || !strings.EqualFold(head[at+1:], username) {
			return "", "", false
		}
		head = head[:at]
	}
	if head == "" || len(head) > 32 {
		return "", "", false
	}
	for i := 0; i < len(head); i++ {
		c := head[i] | 0x20 // ASCII lower case
		if !(c >= 'a' && c <= 'z' || head[i] >= '0' && head[i] <= '9' || head[i] == '_') {
			return "", "", false
		}
	}
	return strings.ToLower(head), strings.TrimSpace(rest), true
}

// runCommand applies access rules, then runs the command.
func (b *Bot) runCommand(ctx context.Context, c cmdSpec, u *models.Update) {
	m := u.Message
	if m.From == nil || m.From.IsBot {
		quiet(ctx)
		return
	}
	_, args, _ := b.commandOf(u)
	r := &cmdReq{
		msg:    m,
		from:   m.From,
		chatID: m.Chat.ID,
		args:   args,
		lang:   langFromCode(m.From.LanguageCode),
		admin:  b.admins[m.From.ID],
	}
	user, found, err := b.subscriber(m.Chat.ID)
	if err != nil {
		b.log.Error("bot: load user", "chat_id", m.Chat.ID, "err", err)
		b.reply(ctx, r.chatID, tr(r.lang, "internal_error"))
		return
	}
	if found {
		r.lang = normLang(user.Lang)
	}
	if b.isBanned(m.Chat.ID, m.From.ID, user, found, r.admin) {
		quiet(ctx)
		return
	}
	if r.admin && m.Chat.Type == models.ChatTypePrivate && (!found || user.Status != storage.StatusApproved) {
		if user, err = b.ensureAdmin(m.From); err != nil {
			b.log.Error("bot: store admin", "user_id", m.From.ID, "err", err)
		} else {
			found = true
			r.lang = normLang(user.Lang)
		}
	}
	r.user, r.hasUser = user, found
	b.log.Debug("bot: command", "cmd", c.name, "user_id", m.From.ID, "chat_id", m.Chat.ID)

	switch {
	case c.admin:
		if !r.admin {
			b.reply(ctx, r.chatID, tr(r.lang, "admin_only"))
			return
		}
		c.run(ctx, r)
	case c.name == "start" || c.name == "help":
		c.run(ctx, r)
	case !found:
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, "need_start"))
	case user.Status != storage.StatusApproved:
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, "still_waiting"))
	default:
		b.reactivate(&r.user)
		c.run(ctx, r)
	}
}

// subscriber loads the record of a chat (a private chat's id is the
// user's). A group that became a supergroup is found under its new id.
func (b *Bot) subscriber(chatID int64) (storage.User, bool, error) {
	u, err := b.store.User(chatID)
	if err == nil {
		return u, true, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, false, err
	}
	if chatID < 0 {
		old, merr := b.store.GetMeta(migratedKey(chatID))
		if merr == nil && len(old) > 0 {
			if id, perr := strconv.ParseInt(string(old), 10, 64); perr == nil {
				if u, err := b.store.User(id); err == nil {
					return u, true, nil
				}
			}
		}
	}
	return storage.User{}, false, nil
}

func migratedKey(newChatID int64) string {
	return "telegram_migrated:" + strconv.FormatInt(newChatID, 10)
}

// isBanned reports whether an update must be ignored: the chat is banned,
// or (in a group) the sender is. Admins are never ignored.
func (b *Bot) isBanned(chatID, fromID int64, chat storage.User, found, admin bool) bool {
	if admin {
		return false
	}
	if found && chat.Status == storage.StatusBanned {
		return true
	}
	if chatID != fromID {
		if u, ok, err := b.subscriber(fromID); err == nil && ok && u.Status == storage.StatusBanned {
			return true
		}
	}
	return false
}

// ensureAdmin makes an admin's own record approved: admins never wait.
func (b *Bot) ensureAdmin(from *models.User) (storage.User, error) {
	u, created, err := b.store.CreateUser(b.newUser(from, nil, storage.StatusApproved))
	if err != nil || created || u.Status == storage.StatusApproved {
		return u, err
	}
	return b.store.UpdateUser(from.ID, func(u *storage.User) {
		u.Status = storage.StatusApproved
		u.Updated = b.now()
	})
}

// reactivate clears Inactive when a user who had blocked the bot writes
// again (the Deliverer sets it on 403).
func (b *Bot) reactivate(u *storage.User) {
	if !u.Inactive {
		return
	}
	nu, err := b.store.UpdateUser(u.ID, func(x *storage.User) { x.Inactive = false })
	if err != nil {
		b.log.Error("bot: reactivate user", "user_id", u.ID, "err", err)
		return
	}
	*u = nu
}

// newUser is the record for a chat that starts the bot: a private chat is
// the user, a group is the group.
func (b *Bot) newUser(from *models.User, chat *models.Chat, status storage.UserStatus) storage.User {
	now := b.now()
	lang := langFromCode(from.LanguageCode)
	tz := "UTC"
	if lang == langRU {
		tz = "Europe/Moscow"
	}
	u := storage.User{
		ID: from.ID, ChatID: from.ID, Name: personName(from), Username: from.Username,
		Lang: lang, Status: status, Mode: storage.ModeInstant, TZ: tz, Created: now, Updated: now,
	}
	if chat != nil && chat.Type != models.ChatTypePrivate {
		u.ID, u.ChatID, u.Name, u.Username = chat.ID, chat.ID, chat.Title, chat.Username
	}
	return u
}

func personName(u *models.User) string {
	name := strings.TrimSpace(u.FirstName + " " + u.LastName)
	if name == "" {
		name = u.Username
	}
	return name
}

// onOther handles updates no command or callback matched.
func (b *Bot) onOther(ctx context.Context, _ *tgbot.Bot, u *models.Update) {
	switch {
	case u.MyChatMember != nil:
		b.onMembership(ctx, u.MyChatMember)
	case u.Message != nil && u.Message.MigrateToChatID != 0:
		b.onMigrate(ctx, u.Message.Chat.ID, u.Message.MigrateToChatID)
	case u.Message != nil && u.Message.From != nil && !u.Message.From.IsBot:
		b.onText(ctx, u.Message)
	default:
		quiet(ctx)
	}
}

// onText answers a message that is no known command: a hint in private
// chats, nothing in groups (where people talk to each other).
func (b *Bot) onText(ctx context.Context, m *models.Message) {
	quiet(ctx)
	if m.Chat.Type != models.ChatTypePrivate {
		return
	}
	user, found, err := b.subscriber(m.Chat.ID)
	if err != nil {
		b.log.Error("bot: load user", "chat_id", m.Chat.ID, "err", err)
		return
	}
	admin := b.admins[m.From.ID]
	if b.isBanned(m.Chat.ID, m.From.ID, user, found, admin) {
		return
	}
	lang := langFromCode(m.From.LanguageCode)
	if found {
		lang = normLang(user.Lang)
	}
	switch {
	case !found && !admin:
		b.reply(ctx, m.Chat.ID, tr(lang, "need_start"))
	case found && user.Status == storage.StatusPending && !admin:
		b.reply(ctx, m.Chat.ID, tr(lang, "still_waiting"))
	default:
		b.reply(ctx, m.Chat.ID, tr(lang, "unknown_command"))
	}
}

// onMembership notes that a user blocked or unblocked the bot, or that it
// was removed from or added back to a group.
func (b *Bot) onMembership(ctx context.Context, cm *models.ChatMemberUpdated) {
	var inactive bool
	switch cm.NewChatMember.Type {
	case models.ChatMemberTypeBanned, models.ChatMemberTypeLeft:
		inactive = true
	case models.ChatMemberTypeMember, models.ChatMemberTypeAdministrator:
		inactive = false
	default:
		quiet(ctx)
		return
	}
	user, found, err := b.subscriber(cm.Chat.ID)
	if err != nil || !found || user.Inactive == inactive {
		quiet(ctx)
		return
	}
	if _, err := b.store.UpdateUser(user.ID, func(u *storage.User) { u.Inactive = inactive }); err != nil {
		b.log.Error("bot: update user", "user_id", user.ID, "err", err)
	}
	b.log.Info("bot: chat membership changed", "user_id", user.ID, "inactive", inactive)
}

// onMigrate follows a group that became a supergroup: alerts go to the new
// id, and commands from it find the old record.
func (b *Bot) onMigrate(_ context.Context, oldID, newID int64) {
	user, found, err := b.subscriber(oldID)
	if err != nil || !found {
		return
	}
	if err := b.store.SetMeta(migratedKey(newID), []byte(strconv.FormatInt(user.ID, 10))); err != nil {
		b.log.Error("bot: record group migration", "chat_id", oldID, "err", err)
	}
	if _, err := b.store.UpdateUser(user.ID, func(u *storage.User) { u.ChatID = newID }); err != nil {
		b.log.Error("bot: record group migration", "chat_id", oldID, "err", err)
	}
	b.log.Info("bot: group migrated", "chat_id", oldID, "new_chat_id", newID)
}

// ---- subscriber commands ----

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
				b.askAdmins(ctx, u, r.from)
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
			if a, err := b.store.Article(id); err == nil && a.Source != "" && !seen[a.Source] {
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

func (b *Bot) cmdSettings(ctx context.Context, r *cmdReq) {
	if r.args == "" {
		b.send(ctx, r.chatID, settingsText(r.user), settingsKeyboard(r.user))
		return
	}
	fields := strings.Fields(r.args)
	if len(fields) != 2 {
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, "settings_usage"))
		return
	}
	u, note, ok := b.applySetting(r.user, strings.ToLower(fields[0]), fields[1])
	if !ok {
		quiet(ctx)
		b.reply(ctx, r.chatID, note)
		return
	}
	if note != "" {
		b.reply(ctx, r.chatID, escapeTG(note))
	}
	b.send(ctx, r.chatID, settingsText(u), settingsKeyboard(u))
}

// applySetting stores one setting. It returns the updated user and a
// plain-text note to show; ok is false when the value was refused, and the
// note is then an HTML error message.
func (b *Bot) applySetting(u storage.User, key, value string) (storage.User, string, bool) {
	lang := normLang(u.Lang)
	var apply func(*storage.User)
	var note string
	switch key {
	case "lang", "language", "язык":
		l := strings.ToLower(value)
		if l != langRU && l != langEN {
			return u, tr(lang, "settings_usage"), false
		}
		apply = func(x *storage.User) { x.Lang = l }
		note = tr(l, "lang_set")
	case "mode":
		m := strings.ToLower(value)
		if m != storage.ModeInstant && m != storage.ModeDigest {
			return u, tr(lang, "settings_usage"), false
		}
		apply = func(x *storage.User) { x.Mode = m }
		note = tr(lang, "mode_set", tr(lang, "mode_"+m))
		if m == storage.ModeDigest {
			note += "\n" + tr(lang, "digest_later")
		}
	case "tz", "timezone", "zone":
		name, err := checkZone(value)
		if err != nil {
			return u, tr(lang, "tz_bad", escapeTG(truncateUTF16(value, 64))), false
		}
		apply = func(x *storage.User) { x.TZ = name }
		note = tr(lang, "tz_set", name)
	default:
		return u, tr(lang, "settings_usage"), false
	}
	nu, err := b.store.UpdateUser(u.ID, func(x *storage.User) {
		apply(x)
		x.Updated = b.now()
	})
	if err != nil {
		b.log.Error("bot: update settings", "user_id", u.ID, "err", err)
		return u, tr(lang, "internal_error"), false
	}
	return nu, note, true
}

// checkZone accepts IANA zone names (and UTC); "Local" would mean the
// server's zone, which users cannot know.
func checkZone(name string) (string, error) {
	name = strings.TrimSpace(name)
	if strings.EqualFold(name, "utc") {
		return "UTC", nil
	}
	if name == "" || name == "Local" || len(name) > 64 || strings.Contains(name, "..") {
		return "", fmt.Errorf("bad time zone %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return "", err
	}
	return loc.String(), nil
}

func settingsText(u storage.User) string {
	lang := normLang(u.Lang)
	mode := u.Mode
	if mode != storage.ModeDigest {
		mode = storage.ModeInstant
	}
	text := tr(lang, "settings", tr(lang, "lang_name"), tr(lang, "mode_"+mode), escapeTG(u.Location().String()))
	if mode == storage.ModeDigest {
		text += "\n\n" + tr(lang, "digest_later")
	}
	return text
}

func settingsKeyboard(u storage.User) *models.InlineKeyboardMarkup {
	lang := normLang(u.Lang)
	mark := func(on bool, label string) string {
		if on {
			return "• " + label + " •"
		}
		return label
	}
	btn := func(label, data string) models.InlineKeyboardButton {
		return models.InlineKeyboardButton{Text: label, CallbackData: data}
	}
	digest := u.Mode == storage.ModeDigest
	rows := [][]models.InlineKeyboardButton{
		{btn(mark(lang == langRU, "Русский"), "set:lang:ru"), btn(mark(lang == langEN, "English"), "set:lang:en")},
		{btn(mark(!digest, tr(lang, "btn_instant")), "set:mode:instant"), btn(mark(digest, tr(lang, "btn_digest")), "set:mode:digest")},
	}
	zone := u.Location().String()
	var row []models.InlineKeyboardButton
	for _, z := range commonZones {
		row = append(row, btn(mark(zone == z, z), "set:tz:"+z))
		if len(row) == 2 {
			rows = append(rows, row)
			row = nil
		}
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	return &models.InlineKeyboardMarkup{InlineKeyboard: rows}
}

// ---- replies ----

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
			b.log.Warn("bot: send message", "chat_id", chatID, "err", b.scrubErr(err))
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
		b.log.Warn("bot: answer callback", "err", b.scrubErr(err))
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
			b.log.Warn("bot: setMyCommands failed", "language", lang, "err", b.scrubErr(err))
		}
	}
	for _, lang := range []string{langEN, langRU} {
		set(&models.BotCommandScopeDefault{}, user, lang)
		for _, id := range b.adminIDs {
			set(&models.BotCommandScopeChat{ChatID: id}, all, lang)
		}
	}
}
