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
		b.send(ctx, r.chatID, settingsText(r.user, b.now()), settingsKeyboard(r.user))
		return
	}
	fields := strings.Fields(r.args)
	if len(fields) < 2 {
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, "settings_usage"))
		return
	}
	key := strings.ToLower(fields[0])
	pairs := [][2]string{{key, strings.Join(fields[1:], " ")}}
	if key == "digest" {
		var ok bool
		if pairs, ok = digestSettings(strings.Join(fields[1:], " ")); !ok {
			quiet(ctx)
			b.reply(ctx, r.chatID, tr(r.lang, "digest_usage"))
			return
		}
	}
	u, note, ok := b.applySettings(r.user, pairs)
	if !ok {
		quiet(ctx)
		b.reply(ctx, r.chatID, note)
		return
	}
	if note != "" {
		b.reply(ctx, r.chatID, escapeTG(note))
	}
	b.send(ctx, r.chatID, settingsText(u, b.now()), settingsKeyboard(u))
}

// applySettings stores settings, each a key and a value, in one update.
// It returns the updated user and a plain-text note to show; ok is false
// when a value was refused, and the note is then an HTML error message.
func (b *Bot) applySettings(u storage.User, pairs [][2]string) (storage.User, string, bool) {
	lang := normLang(u.Lang)
	var apply []func(*storage.User)
	var notes []string
	schedule := false
	for _, kv := range pairs {
		key, value := kv[0], strings.TrimSpace(kv[1])
		switch key {
		case "lang", "language", "язык":
			l := strings.ToLower(value)
			if l != langRU && l != langEN {
				return u, tr(lang, "settings_usage"), false
			}
			apply = append(apply, func(x *storage.User) { x.Lang = l })
			notes = append(notes, tr(l, "lang_set"))
		case "tz", "timezone", "zone":
			name, err := checkZone(value)
			if err != nil {
				return u, tr(lang, "tz_bad", escapeTG(truncateUTF16(value, 64))), false
			}
			apply = append(apply, func(x *storage.User) { x.TZ = name })
			notes = append(notes, tr(lang, "tz_set", name))
			schedule = true // the digest's time is in the zone
		default:
			fn, ok := scheduleChange(key, strings.ToLower(value))
			if !ok {
				usage := "settings_usage"
				switch key {
				case "quiet":
					usage = "quiet_usage"
				case "digest", "at", "day", "notes", "mode":
					usage = "digest_usage"
				}
				return u, tr(lang, usage), false
			}
			apply = append(apply, fn)
			schedule = true
		}
	}
	now := b.now()
	nu, err := b.store.UpdateUser(u.ID, func(x *storage.User) {
		for _, fn := range apply {
			fn(x)
		}
		scheduled(x, now)
		x.Updated = now
	})
	if err != nil {
		b.log.Error("bot: update settings", "user_id", u.ID, "err", err)
		return u, tr(lang, "internal_error"), false
	}
	if u.Mode == storage.ModeDigest && nu.Mode != storage.ModeDigest {
		// Back to instant alerts: what waited for the digest goes now.
		if _, err := b.store.ReleaseHeld(nu.ID); err != nil {
			b.log.Error("bot: release held alerts", "user_id", nu.ID, "err", err)
		}
	}
	if schedule {
		notes = append(notes, describeChange(nu, normLang(nu.Lang), now))
	}
	return nu, strings.Join(notes, "\n"), true
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

func settingsText(u storage.User, now time.Time) string {
	lang := normLang(u.Lang)
	return tr(lang, "settings", tr(lang, "lang_name"), deliveryLine(u, lang, now), escapeTG(u.Location().String()), quietLine(u, lang))
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
	rows := [][]models.InlineKeyboardButton{
		{btn(mark(lang == langRU, "Русский"), "set:lang:ru"), btn(mark(lang == langEN, "English"), "set:lang:en")},
	}
	rows = append(rows, digestRows(u, "set")...)
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
