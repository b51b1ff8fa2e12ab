package storage

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Digest periods (User.DigestEvery).
const (
	DigestDaily  = "daily"
	DigestWeekly = "weekly"
)

// Clock is a time of day, "HH:MM", in the user's time zone.
type Clock string

// ParseClock reads "9:00", "09:00" or "0900".
func ParseClock(s string) (Clock, error) {
	s = strings.TrimSpace(s)
	if len(s) == 4 && !strings.Contains(s, ":") {
		s = s[:2] + ":" + s[2:]
	}
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 || len(m) != 2 {
		return "", fmt.Errorf("%q is not a time of day such as 09:00", s)
	}
	return Clock(fmt.Sprintf("%02d:%02d", hh, mm)), nil
}

func (c Clock) parts() (h, m int, ok bool) {
	if len(c) != 5 || c[2] != ':' {
		return 0, 0, false
	}
	h, err1 := strconv.Atoi(string(c[:2]))
	m, err2 := strconv.Atoi(string(c[3:]))
	return h, m, err1 == nil && err2 == nil
}

// on is the clock's time on the day of t, in t's location. Local times a
// DST change skips are moved forward by the change (02:30 on a spring-
// forward night is 03:30), and a time that occurs twice is taken once.
func (c Clock) on(t time.Time) time.Time {
	h, m, _ := c.parts()
	y, mo, d := t.Date()
	return time.Date(y, mo, d, h, m, 0, 0, t.Location())
}

// DefaultDigestAt is when a digest goes out if the user chose no time.
const DefaultDigestAt Clock = "09:00"

// DigestClock is the time of day of u's digest.
func (u *User) DigestClock() Clock {
	if _, _, ok := u.DigestAt.parts(); ok {
		return u.DigestAt
	}
	return DefaultDigestAt
}

// LastDigest is the latest time at or before now that a digest of u's
// schedule was due, zero if u has no digest schedule.
func (u *User) LastDigest(now time.Time) time.Time {
	if u.Mode != ModeDigest {
		return time.Time{}
	}
	at := u.DigestClock()
	local := now.In(u.Location())
	for back := 0; back <= 7; back++ {
		day := local.AddDate(0, 0, -back)
		if u.DigestEvery == DigestWeekly && day.Weekday() != time.Weekday(u.DigestDay) {
			continue
		}
		if t := at.on(day); !t.After(now) {
			return t
		}
	}
	return time.Time{}
}

// NextDigest is the first time after now that a digest of u's schedule is
// due, zero if none.
func (u *User) NextDigest(now time.Time) time.Time {
	if u.Mode != ModeDigest {
		return time.Time{}
	}
	at := u.DigestClock()
	local := now.In(u.Location())
	for ahead := 0; ahead <= 8; ahead++ {
		day := local.AddDate(0, 0, ahead)
		if u.DigestEvery == DigestWeekly && day.Weekday() != time.Weekday(u.DigestDay) {
			continue
		}
		if t := at.on(day); t.After(now) {
			return t
		}
	}
	return time.Time{}
}

// DigestDue reports whether a digest is due for u at now: its latest
// scheduled time has passed since the last digest went out. However many
// periods were missed (dozor was down), one digest is due.
func (u *User) DigestDue(now time.Time) (time.Time, bool) {
	last := u.LastDigest(now)
	return last, !last.IsZero() && last.After(u.DigestLast)
}

// QuietUntil reports whether now falls in u's quiet hours, and when they
// end.
func (u *User) QuietUntil(now time.Time) (time.Time, bool) {
	if u.QuietFrom == "" || u.QuietTo == "" || u.QuietFrom == u.QuietTo {
		return time.Time{}, false
	}
	if _, _, ok := u.QuietFrom.parts(); !ok {
		return time.Time{}, false
	}
	if _, _, ok := u.QuietTo.parts(); !ok {
		return time.Time{}, false
	}
	local := now.In(u.Location())
	// The window that may hold now started today or yesterday.
	for back := 0; back <= 1; back++ {
		day := local.AddDate(0, 0, -back)
		from := u.QuietFrom.on(day)
		to := u.QuietTo.on(day)
		if !to.After(from) {
			to = u.QuietTo.on(day.AddDate(0, 0, 1)) // over midnight
		}
		if !now.Before(from) && now.Before(to) {
			return to, true
		}
	}
	return time.Time{}, false
}

// Muted reports whether u has muted topic at now.
func (u *User) Muted(topic string, now time.Time) bool {
	until, ok := u.Mutes[topic]
	return ok && (until.IsZero() || now.Before(until))
}
