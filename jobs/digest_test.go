package jobs_test

import (
	"strings"
	"testing"
	"time"

	"dozor/jobs"
	"dozor/storage"
)

// Set moves the clock so that it reads t now.
func (c *dlvClock) Set(t time.Time) { c.off.Store(int64(time.Until(t))) }

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// setUser changes a subscriber the way the bot's settings do.
func (e *dlvEnv) setUser(id int64, fn func(*storage.User)) {
	e.t.Helper()
	if _, err := e.store.UpdateUser(id, fn); err != nil {
		e.t.Fatal(err)
	}
}

// fannedOut takes a new article through the real fan-out stage at the
// env's clock, which holds it for a digest reader or skips a mute.
func (e *dlvEnv) fannedOut(title string) uint64 {
	e.t.Helper()
	a := e.summarised(title, e.clock.Now())
	if n, err := (&jobs.Fanout{Store: e.store, Now: e.clock.Now}).Step(); err != nil || n != 1 {
		e.t.Fatalf("fan out: %d alerts, %v", n, err)
	}
	return a.StoryID
}

func (e *dlvEnv) held(id int64) int {
	e.t.Helper()
	h, err := e.store.Held(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(h)
}

func TestDigestSendsHeldStoriesOnce(t *testing.T) {
	e := newDlvEnv(t)
	msk := mustZone(t, "Europe/Moscow")
	e.user(1, 1, true)
	e.setUser(1, func(u *storage.User) {
		u.Mode, u.DigestEvery, u.DigestAt = storage.ModeDigest, storage.DigestDaily, "09:00"
		u.DigestLast = time.Date(2026, 11, 30, 9, 0, 0, 0, msk)
	})
	e.clock.Set(time.Date(2026, 12, 1, 7, 0, 0, 0, msk))
	d := e.deliverer(e.api)
	e.run(d)
	digests := &jobs.Digests{Store: e.store, Next: d.Wake, Now: e.clock.Now}

	for _, title := range []string{"ВТБ и Китай: первое", "ВТБ и Китай: второе", "ВТБ и Китай: третье"} {
		e.fannedOut(title)
		e.clock.Set(e.clock.Now().Add(10 * time.Minute))
	}
	if n := e.held(1); n != 3 {
		t.Fatalf("%d stories held for the digest, want 3", n)
	}
	if n, err := digests.Step(); err != nil || n != 0 {
		t.Fatalf("before 09:00 the digest queued %d (%v)", n, err)
	}

	e.clock.Set(time.Date(2026, 12, 1, 9, 0, 30, 0, msk))
	if n, err := digests.Step(); err != nil || n != 3 {
		t.Fatalf("at 09:00 the digest queued %d stories (%v), want 3", n, err)
	}
	m := e.messages(1, 1)[0]
	e.waitEmpty()
	if !strings.HasPrefix(m.Plain, "🗓 Дайджест за вт, 1 декабря: сюжетов 3\n\nvtb-china\n• ВТБ и Китай: третье — RBC. Банк расширяет присутствие в Китае.") {
		t.Errorf("digest does not start with its heading, topic and newest story:\n%s", m.Plain)
	}
	if i, j, k := strings.Index(m.Plain, "третье"), strings.Index(m.Plain, "второе"), strings.Index(m.Plain, "первое"); !(i < j && j < k) {
		t.Errorf("stories not newest first:\n%s", m.Plain)
	}
	if m.DisableNotification {
		t.Error("a digest outside quiet hours is silent")
	}

	// Neither a second look nor a restart sends it again.
	if n, _ := digests.Step(); n != 0 {
		t.Errorf("the same digest queued %d again", n)
	}
	e.clock.Set(time.Date(2026, 12, 2, 9, 5, 0, 0, msk))
	if n, _ := digests.Step(); n != 0 {
		t.Errorf("an empty day without notes queued %d", n)
	}
	e.setUser(1, func(u *storage.User) { u.DigestNotes = true })
	e.clock.Set(time.Date(2026, 12, 3, 9, 1, 0, 0, msk))
	if n, _ := digests.Step(); n != 1 {
		t.Errorf("an empty day with notes queued %d, want the note", n)
	}
	note := e.messages(1, 2)[1]
	if !strings.Contains(note.Plain, "ничего нового") {
		t.Errorf("note: %q", note.Plain)
	}
	// A story alerted instantly is not repeated in a digest.
	if got := len(e.fake.Messages(1)); got != 2 {
		t.Errorf("%d messages, want 2", got)
	}
}

func TestDigestMissedWhileDownIsSentOnce(t *testing.T) {
	e := newDlvEnv(t)
	e.user(1, 1, true)
	berlin := mustZone(t, "Europe/Berlin")
	e.setUser(1, func(u *storage.User) {
		u.TZ = "Europe/Berlin"
		u.Mode, u.DigestEvery, u.DigestAt = storage.ModeDigest, storage.DigestDaily, "08:00"
		u.DigestLast = time.Date(2026, 12, 1, 8, 0, 0, 0, berlin)
	})
	e.clock.Set(time.Date(2026, 12, 1, 12, 0, 0, 0, berlin))
	e.fannedOut("ВТБ и Китай: пока dozor лежал")
	// Down from the 1st to the 4th, three digests late.
	e.store.Close()
	e.open(storage.Options{})
	e.clock.Set(time.Date(2026, 12, 4, 10, 0, 0, 0, berlin))
	d := e.deliverer(e.api)
	e.run(d)
	digests := &jobs.Digests{Store: e.store, Next: d.Wake, Now: e.clock.Now}
	if n, err := digests.Step(); err != nil || n != 1 {
		t.Fatalf("after the restart %d queued (%v), want the one story once", n, err)
	}
	e.messages(1, 1)
	e.waitEmpty()
	for range 3 {
		if n, _ := digests.Step(); n != 0 {
			t.Fatalf("missed digests queued again: %d", n)
		}
	}
	if u, _ := e.store.User(1); !u.DigestLast.Equal(time.Date(2026, 12, 4, 8, 0, 0, 0, berlin)) {
		t.Errorf("last digest %v, want the 4th at 08:00", u.DigestLast)
	}
}

// Digests across both DST changes of 2027 in Berlin, looked at every ten
// minutes: one a day, none skipped or doubled, even at a time the change
// skips (02:30 on 28 March) or repeats (02:30 on 31 October).
func TestDigestAcrossDST(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	for _, tc := range []struct {
		name     string
		from, to time.Time
	}{
		{"spring forward", time.Date(2027, 3, 26, 12, 0, 0, 0, berlin), time.Date(2027, 3, 30, 12, 0, 0, 0, berlin)},
		{"fall back", time.Date(2027, 10, 29, 12, 0, 0, 0, berlin), time.Date(2027, 11, 2, 12, 0, 0, 0, berlin)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newDlvEnv(t)
			e.user(1, 1, true)
			e.setUser(1, func(u *storage.User) {
				u.TZ = "Europe/Berlin"
				u.Mode, u.DigestEvery, u.DigestAt, u.DigestNotes = storage.ModeDigest, storage.DigestDaily, "02:30", true
				u.DigestLast = tc.from
			})
			var now time.Time
			digests := &jobs.Digests{Store: e.store, Now: func() time.Time { return now }}
			var sent []string
			for now = tc.from; now.Before(tc.to); now = now.Add(10 * time.Minute) {
				n, err := digests.Step()
				if err != nil {
					t.Fatal(err)
				}
				if n > 0 {
					sent = append(sent, now.In(berlin).Format("Jan 2 15:04 MST"))
				}
			}
			if len(sent) != 4 {
				t.Errorf("digests at %q, want one on each of 4 days", sent)
			}
		})
	}
}

