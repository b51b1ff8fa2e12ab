package storage

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// t0 is the clock of these tests: a whole second, so JSON round trips
// compare equal, and close to the wall clock, because Open rebuilds the
// story index with time.Now and forgets stories older than the dedup window.
var t0 = time.Now().UTC().Truncate(time.Second)

// reprintOf is a reprint of the storyText story (same news, slightly
// different wording) under another address.
func reprintOf(key, suffix string, topics []string) NewArticle {
	return newArticle(key, "ВТБ рассматривает создание ИИ-центра в Китае — "+suffix,
		storyText+" "+suffix+".", topics, true)
}

// saveOne stores one article and returns what was saved.
func saveOne(t *testing.T, s *Store, na NewArticle, now time.Time) Saved {
	t.Helper()
	res, err := s.SaveFetches([]FetchResult{{Articles: []NewArticle{na}}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || len(res[0]) != 1 {
		t.Fatalf("save %s: %+v", na.Key, res)
	}
	return res[0][0]
}

// mustAlert stores an article that must queue an alert, and returns it.
func mustAlert(t *testing.T, s *Store, na NewArticle, now time.Time) *Alert {
	t.Helper()
	sv := saveOne(t, s, na, now)
	if sv.Alert == nil {
		t.Fatalf("%s queued no alert: %+v", na.Key, sv)
	}
	return sv.Alert
}

func addUser(t *testing.T, s *Store, id int64, status UserStatus, inactive bool, topics ...string) {
	t.Helper()
	u := User{ID: id, ChatID: id, Name: "user", Lang: "ru", Status: status, Inactive: inactive,
		Mode: ModeInstant, TZ: "Europe/Moscow", Topics: topics, Created: t0, Updated: t0}
	if _, created, err := s.CreateUser(u); err != nil || !created {
		t.Fatalf("create user %d: created=%v err=%v", id, created, err)
	}
}

func fanOut(t *testing.T, s *Store, alertID uint64, now time.Time) int {
	t.Helper()
	n, err := s.FanOut(alertID, now)
	if err != nil {
		t.Fatalf("fan out %d: %v", alertID, err)
	}
	return n
}

func outbox(t *testing.T, s *Store, now time.Time, limit int) []OutMsg {
	t.Helper()
	msgs, err := s.Outbox(now, limit)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// byUser indexes the messages due now by user.
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

func TestFanOutQueuesOneMessagePerApprovedActiveSubscriber(t *testing.T) {
	s, _ := openTemp(t)
	addUser(t, s, 1, StatusApproved, false, "vtb", "china-ai") // both topics: one message
	addUser(t, s, 2, StatusApproved, false, "vtb")
	addUser(t, s, 3, StatusPending, false, "vtb")
	addUser(t, s, 4, StatusBanned, false, "vtb", "china-ai")
	addUser(t, s, 5, StatusApproved, true, "vtb") // blocked the bot
	addUser(t, s, 6, StatusApproved, false, "other")
	addUser(t, s, 7, StatusApproved, false)

	a := mustAlert(t, s, newArticle("url:https://a.example/1", "ВТБ и ИИ в Китае", storyText, []string{"vtb", "china-ai"}, true), t0)
	if n := fanOut(t, s, a.ID, t0); n != 2 {
		t.Errorf("queued %d messages, want 2", n)
	}
	if pending, _ := s.PendingAlerts(0); len(pending) != 0 {
		t.Errorf("alert not deleted: %+v", pending)
	}
	if n := s.OutboxLen(); n != 2 {
		t.Errorf("OutboxLen = %d, want 2", n)
	}
	got := byUser(t, s)
	if len(got) != 2 {
		t.Fatalf("messages for users %v, want 1 and 2", got)
	}
	m1 := got[1]
	if !slices.Equal(m1.Topics, []string{"vtb", "china-ai"}) || m1.StoryID != a.StoryID ||
		m1.ArticleID != a.ArticleID || !m1.Created.Equal(t0) || m1.Attempts != 0 {
		t.Errorf("user 1 message = %+v", m1)
	}
	if m2 := got[2]; !slices.Equal(m2.Topics, []string{"vtb"}) {
		t.Errorf("user 2 message = %+v", m2)
	}
	for _, id := range []int64{1, 2, 3} {
		if s.Delivered(id, a.StoryID) {
			t.Errorf("Delivered(%d) before anything was sent", id)
		}
	}

	// The alert is gone: fanning it out again is an error, not a second copy.
	if _, err := s.FanOut(a.ID, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("second fan-out: %v, want ErrNotFound", err)
	}
	if n := s.OutboxLen(); n != 2 {
		t.Errorf("OutboxLen after second fan-out = %d", n)
	}
}

func TestFanOutOneMessagePerStoryPerSubscriber(t *testing.T) {
	s, _ := openTemp(t)
	addUser(t, s, 1, StatusApproved, false, "vtb", "china-ai", "ai")
	addUser(t, s, 2, StatusApproved, false, "china-ai")

	first := mustAlert(t, s, newArticle("url:https://a.example/1", "ВТБ рассматривает создание ИИ-центра в Китае", storyText, []string{"vtb"}, true), t0)
	if n := fanOut(t, s, first.ID, t0); n != 1 {
		t.Fatalf("first alert queued %d, want 1", n)
	}

	// A reprint matches a new topic: a second alert on the same story.
	second := mustAlert(t, s, reprintOf("url:https://b.example/1", "источники", []string{"vtb", "china-ai"}), t0.Add(time.Minute))
	if second.StoryID != first.StoryID || !slices.Equal(second.Topics, []string{"china-ai"}) {
		t.Fatalf("second alert = %+v, want story %d topic china-ai", second, first.StoryID)
	}
	if n := fanOut(t, s, second.ID, t0.Add(time.Minute)); n != 1 {
		t.Errorf("second alert queued %d, want 1 (only user 2 is new)", n)
	}
	if n := s.OutboxLen(); n != 2 {
		t.Errorf("OutboxLen = %d, want 2", n)
	}
	got := byUser(t, s)
	if m := got[1]; !slices.Equal(m.Topics, []string{"vtb", "china-ai"}) || m.StoryID != first.StoryID {
		t.Errorf("user 1's queued message should gain the topic: %+v", m)
	}
	if m := got[2]; !slices.Equal(m.Topics, []string{"china-ai"}) {
		t.Errorf("user 2 message = %+v", m)
	}

	if err := s.MarkSent([]uint64{got[1].ID, got[2].ID}, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := s.OutboxLen(); n != 0 {
		t.Errorf("OutboxLen after MarkSent = %d", n)
	}
	for _, id := range []int64{1, 2} {
		if !s.Delivered(id, first.StoryID) {
			t.Errorf("Delivered(%d) = false after MarkSent", id)
		}
	}
	if s.Delivered(3, first.StoryID) || s.Delivered(1, first.StoryID+1) {
		t.Error("Delivered is true for a user or story never sent")
	}

	// Yet another topic on the story: already sent, so nothing is queued.
	third := mustAlert(t, s, reprintOf("url:https://c.example/1", "СМИ", []string{"ai"}), t0.Add(3*time.Minute))
	if third.StoryID != first.StoryID {
		t.Fatalf("third reprint started story %d", third.StoryID)
	}
	if n := fanOut(t, s, third.ID, t0.Add(3*time.Minute)); n != 0 {
		t.Errorf("alert on a sent story queued %d", n)
	}
	if n := s.OutboxLen(); n != 0 {
		t.Errorf("OutboxLen = %d, want 0", n)
	}
	// MarkSent of ids no longer queued is harmless.
	if err := s.MarkSent([]uint64{got[1].ID, 999}, t0); err != nil {
		t.Error(err)
	}
}

// queueFor makes n messages: one story, fanned out to users 1..n.
func queueFor(t *testing.T, s *Store, n int) []OutMsg {
	t.Helper()
	for i := 1; i <= n; i++ {
		addUser(t, s, int64(i), StatusApproved, false, "vtb")
	}
	a := mustAlert(t, s, newArticle("url:https://a.example/1", "ВТБ и Китай", storyText, []string{"vtb"}, true), t0)
	if q := fanOut(t, s, a.ID, t0); q != n {
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
	if n := s.OutboxLen(); n != 3 {
		t.Errorf("OutboxLen = %d, want 3 (Retry keeps messages)", n)
	}
}

func TestDropUserMessages(t *testing.T) {
	s, _ := openTemp(t)
	addUser(t, s, 1, StatusApproved, false, "vtb", "sber")
	addUser(t, s, 2, StatusApproved, false, "vtb", "sber")
	a := mustAlert(t, s, newArticle("url:https://a.example/1", "ВТБ и Китай", storyText, []string{"vtb"}, true), t0)
	b := mustAlert(t, s, newArticle("url:https://a.example/2", "Сбербанк запустил переводы в Китай",
		"Сбербанк начал принимать мобильные переводы в Китай по номеру телефона для физических лиц без комиссии до конца года.",
		[]string{"sber"}, true), t0)
	if a.StoryID == b.StoryID {
		t.Fatal("the two articles share a story")
	}
	fanOut(t, s, a.ID, t0)
	fanOut(t, s, b.ID, t0)
	if n := s.OutboxLen(); n != 4 {
		t.Fatalf("OutboxLen = %d, want 4", n)
	}

	n, err := s.DropUserMessages(1, func(u *User) { u.Inactive = true })
	if err != nil || n != 2 {
		t.Fatalf("drop user 1: n=%d err=%v, want 2", n, err)
	}
	if n := s.OutboxLen(); n != 2 {
		t.Errorf("OutboxLen = %d, want 2", n)
	}
	for _, m := range outbox(t, s, t0, 0) {
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
	if _, err := s.UpdateUser(1, func(u *User) { u.Inactive = false; u.Topics = append(u.Topics, "china-ai") }); err != nil {
		t.Fatal(err)
	}
	c := mustAlert(t, s, reprintOf("url:https://b.example/1", "источники", []string{"china-ai"}), t0.Add(time.Minute))
	if c.StoryID != a.StoryID {
		t.Fatalf("reprint started story %d", c.StoryID)
	}
	if n := fanOut(t, s, c.ID, t0.Add(time.Minute)); n != 1 {
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

// DropMessages marks the story as refused for good for that user: the
// message goes, it does not count as delivered, and a later alert on the
// story does not queue it again.
func TestDropMessagesNeverRequeues(t *testing.T) {
	s, path := openTemp(t)
	addUser(t, s, 1, StatusApproved, false, "vtb", "china-ai")
	addUser(t, s, 2, StatusApproved, false, "vtb", "china-ai")
	a := mustAlert(t, s, newArticle("url:https://a.example/1", "ВТБ рассматривает создание ИИ-центра в Китае", storyText, []string{"vtb"}, true), t0)
	fanOut(t, s, a.ID, t0)
	msgs := byUser(t, s)

	n, err := s.DropMessages([]uint64{msgs[1].ID, 999}, t0.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("drop: n=%d err=%v, want 1", n, err)
	}
	if n := s.OutboxLen(); n != 1 {
		t.Errorf("OutboxLen = %d, want 1", n)
	}
	if s.Delivered(1, a.StoryID) {
		t.Error("dropped message counted as delivered")
	}
	if n, err := s.DropMessages([]uint64{msgs[1].ID}, t0); err != nil || n != 0 {
		t.Errorf("drop again: n=%d err=%v, want 0", n, err)
	}

	// Survives a restart.
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	b := mustAlert(t, s, reprintOf("url:https://b.example/1", "источники", []string{"vtb", "china-ai"}), t0.Add(2*time.Minute))
	if b.StoryID != a.StoryID {
		t.Fatalf("reprint started story %d", b.StoryID)
	}
	if n := fanOut(t, s, b.ID, t0.Add(2*time.Minute)); n != 0 {
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

func TestAddUsageAddsUpPerUTCDay(t *testing.T) {
	s, _ := openTemp(t)
	day := time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)
	msk := time.FixedZone("MSK", 3*3600)
	adds := []struct {
		at  time.Time
		add Usage
	}{
		{day, Usage{Sent: 2, Calls: 1, PromptTokens: 100, CompletionTokens: 20}},
		{day.Add(5 * time.Hour), Usage{Sent: 3, SendErrors: 1, Fallbacks: 1}},
		// 01:00 in Moscow on the 15th is still the 14th in UTC.
		{time.Date(2025, 3, 15, 1, 0, 0, 0, msk), Usage{Sent: 1}},
		{day.Add(24 * time.Hour), Usage{Sent: 7, Calls: 2}},
	}
	for _, a := range adds {
		if err := s.AddUsage(a.at, a.add); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		at   time.Time
		want Usage
	}{
		{day, Usage{Day: "2025-03-14", Sent: 6, Calls: 1, SendErrors: 1, Fallbacks: 1, PromptTokens: 100, CompletionTokens: 20}},
		{day.Add(24 * time.Hour), Usage{Day: "2025-03-15", Sent: 7, Calls: 2}},
		{day.Add(48 * time.Hour), Usage{Day: "2025-03-16"}},
	}
	for _, tt := range tests {
		t.Run(tt.want.Day, func(t *testing.T) {
			got, err := s.Usage(tt.at)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Usage = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Every queue and record written by the tests above survives Close and
// reopening the same file.
func TestStateSurvivesReopen(t *testing.T) {
	s, path := openTemp(t)
	addUser(t, s, 1, StatusApproved, false, "vtb", "china-ai")
	addUser(t, s, 2, StatusApproved, false, "vtb")
	addUser(t, s, 3, StatusApproved, false, "vtb")
	addUser(t, s, 4, StatusPending, false, "vtb")
	if _, err := s.PutTopic("vtb", "ВТБ", t0); err != nil {
		t.Fatal(err)
	}
	a := mustAlert(t, s, newArticle("url:https://a.example/1", "ВТБ рассматривает создание ИИ-центра в Китае", storyText, []string{"vtb"}, true), t0)
	fanOut(t, s, a.ID, t0)
	msgs := byUser(t, s)
	if err := s.MarkSent([]uint64{msgs[1].ID}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DropMessages([]uint64{msgs[2].ID}, t0); err != nil {
		t.Fatal(err)
	}
	next := t0.Add(time.Hour)
	if err := s.Retry([]uint64{msgs[3].ID}, next, "flood"); err != nil {
		t.Fatal(err)
	}
	// A pending alert and a pending enrich record.
	other := newArticle("url:https://c.example/x", "Сбербанк запустил переводы в Китай",
		"Сбербанк начал принимать мобильные переводы в Китай по номеру телефона для физических лиц без комиссии до конца года.",
		[]string{"vtb"}, true)
	pendingAlert := mustAlert(t, s, other, t0)
	if err := s.AddUsage(t0, Usage{Sent: 4}); err != nil {
		t.Fatal(err)
	}
	sum := Summary{StoryID: a.StoryID, Lang: "ru", Text: "ВТБ создаёт ИИ-центр в Китае.", KeyPoints: []string{"центр"}, Created: t0}
	if _, err := s.PutSummary(sum); err != nil {
		t.Fatal(err)
	}
	enrichBefore, _ := s.PendingEnrich(0)

	s.Close()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	users, err := s.Users()
	if err != nil || len(users) != 4 || users[3].Status != StatusPending || !slices.Equal(users[0].Topics, []string{"vtb", "china-ai"}) {
		t.Errorf("users after reopen = %+v, %v", users, err)
	}
	if tp, err := s.Topic("vtb"); err != nil || tp.Query != "ВТБ" {
		t.Errorf("topic after reopen = %+v, %v", tp, err)
	}
	left := outbox(t, s, next, 0)
	if len(left) != 1 || left[0].UserID != 3 || left[0].Attempts != 1 || !left[0].NextTry.Equal(next) || left[0].LastError != "flood" {
		t.Errorf("outbox after reopen = %+v", left)
	}
	if len(outbox(t, s, t0, 0)) != 0 {
		t.Error("NextTry lost on reopen")
	}
	if !s.Delivered(1, a.StoryID) || s.Delivered(2, a.StoryID) || s.Delivered(3, a.StoryID) {
		t.Error("delivery states lost on reopen")
	}
	if pending, _ := s.PendingAlerts(0); len(pending) != 1 || pending[0].ID != pendingAlert.ID {
		t.Errorf("pending alerts after reopen = %+v", pending)
	}
	if got, _ := s.PendingEnrich(0); !slices.Equal(got, enrichBefore) || len(got) != 2 {
		t.Errorf("pending enrich after reopen = %v, want %v", got, enrichBefore)
	}
	if u, _ := s.Usage(t0); u.Sent != 4 {
		t.Errorf("usage after reopen = %+v", u)
	}
	if got, err := s.Summary(a.StoryID, "ru"); err != nil || got.Text != sum.Text || !got.Created.Equal(t0) {
		t.Errorf("summary after reopen = %+v, %v", got, err)
	}

	// One message per story per subscriber holds across the restart: sent
	// (1) and dropped (2) get nothing, queued (3) gains the topic.
	addTopic := func(u *User) { u.Topics = append(u.Topics, "china-ai") }
	for _, id := range []int64{2, 3} {
		if _, err := s.UpdateUser(id, addTopic); err != nil {
			t.Fatal(err)
		}
	}
	b := mustAlert(t, s, reprintOf("url:https://b.example/1", "источники", []string{"vtb", "china-ai"}), t0.Add(time.Minute))
	if b.StoryID != a.StoryID {
		t.Fatalf("after reopen the reprint started story %d: story index not rebuilt", b.StoryID)
	}
	if n := fanOut(t, s, b.ID, t0.Add(time.Minute)); n != 0 {
		t.Errorf("queued %d after reopen, want 0", n)
	}
	got := byUser(t, s)
	if len(got) != 1 || !slices.Equal(got[3].Topics, []string{"vtb", "china-ai"}) {
		t.Errorf("outbox = %+v", got)
	}
}
