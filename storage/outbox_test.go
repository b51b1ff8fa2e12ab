package storage

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func outbox(t *testing.T, s *Store, now time.Time, limit int) []OutMsg {
	t.Helper()
	msgs, err := s.Outbox(now, limit)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// byUser indexes every queued message, due or not, by user.
func byUser(t *testing.T, s *Store) map[int64]OutMsg {
	t.Helper()
	m := map[int64]OutMsg{}
	for _, msg := range outbox(t, s, t0.Add(1000*time.Hour), 0) {
		if _, dup := m[msg.UserID]; dup {
			t.Errorf("user %d has two messages queued", msg.UserID)
		}
		m[msg.UserID] = msg
	}
	return m
}

func msgIDs(msgs []OutMsg) []uint64 {
	var ids []uint64
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	return ids
}

func to(user int64, topics ...string) Recipient { return Recipient{UserID: user, Topics: topics} }

func TestFanOutBatchPlansOncePerBatchWithAllUsers(t *testing.T) {
	s, _ := openTemp(t)
	addUser(t, s, 30, StatusApproved, false, "vtb")
	addUser(t, s, 10, StatusPending, false, "vtb")
	addUser(t, s, 20, StatusBanned, true)
	var alerts []Alert
	for i := range 3 {
		alerts = append(alerts, newsAlert(t, s, 0, i+1, "vtb"))
	}
	summarize(t, s, alerts...)

	var plans int
	var planned []int64
	var asked []uint64
	plan := func(users []User) func(Alert) []Recipient {
		plans++
		planned = planned[:0]
		for _, u := range users {
			planned = append(planned, u.ID)
		}
		return func(a Alert) []Recipient {
			asked = append(asked, a.ID)
			return []Recipient{to(30, a.Topics...)}
		}
	}
	n, queued, err := s.FanOutBatch(2, t0, plan)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || queued != 2 {
		t.Errorf("first batch: %d alerts, %d queued; want 2, 2", n, queued)
	}
	if plans != 1 || !slices.Equal(planned, []int64{10, 20, 30}) {
		t.Errorf("plan called %d times with users %v; want once with 10, 20, 30", plans, planned)
	}
	if !slices.Equal(asked, []uint64{alerts[0].ID, alerts[1].ID}) {
		t.Errorf("recipients asked for alerts %v, want the oldest two", asked)
	}
	if c := count(t, s); c.Fanout != 1 || c.Outbox != 2 {
		t.Errorf("after the first batch: %+v", c)
	}

	n, queued, err = s.FanOutBatch(2, t0, plan)
	if err != nil || n != 1 || queued != 1 || plans != 2 {
		t.Errorf("second batch: %d alerts, %d queued, %d plans, %v; want 1, 1, 2", n, queued, plans, err)
	}
	n, queued, err = s.FanOutBatch(2, t0, plan)
	if err != nil || n != 0 || queued != 0 {
		t.Errorf("empty queue: %d alerts, %d queued, %v", n, queued, err)
	}
	if c := count(t, s); c.Fanout != 0 || c.Outbox != 3 {
		t.Errorf("at the end: %+v", c)
	}
}

func TestFanOutBatchOneMessagePerStoryPerRecipient(t *testing.T) {
	s, _ := openTemp(t)
	now := t0.Add(time.Minute)

	// Two alerts on one story in one batch, and one on another story.
	first := newsAlert(t, s, 0, 1, "vtb")
	second := newsAlert(t, s, first.StoryID, 2, "china-ai")
	other := newsAlert(t, s, 0, 3, "sber")
	summarize(t, s, first, second, other)
	n, queued := fanOut(t, s, now, map[uint64][]Recipient{
		first.ID:  {to(1, "vtb"), to(2, "vtb")},
		second.ID: {to(1, "china-ai", "vtb"), to(3, "china-ai")},
		other.ID:  {to(1, "sber")},
	})
	if n != 3 || queued != 4 {
		t.Errorf("fan-out: %d alerts, %d queued; want 3, 4", n, queued)
	}
	if c := count(t, s); c.Fanout != 0 || c.Outbox != 4 {
		t.Errorf("counts = %+v", c)
	}
	msgs := outbox(t, s, now, 0)
	type key struct {
		user  int64
		story uint64
	}
	got := map[key]OutMsg{}
	for _, m := range msgs {
		got[key{m.UserID, m.StoryID}] = m
	}
	want := []struct {
		user    int64
		story   uint64
		article uint64
		topics  []string
	}{
		{1, first.StoryID, first.ArticleID, []string{"vtb", "china-ai"}},
		{2, first.StoryID, first.ArticleID, []string{"vtb"}},
		{3, first.StoryID, second.ArticleID, []string{"china-ai"}},
		{1, other.StoryID, other.ArticleID, []string{"sber"}},
	}
	for _, w := range want {
		m, ok := got[key{w.user, w.story}]
		if !ok {
			t.Errorf("no message for user %d, story %d", w.user, w.story)
			continue
		}
		if m.ArticleID != w.article || !slices.Equal(m.Topics, w.topics) || !m.Created.Equal(now) || m.Attempts != 0 {
			t.Errorf("user %d, story %d: %+v; want article %d, topics %v", w.user, w.story, m, w.article, w.topics)
		}
	}
	if len(msgs) != len(want) {
		t.Errorf("outbox holds %d messages, want %d", len(msgs), len(want))
	}
	for _, id := range []int64{1, 2, 3} {
		if s.Delivered(id, first.StoryID) {
			t.Errorf("Delivered(%d) before anything was sent", id)
		}
	}

	// A later batch: user 1 was sent the story and user 2 refused it, so
	// they get nothing; user 3's queued message gains the new topic; user 4
	// is new to the story.
	byKey := func(user int64, story uint64) uint64 { return got[key{user, story}].ID }
	if err := s.MarkSent([]uint64{byKey(1, first.StoryID)}, now); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DropMessages([]uint64{byKey(2, first.StoryID)}, now); err != nil || n != 1 {
		t.Fatalf("drop: %d, %v", n, err)
	}
	third := newsAlert(t, s, first.StoryID, 4, "ai")
	summarize(t, s, third)
	n, queued = fanOut(t, s, now.Add(time.Minute), map[uint64][]Recipient{
		third.ID: {to(1, "ai"), to(2, "ai"), to(3, "ai", "china-ai"), to(4, "ai")},
	})
	if n != 1 || queued != 1 {
		t.Errorf("later fan-out: %d alerts, %d queued; want 1, 1 (only user 4 is new)", n, queued)
	}
	left := map[key]OutMsg{}
	for _, m := range outbox(t, s, now.Add(time.Hour), 0) {
		left[key{m.UserID, m.StoryID}] = m
	}
	if len(left) != 3 {
		t.Errorf("outbox = %+v, want messages for users 3 and 4 on the story and user 1 on the other", left)
	}
	if m := left[key{3, first.StoryID}]; m.ID != byKey(3, first.StoryID) || !slices.Equal(m.Topics, []string{"china-ai", "ai"}) || !m.Created.Equal(now) {
		t.Errorf("user 3's queued message should gain the topic and keep its id and time: %+v", m)
	}
	if m := left[key{4, first.StoryID}]; !slices.Equal(m.Topics, []string{"ai"}) || m.ArticleID != third.ArticleID {
		t.Errorf("user 4 message = %+v", m)
	}
	for _, k := range []key{{1, first.StoryID}, {2, first.StoryID}} {
		if m, ok := left[k]; ok {
			t.Errorf("user %d got the story again: %+v", k.user, m)
		}
	}
}

// queueFor makes n messages: one story, fanned out to users 1..n.
func queueFor(t *testing.T, s *Store, n int) []OutMsg {
	t.Helper()
	a := newsAlert(t, s, 0, 1, "vtb")
	var rs []Recipient
	for i := 1; i <= n; i++ {
		addUser(t, s, int64(i), StatusApproved, false, "vtb")
		rs = append(rs, to(int64(i), "vtb"))
	}
	if q := deliverTo(t, s, a, t0, rs...); q != n {
		t.Fatalf("queued %d, want %d", q, n)
	}
	return outbox(t, s, t0, 0)
}

func TestOutboxHonoursNextTryAndLimit(t *testing.T) {
	s, _ := openTemp(t)
	all := queueFor(t, s, 3)
	ids := msgIDs(all)
	if len(ids) != 3 || !slices.IsSorted(ids) {
		t.Fatalf("outbox = %v, want 3 messages oldest first", ids)
	}
	if got := msgIDs(outbox(t, s, t0, 2)); !slices.Equal(got, ids[:2]) {
		t.Errorf("limit 2 = %v, want %v", got, ids[:2])
	}

	next := t0.Add(time.Minute)
	if err := s.Retry([]uint64{ids[0], 12345}, next, "429 Too Many Requests"); err != nil {
		t.Fatal(err)
	}
	if got := msgIDs(outbox(t, s, t0, 0)); !slices.Equal(got, ids[1:]) {
		t.Errorf("before NextTry = %v, want %v", got, ids[1:])
	}
	if got := msgIDs(outbox(t, s, t0, 1)); !slices.Equal(got, ids[1:2]) {
		t.Errorf("before NextTry, limit 1 = %v, want %v", got, ids[1:2])
	}
	due := outbox(t, s, next, 0)
	if got := msgIDs(due); !slices.Equal(got, ids) {
		t.Fatalf("at NextTry = %v, want %v", got, ids)
	}
	m := due[0]
	if m.Attempts != 1 || !m.NextTry.Equal(next) || m.LastError != "429 Too Many Requests" {
		t.Errorf("retried message = %+v", m)
	}
	if due[1].Attempts != 0 || !due[1].NextTry.IsZero() {
		t.Errorf("untouched message = %+v", due[1])
	}

	later := t0.Add(time.Hour)
	if err := s.Retry([]uint64{ids[0]}, later, "timeout"); err != nil {
		t.Fatal(err)
	}
	due = outbox(t, s, later, 1)
	if len(due) != 1 || due[0].Attempts != 2 || due[0].LastError != "timeout" || !due[0].NextTry.Equal(later) {
		t.Errorf("after second retry = %+v", due)
	}
	if c := count(t, s); c.Outbox != 3 {
		t.Errorf("outbox length = %d, want 3 (Retry keeps messages)", c.Outbox)
	}
}

func TestMarkSent(t *testing.T) {
	s, _ := openTemp(t)
	msgs := queueFor(t, s, 2)
	story := msgs[0].StoryID
	if err := s.MarkSent([]uint64{msgs[0].ID}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := msgIDs(outbox(t, s, t0, 0)); !slices.Equal(got, []uint64{msgs[1].ID}) {
		t.Errorf("outbox after MarkSent = %v, want %v", got, msgs[1].ID)
	}
	if !s.Delivered(1, story) {
		t.Error("Delivered(1) = false after MarkSent")
	}
	if s.Delivered(2, story) || s.Delivered(3, story) || s.Delivered(1, story+1) {
		t.Error("Delivered is true for a user or story never sent")
	}
	// Ids no longer queued, or never queued, are harmless.
	if err := s.MarkSent([]uint64{msgs[0].ID, 999}, t0); err != nil {
		t.Error(err)
	}
	if c := count(t, s); c.Outbox != 1 || !s.Delivered(1, story) {
		t.Errorf("after a repeated MarkSent: outbox %d, delivered %v", c.Outbox, s.Delivered(1, story))
	}
}

// DropMessages marks the story as refused for good for that user: the
// message goes, it does not count as delivered, and a later alert on the
// story does not queue it again, even after a restart.
func TestDropMessagesNeverRequeues(t *testing.T) {
	s, _ := openTemp(t)
	a := newsAlert(t, s, 0, 1, "vtb")
	deliverTo(t, s, a, t0, to(1, "vtb"), to(2, "vtb"))
	msgs := byUser(t, s)

	n, err := s.DropMessages([]uint64{msgs[1].ID, 999}, t0.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("drop: n=%d err=%v, want 1", n, err)
	}
	if c := count(t, s); c.Outbox != 1 {
		t.Errorf("outbox length = %d, want 1", c.Outbox)
	}
	if s.Delivered(1, a.StoryID) {
		t.Error("dropped message counted as delivered")
	}
	if n, err := s.DropMessages([]uint64{msgs[1].ID}, t0); err != nil || n != 0 {
		t.Errorf("drop again: n=%d err=%v, want 0", n, err)
	}

	s = reopen(t, s)
	b := newsAlert(t, s, a.StoryID, 2, "china-ai")
	if n := deliverTo(t, s, b, t0.Add(2*time.Minute), to(1, "vtb", "china-ai"), to(2, "china-ai")); n != 0 {
		t.Errorf("alert on a dropped story queued %d", n)
	}
	got := byUser(t, s)
	if _, ok := got[1]; ok {
		t.Errorf("dropped story queued again for user 1: %+v", got[1])
	}
	if m := got[2]; !slices.Equal(m.Topics, []string{"vtb", "china-ai"}) {
		t.Errorf("user 2's queued message = %+v", m)
	}
	if s.Delivered(1, a.StoryID) || s.Delivered(2, a.StoryID) {
		t.Error("Delivered true without MarkSent")
	}
}

func TestDropUserMessages(t *testing.T) {
	s, _ := openTemp(t)
	addUser(t, s, 1, StatusApproved, false, "vtb", "sber")
	addUser(t, s, 2, StatusApproved, false, "vtb", "sber")
	a := newsAlert(t, s, 0, 1, "vtb")
	b := newsAlert(t, s, 0, 2, "sber")
	deliverTo(t, s, a, t0, to(1, "vtb"), to(2, "vtb"))
	deliverTo(t, s, b, t0, to(1, "sber"), to(2, "sber"))
	if c := count(t, s); c.Outbox != 4 {
		t.Fatalf("outbox length = %d, want 4", c.Outbox)
	}

	n, err := s.DropUserMessages(1, func(u *User) { u.Inactive = true })
	if err != nil || n != 2 {
		t.Fatalf("drop user 1: n=%d err=%v, want 2", n, err)
	}
	left := outbox(t, s, t0, 0)
	if len(left) != 2 {
		t.Errorf("outbox = %+v, want user 2's two messages", left)
	}
	for _, m := range left {
		if m.UserID != 2 {
			t.Errorf("message of user %d left: %+v", m.UserID, m)
		}
	}
	if u, _ := s.User(1); !u.Inactive {
		t.Errorf("fn not applied: %+v", u)
	}
	if u, _ := s.User(2); u.Inactive {
		t.Errorf("user 2 changed: %+v", u)
	}
	if s.Delivered(1, a.StoryID) {
		t.Error("dropped message counted as delivered")
	}

	// Nothing left for user 1; a nil fn leaves the user as is.
	if n, err := s.DropUserMessages(1, nil); err != nil || n != 0 {
		t.Errorf("drop again: n=%d err=%v", n, err)
	}
	if u, _ := s.User(1); !u.Inactive {
		t.Errorf("nil fn changed the user: %+v", u)
	}
	if _, err := s.DropUserMessages(99, func(u *User) {}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user with fn: %v, want ErrNotFound", err)
	}

	// The user comes back: the story was never delivered, so a further
	// alert on it reaches them again.
	c := newsAlert(t, s, a.StoryID, 3, "china-ai")
	if n := deliverTo(t, s, c, t0.Add(time.Minute), to(1, "china-ai")); n != 1 {
		t.Errorf("alert after return queued %d, want 1", n)
	}
	var mine []OutMsg
	for _, m := range outbox(t, s, t0.Add(time.Hour), 0) {
		if m.UserID == 1 {
			mine = append(mine, m)
		}
	}
	if len(mine) != 1 || mine[0].StoryID != a.StoryID || !slices.Equal(mine[0].Topics, []string{"china-ai"}) {
		t.Errorf("user 1 messages = %+v", mine)
	}
}