func TestQuietHoursHoldAlertsUntilTheyEnd(t *testing.T) {
	e := newDlvEnv(t)
	msk := mustZone(t, "Europe/Moscow")
	e.user(1, 1, true)
	e.setUser(1, func(u *storage.User) { u.QuietFrom, u.QuietTo = "22:00", "08:00" })
	e.clock.Set(time.Date(2026, 12, 1, 23, 0, 0, 0, msk))
	d := e.deliverer(e.api)
	e.run(d)
	for _, title := range []string{"ВТБ ночью: один", "ВТБ ночью: два", "ВТБ ночью: три", "ВТБ ночью: четыре", "ВТБ ночью: пять", "ВТБ ночью: шесть", "ВТБ ночью: семь"} {
		e.fannedOut(title)
		d.Wake.Notify()
	}
	// The deliverer saw them and put them off until 08:00.
	e.waitFor("alerts put off to the end of quiet hours", func() bool {
		msgs, err := e.store.Outbox(time.Date(2026, 12, 2, 7, 59, 0, 0, msk), 0)
		return err == nil && len(msgs) == 0 && e.outboxLen() == 7
	})
	if n := len(e.fake.Messages(1)); n != 0 {
		t.Fatalf("%d alerts sent in quiet hours", n)
	}
	e.clock.Set(time.Date(2026, 12, 2, 8, 0, 1, 0, msk))
	d.Wake.Notify()
	m := e.messages(1, 1)[0]
	e.waitEmpty()
	if n := len(e.fake.Messages(1)); n != 1 {
		t.Errorf("the night's alerts came as %d messages, want one", n)
	}
	for _, w := range []string{"один", "семь"} {
		if !strings.Contains(m.Plain, w) {
			t.Errorf("grouped message lacks %q:\n%s", w, m.Plain)
		}
	}
}

