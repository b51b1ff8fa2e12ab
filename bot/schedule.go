package bot

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot/models"

	"dozor/storage"
)

// How a subscriber gets the news: instant alerts or a digest (/digest),
// quiet hours (/quiet), and mutes (/mute, /muted, the 🔕 under an alert).
// The settings are stored with the user; the jobs stages act on them.

// digestTimes are the times /digest and /settings offer as buttons; any
// other is typed: /digest daily 08:30.
var digestTimes = []storage.Clock{"07:00", "08:00", "09:00", "12:00", "18:00"}

// muteChoices are the durations the 🔕 button offers; 0 is for ever.
var muteChoices = []struct {
	data string
	d    time.Duration
}{{"m1d", 24 * time.Hour}, {"m1w", 7 * 24 * time.Hour}, {"m0", 0}}

// muteMax is the longest timed mute; longer is for ever.
const muteMax = 10 * 365 * 24 * time.Hour

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "sunday": time.Sunday, "вс": time.Sunday, "воскресенье": time.Sunday,
	"mon": time.Monday, "monday": time.Monday, "пн": time.Monday, "понедельник": time.Monday,
	"tue": time.Tuesday, "tuesday": time.Tuesday, "вт": time.Tuesday, "вторник": time.Tuesday,
	"wed": time.Wednesday, "wednesday": time.Wednesday, "ср": time.Wednesday, "среда": time.Wednesday,
	"thu": time.Thursday, "thursday": time.Thursday, "чт": time.Thursday, "четверг": time.Thursday,
	"fri": time.Friday, "friday": time.Friday, "пт": time.Friday, "пятница": time.Friday,
	"sat": time.Saturday, "saturday": time.Saturday, "сб": time.Saturday, "суббота": time.Saturday,
}

// weekdayName is a weekday as buttons and texts show it.
func weekdayName(d time.Weekday, lang string) string {
	if lang == langRU {
		return ruWeekdayAbbr[d]
	}
	return d.String()[:3]
}

// digestSettings turns /digest's words into settings applySettings takes:
// "daily 09:00", "weekly mon 09:00", "off", "notes on".
func digestSettings(args string) ([][2]string, bool) {
	f := strings.Fields(strings.ToLower(args))
	if len(f) == 0 {
		return nil, false
	}
	var out [][2]string
	switch f[0] {
	case "off", "instant", "выкл", "сразу":
		return [][2]string{{"digest", "off"}}, len(f) == 1
	case "notes", "заметки":
		return [][2]string{{"notes", strings.Join(f[1:], " ")}}, len(f) == 2
	case "daily", "ежедневно", "weekly", "еженедельно":
		out = append(out, [2]string{"digest", f[0]})
	default:
		return nil, false
	}
	for _, w := range f[1:] {
		if _, ok := weekdays[w]; ok && (f[0] == "weekly" || f[0] == "еженедельно") {
			out = append(out, [2]string{"day", w})
			continue
		}
		out = append(out, [2]string{"at", w})
	}
	return out, true
}

