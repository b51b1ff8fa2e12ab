package bot

import (
	"context"
	"errors"
	"strconv"
	"strings"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"dozor/storage"
)

// cmdSpec is one chat command.
type cmdSpec struct {
	name  string
	admin bool // dozor's admins only, in a private chat
	// manages: the command changes the chat's subscriptions or settings,
	// which in a group only the group's administrators may.
	manages func(r *cmdReq) bool
	run     func(ctx context.Context, r *cmdReq)
	// descriptions for setMyCommands
	en, ru string
}

// cmdReq is one command as a handler sees it, after access checks.
type cmdReq struct {
	msg      *models.Message
	from     *models.User
	chatID   int64
	chatType models.ChatType
	args     string
	lang     string
	admin    bool
	user     storage.User // the chat's subscriber record, if hasUser
	hasUser  bool
}

func (b *Bot) commandTable() []cmdSpec {
	return []cmdSpec{
		{name: "start", manages: always, run: b.cmdStart, en: "Start and subscribe", ru: "Начать и подписаться"},
		{name: "help", run: b.cmdHelp, en: "What the bot does, with examples", ru: "Что умеет бот, с примерами"},
		{name: "topics", run: b.cmdTopics, en: "Topics: subscribe or unsubscribe", ru: "Темы: подписаться или отписаться"},
		{name: "subscribe", manages: always, run: b.cmdSubscribe, en: "Follow a topic: /subscribe name", ru: "Подписаться: /subscribe имя"},
		{name: "unsubscribe", manages: always, run: b.cmdUnsubscribe, en: "Stop following: /unsubscribe name", ru: "Отписаться: /unsubscribe имя"},
		{name: "latest", run: b.cmdLatest, en: "Latest stories on your topics", ru: "Последние сюжеты по вашим темам"},
		{name: "settings", manages: withArgs, run: b.cmdSettings, en: "Language, delivery, time zone", ru: "Язык, доставка, часовой пояс"},
		{name: "digest", manages: withArgs, run: b.cmdDigest, en: "Instant alerts or a daily/weekly digest", ru: "Сразу или дайджест раз в день/неделю"},
		{name: "quiet", manages: withArgs, run: b.cmdQuiet, en: "Quiet hours: /quiet 22:00-08:00", ru: "Тихие часы: /quiet 22:00-08:00"},
		{name: "mute", manages: always, run: b.cmdMute, en: "Mute a topic: /mute name 1d", ru: "Заглушить тему: /mute имя 1d"},
		{name: "muted", run: b.cmdMuted, en: "Muted topics", ru: "Заглушённые темы"},
		{name: "search", run: b.cmdSearch, en: "Search the archive: /search words", ru: "Поиск по архиву: /search слова"},

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

func always(*cmdReq) bool     { return true }
func withArgs(r *cmdReq) bool { return r.args != "" }

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
		msg:      m,
		from:     m.From,
		chatID:   m.Chat.ID,
		chatType: m.Chat.Type,
		args:     args,
		lang:     langFromCode(m.From.LanguageCode),
		admin:    b.admins[m.From.ID],
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
	case c.admin && isGroup(r.chatType):
		// Admin commands would show users and sources to the whole group.
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, "admin_private_only"))
	case c.admin && !r.admin:
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, "admin_only"))
	case c.admin:
		c.run(ctx, r)
	case c.manages != nil && c.manages(r) && !b.mayManage(ctx, r.chatID, r.chatType, r.from.ID):
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, "group_admins_only"))
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
// again (the deliver stage sets it on 403).
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
		u.AddedBy = personName(from)
		if from.Username != "" {
			u.AddedBy += " @" + from.Username
		}
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