func TestDigestInQuietHoursIsSilent(t *testing.T) {
	e := newDlvEnv(t)
	msk := mustZone(t, "Europe/Moscow")
	e.user(1, 1, true)
	e.setUser(1, func(u *storage.User) {
		u.Mode, u.DigestEvery, u.DigestAt = storage.ModeDigest, storage.DigestDaily, "23:00"
		u.QuietFrom, u.QuietTo = "22:00", "08:00"
		u.DigestLast = time.Date(2026, 11, 30, 23, 0, 0, 0, msk)
	})
	e.clock.Set(time.Date(2026, 12, 1, 20, 0, 0, 0, msk))
	e.fannedOut("ВТБ вечером")
	d := e.deliverer(e.api)
	e.run(d)
	e.clock.Set(time.Date(2026, 12, 1, 23, 0, 5, 0, msk))
	if n, err := (&jobs.Digests{Store: e.store, Next: d.Wake, Now: e.clock.Now}).Step(); err != nil || n != 1 {
		t.Fatalf("digest queued %d (%v)", n, err)
	}
	m := e.messages(1, 1)[0]
	if !m.DisableNotification {
		t.Error("a digest sent in quiet hours makes a sound")
	}
}

func TestMutesSilenceATopicUntilTheyExpire(t *testing.T) {
	e := newDlvEnv(t)
	e.user(1, 1, true)
	e.user(2, 2, true)
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	e.clock.Set(start)
	// A message queued before the mute is dropped when it comes to be sent.
	e.fannedOut("ВТБ: до заглушения")
	e.setUser(1, func(u *storage.User) { u.Mutes = map[string]time.Time{dlvTopic: start.Add(24 * time.Hour)} })
	e.setUser(2, func(u *storage.User) {
		u.Mode, u.DigestAt = storage.ModeDigest, "09:00"
		u.DigestLast = start
		u.Mutes = map[string]time.Time{dlvTopic: {}} // for ever
	})
	d := e.deliverer(e.api)
	e.run(d)
	e.waitEmpty()
	e.fannedOut("ВТБ: пока заглушено")
	if n := e.outboxLen(); n != 0 {
		t.Errorf("%d alerts queued on a muted topic", n)
	}
	if n := e.held(2); n != 0 {
		t.Errorf("%d stories held for a digest on a topic muted for ever", n)
	}
	e.clock.Set(start.Add(25 * time.Hour))
	e.fannedOut("ВТБ: после заглушения")
	d.Wake.Notify()
	m := e.messages(1, 1)[0]
	if !strings.Contains(m.Plain, "после заглушения") {
		t.Errorf("after the mute expired got %q", m.Plain)
	}
	if n, _ := (&jobs.Digests{Store: e.store, Now: e.clock.Now}).Step(); n != 0 {
		t.Errorf("the muted digest reader got %d stories", n)
	}
	e.waitEmpty()
	if n := len(e.fake.Messages(1)); n != 1 {
		t.Errorf("user 1 got %d messages, want only the one after the mute", n)
	}
}