// scheduleChange is one setting of the schedule family; ok false means
// the value was refused.
func scheduleChange(key, value string) (func(*storage.User), bool) {
	switch key {
	case "mode", "digest":
		switch value {
		case "off", "instant":
			return func(u *storage.User) { u.Mode = storage.ModeInstant }, true
		case "digest", "daily", "ежедневно":
			return func(u *storage.User) { u.Mode, u.DigestEvery = storage.ModeDigest, storage.DigestDaily }, true
		case "weekly", "еженедельно":
			return func(u *storage.User) {
				if u.DigestEvery != storage.DigestWeekly {
					u.DigestDay = int(time.Monday)
				}
				u.Mode, u.DigestEvery = storage.ModeDigest, storage.DigestWeekly
			}, true
		}
	case "at":
		c, err := storage.ParseClock(value)
		if err != nil {
			return nil, false
		}
		return func(u *storage.User) {
			u.DigestAt = c
			if u.Mode != storage.ModeDigest {
				u.Mode, u.DigestEvery = storage.ModeDigest, storage.DigestDaily
			}
		}, true
	case "day":
		d, ok := weekdays[strings.ToLower(value)]
		if n, err := strconv.Atoi(value); err == nil && n >= 0 && n <= 6 {
			d, ok = time.Weekday(n), true
		}
		if !ok {
			return nil, false
		}
		return func(u *storage.User) {
			u.Mode, u.DigestEvery, u.DigestDay = storage.ModeDigest, storage.DigestWeekly, int(d)
		}, true
	case "notes":
		switch value {
		case "on", "вкл":
			return func(u *storage.User) { u.DigestNotes = true }, true
		case "off", "выкл":
			return func(u *storage.User) { u.DigestNotes = false }, true
		}
	case "quiet":
		if value == "off" || value == "выкл" {
			return func(u *storage.User) { u.QuietFrom, u.QuietTo = "", "" }, true
		}
		from, to, ok := strings.Cut(strings.NewReplacer("–", "-", "—", "-").Replace(value), "-")
		cf, err1 := storage.ParseClock(from)
		ct, err2 := storage.ParseClock(to)
		if !ok || err1 != nil || err2 != nil || cf == ct {
			return nil, false
		}
		return func(u *storage.User) { u.QuietFrom, u.QuietTo = cf, ct }, true
	}
	return nil, false
}

// scheduled finishes a change of delivery: a digest starts with the next
// due time, not with one that passed before it was chosen.
func scheduled(u *storage.User, now time.Time) {
	if last := u.LastDigest(now); last.After(u.DigestLast) {
		u.DigestLast = last
	}
}

// deliveryLine describes how the user gets the news: "daily digest at
// 09:00" and when the next one comes.
func deliveryLine(u storage.User, lang string, now time.Time) string {
	if u.Mode != storage.ModeDigest {
		return tr(lang, "mode_instant")
	}
	at := string(u.DigestClock())
	var s string
	if u.DigestEvery == storage.DigestWeekly {
		s = tr(lang, "mode_weekly", weekdayName(time.Weekday(u.DigestDay), lang), at)
	} else {
		s = tr(lang, "mode_daily", at)
	}
	if next := u.NextDigest(now); !next.IsZero() {
		s += tr(lang, "digest_next", formatWhen(next, lang, u.Location()))
	}
	return s
}

func quietLine(u storage.User, lang string) string {
	if u.QuietFrom == "" || u.QuietTo == "" {
		return tr(lang, "quiet_none")
	}
	return string(u.QuietFrom) + "–" + string(u.QuietTo)
}

func (b *Bot) cmdDigest(ctx context.Context, r *cmdReq) {
	if r.args == "" {
		b.send(ctx, r.chatID, digestText(r.user, b.now()), digestKeyboard(r.user, "dg"))
		return
	}
	pairs, ok := digestSettings(r.args)
	if !ok {
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, "digest_usage"))
		return
	}
	u, note, ok := b.applySettings(r.user, pairs)
	if !ok {
		quiet(ctx)
		b.reply(ctx, r.chatID, note)
		return
	}
	b.send(ctx, r.chatID, digestText(u, b.now()), digestKeyboard(u, "dg"))
}

func digestText(u storage.User, now time.Time) string {
	lang := normLang(u.Lang)
	notes := tr(lang, "off")
	if u.DigestNotes {
		notes = tr(lang, "on")
	}
	return tr(lang, "digest_view", deliveryLine(u, lang, now), escapeTG(u.Location().String()), notes, quietLine(u, lang))
}

