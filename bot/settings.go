package bot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-telegram/bot/models"

	"dozor/storage"
)

// commonZones are the time zones /settings offers as buttons; any other
// IANA name works with /settings tz.
var commonZones = []string{"Europe/Moscow", "Europe/London", "UTC", "Asia/Shanghai"}

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
