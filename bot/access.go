package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot/models"

	"dozor/storage"
)

// errIsAdmin refuses to ban an admin: ADMIN_IDS would approve them again at
// their next message anyway.
var errIsAdmin = errors.New("admins cannot be banned")

// Admins hear about newcomers at most once a noticeEvery, in one message
// listing up to noticeMax of them with Approve/Deny buttons each: a team's
// sign-up burst is a message a minute, not one per person.
const (
	noticeEvery = time.Minute
	noticeMax   = 20
)

// askAdmins makes the notice loop tell the admins about a new user soon.
func (b *Bot) askAdmins() {
	select {
	case b.noticeWake <- struct{}{}:
	default:
	}
}

// notices tells the admins about users who wait for approval and have not
// been announced, whenever there are some and no notice went out within
// noticeEvery, until ctx ends. Who was announced is stored, so a restart
// neither loses nor repeats a newcomer.
func (b *Bot) notices(ctx context.Context) error {
	if b.open || len(b.adminIDs) == 0 {
		return nil
	}
	every := b.noticeEvery
	if every <= 0 {
		every = noticeEvery
	}
	var last time.Time
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-b.noticeWake:
		case <-t.C:
		}
		if wait := every - time.Since(last); !last.IsZero() && wait > 0 {
			t.Reset(wait)
			continue
		}
		sent, more, err := b.sendNotice(ctx)
		if err != nil {
			b.log.Error("bot: tell admins about new users", "err", err)
		}
		if sent {
			last = time.Now()
		}
		if more {
			t.Reset(every)
		}
	}
}

// sendNotice sends each admin one message listing the users who wait and
// were not announced yet (at most noticeMax; more says some are left).
func (b *Bot) sendNotice(ctx context.Context) (sent, more bool, err error) {
	users, err := b.store.Users()
	if err != nil {
		return false, false, err
	}
	var waiting []storage.User
	for _, u := range users {
		if u.Status == storage.StatusPending && u.Asked.IsZero() {
			waiting = append(waiting, u)
		}
	}
	if len(waiting) == 0 {
		return false, false, nil
	}
	slices.SortFunc(waiting, func(x, y storage.User) int { return x.Created.Compare(y.Created) })
	if len(waiting) > noticeMax {
		waiting, more = waiting[:noticeMax], true
	}
	for _, id := range b.adminIDs {
		lang := langEN
		if a, ok, err := b.subscriber(id); err == nil && ok {
			lang = normLang(a.Lang)
		}
		if b.send(ctx, id, noticeText(lang, waiting, more), noticeKeyboard(lang, waiting)) == nil {
			b.log.Warn("bot: could not tell an admin about new users; has the admin started the bot?", "admin_id", id, "users", len(waiting))
		}
	}
	ids := make([]int64, len(waiting))
	for i, u := range waiting {
		ids[i] = u.ID
	}
	return true, more, b.store.MarkAsked(ids, b.now())
}

// noticeText lists the newcomers, one line each.
func noticeText(lang string, users []storage.User, more bool) string {
	lines := []string{tr(lang, "approval_notice", len(users))}
	for i, u := range users {
		lines = append(lines, fmt.Sprintf("%d. %s", i+1, approvalText(lang, u)))
	}
	if more {
		lines = append(lines, tr(lang, "approval_notice_more"))
	}
	return strings.Join(lines, "\n")
}

// noticeKeyboard has an Approve and a Deny button per newcomer.
func noticeKeyboard(lang string, users []storage.User) *models.InlineKeyboardMarkup {
	kb := &models.InlineKeyboardMarkup{}
	for i, u := range users {
		id := strconv.FormatInt(u.ID, 10)
		n := strconv.Itoa(i + 1)
		kb.InlineKeyboard = append(kb.InlineKeyboard, []models.InlineKeyboardButton{
			{Text: n + ". " + tr(lang, "btn_approve"), CallbackData: "appr:" + id},
			{Text: n + ". " + tr(lang, "btn_deny"), CallbackData: "deny:" + id},
		})
	}
	return kb
}

// approvalText describes who asks for access, in one line.
func approvalText(lang string, u storage.User) string {
	if u.ID < 0 {
		by := u.AddedBy
		if by == "" {
			by = "?"
		}
		return tr(lang, "approval_request_group", describePerson(u.Name, u.Username), u.ID, escapeTG(truncateUTF16(cleanFeedText(by, true), 64)))
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
		b.refuseButton(ctx, q.ID, tr(lang, "cb_expired"))
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
	// The decided user's buttons leave the notice, so nobody presses them
	// again, and the verdict is added under it; the others stay.
	b.edit(ctx, msg.Chat.ID, msg.ID, escapeTG(msg.Text)+"\n"+approvalText(lang, u)+" — "+verdict, withoutUser(msg.ReplyMarkup, id))
}

// withoutUser is a notice's keyboard without the rows about one user; nil
// when no row is left.
func withoutUser(kb *models.InlineKeyboardMarkup, id int64) *models.InlineKeyboardMarkup {
	if kb == nil {
		return nil
	}
	suffix := ":" + strconv.FormatInt(id, 10)
	out := &models.InlineKeyboardMarkup{}
	for _, row := range kb.InlineKeyboard {
		if !slices.ContainsFunc(row, func(b models.InlineKeyboardButton) bool { return strings.HasSuffix(b.CallbackData, suffix) }) {
			out.InlineKeyboard = append(out.InlineKeyboard, row)
		}
	}
	if len(out.InlineKeyboard) == 0 {
		return nil
	}
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