// digestRows are the delivery buttons, as /digest and /settings show
// them; prefix names the message they redraw.
func digestRows(u storage.User, prefix string) [][]models.InlineKeyboardButton {
	lang := normLang(u.Lang)
	btn := func(on bool, label, data string) models.InlineKeyboardButton {
		if on {
			label = "• " + label + " •"
		}
		return models.InlineKeyboardButton{Text: label, CallbackData: prefix + ":" + data}
	}
	digest := u.Mode == storage.ModeDigest
	weekly := digest && u.DigestEvery == storage.DigestWeekly
	rows := [][]models.InlineKeyboardButton{{
		btn(!digest, tr(lang, "btn_instant"), "digest:off"),
		btn(digest && !weekly, tr(lang, "btn_daily"), "digest:daily"),
		btn(weekly, tr(lang, "btn_weekly"), "digest:weekly"),
	}}
	if !digest {
		return rows
	}
	var times []models.InlineKeyboardButton
	at := u.DigestClock()
	for _, c := range digestTimes {
		times = append(times, btn(at == c, string(c), "at:"+string(c)))
	}
	rows = append(rows, times)
	if weekly {
		var days []models.InlineKeyboardButton
		for d := time.Monday; d <= time.Saturday+1; d++ {
			wd := d % 7
			days = append(days, btn(time.Weekday(u.DigestDay) == wd, weekdayName(wd, lang), "day:"+strconv.Itoa(int(wd))))
		}
		rows = append(rows, days)
	}
	notes := "notes:on"
	if u.DigestNotes {
		notes = "notes:off"
	}
	rows = append(rows, []models.InlineKeyboardButton{btn(u.DigestNotes, tr(lang, "btn_notes"), notes)})
	return rows
}

func digestKeyboard(u storage.User, prefix string) *models.InlineKeyboardMarkup {
	return &models.InlineKeyboardMarkup{InlineKeyboard: digestRows(u, prefix)}
}

func (b *Bot) cmdQuiet(ctx context.Context, r *cmdReq) {
	if r.args == "" {
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, "quiet_view", quietLine(r.user, r.lang)))
		return
	}
	u, _, ok := b.applySettings(r.user, [][2]string{{"quiet", strings.ToLower(oneLine(r.args))}})
	if !ok {
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, "quiet_usage"))
		return
	}
	b.reply(ctx, r.chatID, tr(r.lang, "quiet_view", quietLine(u, r.lang)))
}

// mutePattern is a typed duration: 30m, 12h, 3d, 2w (or м, ч, д, н).
var mutePattern = regexp.MustCompile(`^(\d{1,5})\s*(m|min|h|d|w|м|мин|ч|д|н)$`)

// parseMute reads a mute's duration; 0 is for ever.
func parseMute(s string) (time.Duration, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "forever", "for ever", "ever", "навсегда", "∞":
		return 0, true
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return min(d, muteMax), true
	}
	m := mutePattern.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"m": time.Minute, "min": time.Minute, "м": time.Minute, "мин": time.Minute,
		"h": time.Hour, "ч": time.Hour, "d": 24 * time.Hour, "д": 24 * time.Hour, "w": 7 * 24 * time.Hour, "н": 7 * 24 * time.Hour}[m[2]]
	if n == 0 {
		return 0, false
	}
	return min(time.Duration(n)*unit, muteMax), true
}

func (b *Bot) cmdMute(ctx context.Context, r *cmdReq) {
	f := strings.Fields(r.args)
	if len(f) < 1 {
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, "mute_usage"))
		return
	}
	name, dur := f[0], "forever"
	if len(f) > 1 {
		dur = strings.Join(f[1:], " ")
	}
	d, ok := parseMute(dur)
	if !ok {
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, "mute_usage"))
		return
	}
	topic, _, err := b.findTopic(name)
	if err != nil {
		b.log.Error("bot: find topic", "err", err)
		b.reply(ctx, r.chatID, tr(r.lang, "internal_error"))
		return
	}
	if topic == "" || !r.user.Subscribed(topic) {
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, "cb_not_subscribed", escapeTG(truncateUTF16(name, 64))))
		return
	}
	u, err := b.mute(r.user, topic, d)
	if err != nil {
		b.reply(ctx, r.chatID, tr(r.lang, "internal_error"))
		return
	}
	b.reply(ctx, r.chatID, escapeTG(muteNote(u, topic, r.lang)))
}

