package bot

import (
	"strings"
	"testing"
	"time"

	"dozor/storage"
)

func TestDigestCommand(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en", "vtb")
	h.store.PutTopic("vtb", "ВТБ", time.Now())

	m := h.ask(aliceID, aliceID, "/digest")
	mustContain(t, m.Plain, "Delivery: instant alerts", "Time zone: UTC")
	mustContain(t, strings.Join(buttonData(m), " "), "dg:digest:off", "dg:digest:daily", "dg:digest:weekly")

	cases := []struct {
		text  string
		want  []string
		every string
		at    storage.Clock
		day   time.Weekday
	}{
		{"/digest daily 08:30", []string{"daily digest at 08:30 (next: "}, storage.DigestDaily, "08:30", 0},
		{"/digest weekly fri 18:00", []string{"weekly digest on Fri at 18:00"}, storage.DigestWeekly, "18:00", time.Friday},
		{"/digest weekly пн 7:05", []string{"weekly digest on Mon at 07:05"}, storage.DigestWeekly, "07:05", time.Monday},
		{"/digest daily 25:00", []string{"Usage: /digest daily 09:00"}, storage.DigestWeekly, "07:05", time.Monday},
		{"/digest sometimes", []string{"Usage: /digest daily 09:00"}, storage.DigestWeekly, "07:05", time.Monday},
	}
	for _, c := range cases {
		mustContain(t, h.ask(aliceID, aliceID, c.text).Plain, c.want...)
		u := h.user(aliceID)
		if u.Mode != storage.ModeDigest || u.DigestEvery != c.every || u.DigestAt != c.at || time.Weekday(u.DigestDay) != c.day {
			t.Errorf("%s: stored %s %s at %s day %d", c.text, u.Mode, u.DigestEvery, u.DigestAt, u.DigestDay)
		}
		// The time chosen starts with its next occurrence, not one past.
		if _, due := u.DigestDue(time.Now()); due {
			t.Errorf("%s: a digest is due at once", c.text)
		}
	}

	// Stories held for the digest go out at once when the user switches
	// back to instant alerts.
	h.saveArticle("https://a.example/1", "ВТБ и Китай", "ВТБ.", "РБК", time.Now(), false, "vtb")
	h.fanOut()
	if held, _ := h.store.Held(aliceID); len(held) != 1 {
		t.Fatalf("%d stories held for the digest, want 1", len(held))
	}
	m = h.ask(aliceID, aliceID, "/digest off")
	mustContain(t, m.Plain, "Delivery: instant alerts")
	if held, _ := h.store.Held(aliceID); len(held) != 0 {
		t.Errorf("%d stories still held after /digest off", len(held))
	}
	if c := h.counts(); c.Outbox != 1 {
		t.Errorf("outbox %d after /digest off, want the held story", c.Outbox)
	}

	// Buttons redraw the /digest message.
	m = h.ask(aliceID, aliceID, "/digest")
	h.press(aliceID, aliceID, m, "dg:digest:daily")
	m = h.message(aliceID, m.ID)
	mustContain(t, m.Plain, "daily digest at 07:05") // the time chosen before stays
	h.press(aliceID, aliceID, m, "dg:at:07:00")
	h.press(aliceID, aliceID, h.message(aliceID, m.ID), "dg:notes:on")
	m = h.message(aliceID, m.ID)
	mustContain(t, m.Plain, "daily digest at 07:00", `"Nothing new" notes: on`)
	if u := h.user(aliceID); u.DigestAt != "07:00" || !u.DigestNotes {
		t.Errorf("buttons stored %s notes %v", u.DigestAt, u.DigestNotes)
	}
}

func TestQuietCommand(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "ru")
	mustContain(t, h.ask(aliceID, aliceID, "/quiet").Plain, "Тихие часы: нет")
	mustContain(t, h.ask(aliceID, aliceID, "/quiet 22:00-08:00").Plain, "Тихие часы: 22:00–08:00")
	if u := h.user(aliceID); u.QuietFrom != "22:00" || u.QuietTo != "08:00" {
		t.Errorf("stored %s–%s", u.QuietFrom, u.QuietTo)
	}
	for _, bad := range []string{"/quiet 22-8", "/quiet 22:00", "/quiet 10:00-10:00", "/quiet ночью"} {
		mustContain(t, h.ask(aliceID, aliceID, bad).Plain, "Использование")
	}
	mustContain(t, h.ask(aliceID, aliceID, "/settings").Plain, "Тихие часы: 22:00–08:00")
	mustContain(t, h.ask(aliceID, aliceID, "/quiet off").Plain, "Тихие часы: нет")
	if u := h.user(aliceID); u.QuietFrom != "" {
		t.Errorf("quiet hours not switched off: %s", u.QuietFrom)
	}
}

func TestMuteCommands(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en", "vtb", "ai")
	now := time.Now()
	h.store.PutTopic("vtb", "ВТБ", now)
	h.store.PutTopic("ai", "ИИ", now)
	h.store.PutTopic("sport", "спорт", now)

	mustContain(t, h.ask(aliceID, aliceID, "/muted").Plain, "No muted topics")
	mustContain(t, h.ask(aliceID, aliceID, "/mute vtb 2d").Plain, "Muted vtb until")
	mustContain(t, h.ask(aliceID, aliceID, "/mute AI forever").Plain, "Muted ai for ever")
	mustContain(t, h.ask(aliceID, aliceID, "/mute sport 1d").Plain, "don't follow sport")
	mustContain(t, h.ask(aliceID, aliceID, "/mute vtb soon").Plain, "Usage: /mute name duration")
	u := h.user(aliceID)
	if !u.Muted("vtb", now.Add(47*time.Hour)) || u.Muted("vtb", now.Add(49*time.Hour)) || !u.Muted("ai", now.Add(1000*24*time.Hour)) {
		t.Errorf("mutes stored: %v", u.Mutes)
	}

	list := h.ask(aliceID, aliceID, "/muted")
	mustContain(t, list.Plain, "Muted topics", "ai — for ever", "vtb — until")
	h.press(aliceID, aliceID, list, "um:vtb")
	list = h.message(aliceID, list.ID)
	if strings.Contains(list.Plain, "vtb") || !strings.Contains(list.Plain, "ai") {
		t.Errorf("after unmuting vtb the list reads %q", list.Plain)
	}
	if u := h.user(aliceID); u.Muted("vtb", time.Now()) || !u.Subscribed("vtb") {
		t.Errorf("vtb after unmute: mutes %v, topics %v", u.Mutes, u.Topics)
	}
}

func TestParseMute(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"1d": 24 * time.Hour, "2w": 14 * 24 * time.Hour, "12h": 12 * time.Hour, "30m": 30 * time.Minute,
		"3д": 72 * time.Hour, "1н": 7 * 24 * time.Hour, "90m": 90 * time.Minute, "forever": 0, "навсегда": 0,
		"99999w": muteMax,
	} {
		if got, ok := parseMute(in); !ok || got != want {
			t.Errorf("parseMute(%q) = %v %v, want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "0d", "-1d", "soon", "1y", "d"} {
		if _, ok := parseMute(bad); ok {
			t.Errorf("parseMute(%q) accepted", bad)
		}
	}
}
