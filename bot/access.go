package bot

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/go-telegram/bot/models"

	"dozor/storage"
)

// errIsAdmin refuses to ban an admin: ADMIN_IDS would approve them again at
// their next message anyway.
var errIsAdmin = errors.New("admins cannot be banned")

// askAdmins sends every admin the new user's request with Approve and Deny
// buttons. An admin who never started the bot cannot be written to; that
// is logged, and the other admins still get it.
func (b *Bot) askAdmins(ctx context.Context, u storage.User, from *models.User) {
	for _, id := range b.adminIDs {
		lang := langEN
		if a, ok, err := b.subscriber(id); err == nil && ok {
			lang = normLang(a.Lang)
		}
		kb := &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{
			{Text: tr(lang, "btn_approve"), CallbackData: "appr:" + strconv.FormatInt(u.ID, 10)},
			{Text: tr(lang, "btn_deny"), CallbackData: "deny:" + strconv.FormatInt(u.ID, 10)},
		}}}
		if b.send(ctx, id, approvalText(lang, u, from), kb) == nil {
			b.log.Warn("bot: could not ask an admin to approve a user; has the admin started the bot?", "admin_id", id, "user_id", u.ID)
		}
	}
}

// approvalText describes who asks for access.
func approvalText(lang string, u storage.User, from *models.User) string {
	if u.ID < 0 {
		by := "?"
		if from != nil {
			by = describePerson(personName(from), from.Username)
		}
		return tr(lang, "approval_request_group", describePerson(u.Name, u.Username), u.ID, by)
	}
	return tr(lang, "approval_request", describePerson(u.Name, u.Username), u.ID, escapeTG(u.Lang))
}

// describePerson is "<b>Name</b> @username", escaped.
func describePerson(name, username string) string {
	name = strings.TrimSpace(cleanFeedText(name, true))
	if name == "" {
		name = "—"
	}
	s := "<b>" + escapeTG(truncateUTF16(name, 64)) + "</b>"
	if username != "" {
		s += " @" + escapeTG(truncateUTF16(username, 64))
	}
	return s
}

// approveUser approves a pending (or banned) user and tells them. changed is
// false when they were approved already.
func (b *Bot) approveUser(ctx context.Context, id int64) (storage.User, bool, error) {
	changed := false
	u, err := b.store.UpdateUser(id, func(u *storage.User) {
		if u.Status != storage.StatusApproved {
			u.Status = storage.StatusApproved
			u.Updated = b.now()
			changed = true
		}
	})
	if err != nil {
		return storage.User{}, false, err
	}
	if changed {
		b.log.Info("bot: user approved", "user_id", id)
		b.reply(ctx, u.ChatID, tr(normLang(u.Lang), "approved_notice"))
	}
	return u, changed, nil
}

// banUser bans a user (or pre-bans an id never seen) and drops their queued
// alerts. Banned users are never answered again.
func (b *Bot) banUser(id int64) (storage.User, int, error) {
	if b.admins[id] {
		return storage.User{}, 0, errIsAdmin
	}
	now := b.now()
	_, _, err := b.store.CreateUser(storage.User{ID: id, ChatID: id, Status: storage.StatusBanned, Mode: storage.ModeInstant, Created: now, Updated: now})
	if err != nil {
		return storage.User{}, 0, err
	}
	var u storage.User
	n, err := b.store.DropUserMessages(id, func(x *storage.User) {
		x.Status = storage.StatusBanned
		x.Updated = now
		u = *x
	})
	if err != nil {
		return storage.User{}, 0, err
	}
	b.log.Info("bot: user banned", "user_id", id, "dropped", n)
	return u, n, nil
}

// onDecision handles an admin's Approve or Deny button.
func (b *Bot) onDecision(ctx context.Context, q *models.CallbackQuery, msg *models.Message, kind, arg string) {
	lang := langFromCode(q.From.LanguageCode)
	if a, ok, err := b.subscriber(q.From.ID); err == nil && ok {
		lang = normLang(a.Lang)
	}
	if !b.admins[q.From.ID] {
		quiet(ctx)
		b.answer(ctx, q.ID, tr(lang, "admin_only"))
		return
	}
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		quiet(ctx)
		b.answer(ctx, q.ID, tr(lang, "cb_expired"))
		return
	}
	var (
		u       storage.User
		changed bool
		dropped int
	)
	if kind == "appr" {
		u, changed, err = b.approveUser(ctx, id)
	} else {
		u, dropped, err = b.banUser(id)
	}
	switch {
	case errors.Is(err, storage.ErrNotFound):
		b.answer(ctx, q.ID, stripTags(tr(lang, "user_unknown", id)))
		return
	case errors.Is(err, errIsAdmin):
		b.answer(ctx, q.ID, stripTags(tr(lang, "cannot_ban_admin")))
		return
	case err != nil:
		b.log.Error("bot: decide on user", "user_id", id, "err", err)
		b.answer(ctx, q.ID, tr(lang, "internal_error"))
		return
	}
	who := describePerson(u.Name, u.Username)
	admin := escapeTG(personName(&q.From))
	var toast, verdict string
	switch {
	case kind != "appr":
		toast, verdict = tr(lang, "user_banned", id, who, dropped), tr(lang, "denied_by", admin)
	case changed:
		toast, verdict = tr(lang, "user_approved", id, who), tr(lang, "approved_by", admin)
	default:
		toast, verdict = tr(lang, "user_already_approved", id, who), tr(lang, "approved_by", admin)
	}
	b.answer(ctx, q.ID, firstLine(stripTags(toast)))
	if msg == nil {
		return
	}
	// The request stays in the admin's chat with the verdict instead of the
	// buttons, so nobody presses them again.
	b.edit(ctx, msg.Chat.ID, msg.ID, approvalText(lang, u, nil)+"\n\n"+verdict, nil)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