// mute silences a topic for d (0: for ever) and drops expired mutes.
func (b *Bot) mute(u storage.User, topic string, d time.Duration) (storage.User, error) {
	now := b.now()
	nu, err := b.store.UpdateUser(u.ID, func(x *storage.User) {
		pruneMutes(x, now)
		if x.Mutes == nil {
			x.Mutes = map[string]time.Time{}
		}
		until := time.Time{}
		if d > 0 {
			until = now.Add(d)
		}
		x.Mutes[topic] = until
		x.Updated = now
	})
	if err != nil {
		b.log.Error("bot: mute topic", "user_id", u.ID, "err", err)
	}
	return nu, err
}

func pruneMutes(u *storage.User, now time.Time) {
	maps.DeleteFunc(u.Mutes, func(t string, until time.Time) bool { return !u.Muted(t, now) })
}

// muteNote is "Muted vtb until 8 Dec 14:05 MSK" or "… for ever".
func muteNote(u storage.User, topic, lang string) string {
	until := u.Mutes[topic]
	if until.IsZero() {
		return tr(lang, "muted_forever", topic)
	}
	return tr(lang, "muted_until", topic, formatWhen(until, lang, u.Location()))
}

func (b *Bot) cmdMuted(ctx context.Context, r *cmdReq) {
	quiet(ctx)
	text, kb := mutedView(r.user, r.lang, b.now())
	b.send(ctx, r.chatID, text, kb)
}

// mutedView lists the mutes in force, each with an unmute button.
func mutedView(u storage.User, lang string, now time.Time) (string, *models.InlineKeyboardMarkup) {
	var names []string
	for t := range u.Mutes {
		if u.Muted(t, now) {
			names = append(names, t)
		}
	}
	if len(names) == 0 {
		return tr(lang, "muted_none"), nil
	}
	slices.Sort(names)
	blocks := []string{tr(lang, "muted_header")}
	var rows [][]models.InlineKeyboardButton
	for i, t := range names {
		until := tr(lang, "forever")
		if at := u.Mutes[t]; !at.IsZero() {
			until = tr(lang, "until", formatWhen(at, lang, u.Location()))
		}
		blocks = append(blocks, "• "+escapeTG(truncateUTF16(t, 64))+" — "+until)
		if i < maxKeyboardRows {
			rows = append(rows, []models.InlineKeyboardButton{{Text: "🔔 " + tr(lang, "btn_unmute") + " " + truncateUTF16(t, 40), CallbackData: topicData("um", t)}})
		}
	}
	text := packBlocks(blocks, "\n", tgTextLimit)[0]
	return text, &models.InlineKeyboardMarkup{InlineKeyboard: rows}
}

// maxKeyboardRows bounds a keyboard of one button a row.
const maxKeyboardRows = 50

// onMuteMenu is 🔕 under an alert: its row turns into the choice of how
// long to mute the topic.
func (b *Bot) onMuteMenu(ctx context.Context, q *models.CallbackQuery, msg *models.Message, user storage.User, sep byte, arg string) {
	lang := normLang(user.Lang)
	name, _ := b.topicFromData(sep, arg)
	if name == "" || !user.Subscribed(name) {
		quiet(ctx)
		b.answer(ctx, q.ID, tr(lang, "cb_not_subscribed", name))
		return
	}
	if msg == nil || msg.ReplyMarkup == nil {
		b.refuseButton(ctx, q.ID, tr(lang, "cb_expired"))
		return
	}
	var choice []models.InlineKeyboardButton
	labels := []string{tr(lang, "btn_1d"), tr(lang, "btn_1w"), tr(lang, "btn_forever")}
	for i, c := range muteChoices {
		choice = append(choice, models.InlineKeyboardButton{Text: "🔕 " + labels[i], CallbackData: topicData(c.data, name)})
	}
	b.answer(ctx, q.ID, tr(lang, "mute_how_long", name))
	b.editButtons(ctx, msg.Chat.ID, msg.ID, replaceRow(msg.ReplyMarkup, q.Data, choice))
}

