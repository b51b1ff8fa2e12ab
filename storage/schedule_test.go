package storage

import (
	"testing"
	"time"
)

func at(t *testing.T, loc, s string) time.Time {
	t.Helper()
	l, err := time.LoadLocation(loc)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, l)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDigestScheduleAcrossZonesAndDST(t *testing.T) {
	for _, tc := range []struct {
		name      string
		u         User
		now, want string // in the user's zone; want "" means none due yet
	}{
		{"daily, today's time passed", User{Mode: ModeDigest, DigestEvery: DigestDaily, DigestAt: "09:00", TZ: "Europe/Moscow"}, "2026-12-01 10:00", "2026-12-01 09:00"},
		{"daily, before today's time", User{Mode: ModeDigest, DigestEvery: DigestDaily, DigestAt: "09:00", TZ: "Europe/Moscow"}, "2026-12-01 08:59", "2026-11-30 09:00"},
		{"weekly on Monday", User{Mode: ModeDigest, DigestEvery: DigestWeekly, DigestDay: int(time.Monday), DigestAt: "09:00", TZ: "Asia/Shanghai"}, "2026-12-03 12:00", "2026-11-30 09:00"},
		// London springs forward at 01:00 on 29 March 2026: 01:30 does not exist.
		{"spring forward skips no digest", User{Mode: ModeDigest, DigestEvery: DigestDaily, DigestAt: "01:30", TZ: "Europe/London"}, "2026-03-29 03:00", "2026-03-29 02:30"},
		// …and falls back at 02:00 on 25 October: 01:30 happens twice.
		{"fall back doubles no digest", User{Mode: ModeDigest, DigestEvery: DigestDaily, DigestAt: "01:30", TZ: "Europe/London"}, "2026-10-25 03:00", "2026-10-25 01:30"},
		{"instant mode", User{Mode: ModeInstant, DigestAt: "09:00"}, "2026-12-01 10:00", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := at(t, tc.u.TZ+map[bool]string{true: "UTC"}[tc.u.TZ == ""], tc.now)
			got := tc.u.LastDigest(now)
			if tc.want == "" {
				if !got.IsZero() {
					t.Fatalf("LastDigest = %v, want none", got)
				}
				return
			}
			want := at(t, tc.u.TZ, tc.want)
			if !got.Equal(want) {
				t.Fatalf("LastDigest(%v) = %v, want %v", now, got, want)
			}
			// Due once: after it was sent, not again until the next one.
			u := tc.u
			if _, due := u.DigestDue(now); !due {
				t.Fatal("not due")
			}
			u.DigestLast = got
			if _, due := u.DigestDue(now.Add(time.Second)); due {
				t.Fatal("due twice")
			}
			if next := u.NextDigest(now); !next.After(now) || next.Sub(got) > 8*24*time.Hour {
				t.Errorf("NextDigest = %v", next)
			}
		})
	}
	// Both fall-back hours of a day see one digest.
	u := User{Mode: ModeDigest, DigestEvery: DigestDaily, DigestAt: "01:30", TZ: "Europe/London"}
	first := at(t, "Europe/London", "2026-10-25 01:45") // the first 01:45 (BST)
	last, due := u.DigestDue(first)
	if !due {
		t.Fatal("not due at 01:45")
	}
	u.DigestLast = last
	if _, due := u.DigestDue(first.Add(time.Hour)); due { // the second 01:45 (GMT)
		t.Error("the repeated hour brought a second digest")
	}
}

func TestMissedDigestsAreOne(t *testing.T) {
	u := User{Mode: ModeDigest, DigestEvery: DigestDaily, DigestAt: "09:00", TZ: "UTC",
		DigestLast: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) // ten days down
	last, due := u.DigestDue(now)
	if !due || !last.Equal(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("due %v at %v", due, last)
	}
	u.DigestLast = last
	if _, due := u.DigestDue(now); due {
		t.Error("a second digest for the missed days")
	}
}

func TestQuietHours(t *testing.T) {
	u := User{TZ: "Europe/Moscow", QuietFrom: "22:00", QuietTo: "08:00"}
	for _, tc := range []struct {
		now   string
		quiet bool
		until string
	}{
		{"2026-12-01 23:00", true, "2026-12-02 08:00"},
		{"2026-12-02 07:59", true, "2026-12-02 08:00"},
		{"2026-12-02 08:00", false, ""},
		{"2026-12-01 21:59", false, ""},
		{"2026-12-01 22:00", true, "2026-12-02 08:00"},
	} {
		until, quiet := u.QuietUntil(at(t, "Europe/Moscow", tc.now))
		if quiet != tc.quiet || (quiet && !until.Equal(at(t, "Europe/Moscow", tc.until))) {
			t.Errorf("%s: quiet %v until %v", tc.now, quiet, until)
		}
	}
	day := User{TZ: "UTC", QuietFrom: "12:00", QuietTo: "14:00"}
	if _, q := day.QuietUntil(time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)); !q {
		t.Error("a daytime window")
	}
	if _, q := (&User{}).QuietUntil(time.Now()); q {
		t.Error("no window is quiet")
	}
}

func TestMutesExpire(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	u := User{Mutes: map[string]time.Time{"day": now.Add(24 * time.Hour), "ever": {}}}
	if !u.Muted("day", now) || !u.Muted("ever", now.Add(1000*time.Hour)) || u.Muted("other", now) {
		t.Error("mutes in force")
	}
	if u.Muted("day", now.Add(25*time.Hour)) {
		t.Error("a day's mute outlived the day")
	}
}

func TestParseClock(t *testing.T) {
	for in, want := range map[string]Clock{"9:00": "09:00", "09:05": "09:05", "2359": "23:59", "24:00": "", "9": "", "09:5": ""} {
		got, err := ParseClock(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("ParseClock(%q) = %q, %v", in, got, err)
		}
	}
}