// onMuteFor is one of the durations 🔕 offers.
func (b *Bot) onMuteFor(ctx context.Context, q *models.CallbackQuery, msg *models.Message, user storage.User, kind string, sep byte, arg string) {
	lang := normLang(user.Lang)
	name, _ := b.topicFromData(sep, arg)
	if name == "" || !user.Subscribed(name) {
		quiet(ctx)
		b.answer(ctx, q.ID, tr(lang, "cb_not_subscribed", name))
		return
	}
	i := slices.IndexFunc(muteChoices, func(c struct {
		data string
		d    time.Duration
	}) bool {
		return c.data == kind
	})
	u, err := b.mute(user, name, muteChoices[i].d)
	if err != nil {
		b.answer(ctx, q.ID, tr(lang, "internal_error"))
		return
	}
	b.answer(ctx, q.ID, muteNote(u, name, lang))
	if msg != nil && msg.ReplyMarkup != nil {
		back := []models.InlineKeyboardButton{muteButton(name, lang)}
		b.editButtons(ctx, msg.Chat.ID, msg.ID, replaceRow(msg.ReplyMarkup, q.Data, back))
	}
}

// onUnmute is 🔔 under /muted: the mute ends and the list is redrawn.
func (b *Bot) onUnmute(ctx context.Context, q *models.CallbackQuery, msg *models.Message, user storage.User, sep byte, arg string) {
	lang := normLang(user.Lang)
	name, _ := b.topicFromData(sep, arg)
	if name == "" {
		for t := range user.Mutes { // a topic removed since: match by hash
			if topicHash(t) == arg {
				name = t
			}
		}
	}
	now := b.now()
	u, err := b.store.UpdateUser(user.ID, func(x *storage.User) {
		delete(x.Mutes, name)
		pruneMutes(x, now)
		x.Updated = now
	})
	if err != nil {
		b.log.Error("bot: unmute", "user_id", user.ID, "err", err)
		b.answer(ctx, q.ID, tr(lang, "internal_error"))
		return
	}
	b.answer(ctx, q.ID, tr(lang, "unmuted", name))
	if msg != nil {
		text, kb := mutedView(u, lang, now)
		b.edit(ctx, msg.Chat.ID, msg.ID, text, kb)
	}
}

// muteButton is the 🔕 of one topic under an alert.
func muteButton(topic, lang string) models.InlineKeyboardButton {
	return models.InlineKeyboardButton{Text: "🔕 " + wording(lang, "Mute", "Заглушить") + " " + topic, CallbackData: topicData("mute", topic)}
}

// replaceRow is kb with the row holding the button data replaced by row.
func replaceRow(kb *models.InlineKeyboardMarkup, data string, row []models.InlineKeyboardButton) *models.InlineKeyboardMarkup {
	out := &models.InlineKeyboardMarkup{}
	for _, r := range kb.InlineKeyboard {
		if slices.ContainsFunc(r, func(b models.InlineKeyboardButton) bool { return b.CallbackData == data }) {
			out.InlineKeyboard = append(out.InlineKeyboard, row)
			continue
		}
		out.InlineKeyboard = append(out.InlineKeyboard, r)
	}
	return out
}

// describeChange is the note a change of delivery gets.
func describeChange(u storage.User, lang string, now time.Time) string {
	return fmt.Sprintf("%s: %s", tr(lang, "delivery"), stripTags(deliveryLine(u, lang, now)))
}
