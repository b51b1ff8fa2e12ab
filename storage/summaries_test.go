package storage

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestPendingAlertsAfterAndLimit(t *testing.T) {
	s, _ := openTemp(t)
	var ids []uint64
	for i := range 4 {
		ids = append(ids, newsAlert(t, s, 0, i+1, "vtb").ID)
	}
	tests := []struct {
		name  string
		after uint64
		limit int
		want  []uint64
	}{
		{"all", 0, 0, ids},
		{"limit", 0, 2, ids[:2]},
		{"after", ids[1], 0, ids[2:]},
		{"after and limit", ids[0], 2, ids[1:3]},
		{"after the last", ids[3], 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerts, err := s.PendingAlerts(tt.after, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, a := range alerts {
				got = append(got, a.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("PendingAlerts(%d, %d) = %v, want %v", tt.after, tt.limit, got, tt.want)
			}
		})
	}
}

func TestSaveSummaries(t *testing.T) {
	s, _ := openTemp(t)
	a := newsAlert(t, s, 0, 1, "vtb")
	b := newsAlert(t, s, a.StoryID, 2, "china-ai") // a reprint, alerted for another topic
	c := newsAlert(t, s, 0, 3, "sber")
	first := Summary{StoryID: a.StoryID, Lang: "ru", Text: "Первое резюме.", KeyPoints: []string{"а"}, Model: "qwen", Created: t0}
	second := Summary{StoryID: a.StoryID, Lang: "ru", Text: "Второе резюме.", Extractive: true, Created: t0}
	english := Summary{StoryID: a.StoryID, Lang: "en", Text: "English summary.", Created: t0}

	// 01:30 in Moscow on the 15th is still the 14th in UTC.
	now := time.Date(2025, 3, 15, 1, 30, 0, 0, time.FixedZone("MSK", 3*3600))
	if err := s.AddUsage(t0, Usage{Calls: 1, Sent: 5}); err != nil {
		t.Fatal(err)
	}
	commits := s.Commits()
	err := s.SaveSummaries([]Summarized{
		{Alert: a, Summary: &first},
		{Alert: b, Summary: &second},
		{Alert: b, Summary: &english}, // the same alert twice in a batch
		{Alert: c},                    // the stage reused a stored summary
	}, now, Usage{Calls: 2, Fallbacks: 1, PromptTokens: 300, CompletionTokens: 40})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Commits() - commits; got != 1 {
		t.Errorf("SaveSummaries took %d commits, want 1", got)
	}
	if got, err := s.Summary(a.StoryID, "ru"); err != nil || got.Text != first.Text || got.Model != "qwen" || got.Extractive {
		t.Errorf("ru summary = %+v, %v; want the first", got, err)
	}
	if got, err := s.Summary(a.StoryID, "en"); err != nil || got.Text != english.Text {
		t.Errorf("en summary = %+v, %v", got, err)
	}
	if _, err := s.Summary(c.StoryID, "ru"); !errors.Is(err, ErrNotFound) {
		t.Errorf("summary stored for a story given none: %v", err)
	}
	if pending, _ := s.PendingAlerts(0, 0); len(pending) != 0 {
		t.Errorf("alerts left: %+v", pending)
	}
	if cn := count(t, s); cn.Alerts != 0 || cn.Fanout != 3 {
		t.Errorf("counts = %+v, want 3 alerts queued for fan-out", cn)
	}
	want := Usage{Day: "2025-03-14", Calls: 3, Fallbacks: 1, PromptTokens: 300, CompletionTokens: 40, Sent: 5}
	if got, _ := s.Usage(t0); got != want {
		t.Errorf("usage = %+v, want %+v", got, want)
	}

	// The fan-out stage gets the alerts as they were queued.
	var fanned []Alert
	_, _, err = s.FanOutBatch(10, now, func([]User) func(Alert) []Recipient {
		return func(al Alert) []Recipient { fanned = append(fanned, al); return nil }
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fanned) != 3 || !slices.EqualFunc(fanned, []Alert{a, b, c}, func(x, y Alert) bool {
		return x.ID == y.ID && x.StoryID == y.StoryID && x.ArticleID == y.ArticleID && slices.Equal(x.Topics, y.Topics) && x.Created.Equal(y.Created)
	}) {
		t.Errorf("fanned out %+v\nwant %+v", fanned, []Alert{a, b, c})
	}
}

// A batch saved again, say after a crash lost the stage's progress, neither
// overwrites a summary nor hands an alert to the fan-out stage twice.
func TestSaveSummariesAgainIsHarmless(t *testing.T) {
	s, _ := openTemp(t)
	a := newsAlert(t, s, 0, 1, "vtb")
	sum := Summary{StoryID: a.StoryID, Lang: "ru", Text: "Резюме.", Created: t0}
	batch := []Summarized{{Alert: a, Summary: &sum}}
	if err := s.SaveSummaries(batch, t0, Usage{}); err != nil {
		t.Fatal(err)
	}
	if n, _ := fanOut(t, s, t0, nil); n != 1 {
		t.Fatalf("fanned out %d alerts, want 1", n)
	}

	other := Summary{StoryID: a.StoryID, Lang: "ru", Text: "Другое резюме.", Created: t0.Add(time.Hour)}
	if err := s.SaveSummaries([]Summarized{{Alert: a, Summary: &other}}, t0, Usage{}); err != nil {
		t.Fatalf("saving a moved alert again: %v", err)
	}
	if c := count(t, s); c.Alerts != 0 || c.Fanout != 0 {
		t.Errorf("counts = %+v, want the alert in no queue", c)
	}
	if got, _ := s.Summary(a.StoryID, "ru"); got.Text != sum.Text {
		t.Errorf("summary = %q, want the first one", got.Text)
	}
}

func TestPutSummaryFirstWins(t *testing.T) {
	s, _ := openTemp(t)
	first := Summary{StoryID: 3, Lang: "ru", Text: "Первое резюме.", KeyPoints: []string{"а", "б"}, Model: "qwen", Created: t0}
	second := Summary{StoryID: 3, Lang: "ru", Text: "Второе резюме.", Extractive: true, Created: t0.Add(time.Minute)}
	english := Summary{StoryID: 3, Lang: "en", Text: "English summary.", Created: t0}

	if _, err := s.Summary(3, "ru"); !errors.Is(err, ErrNotFound) {
		t.Errorf("before put: %v, want ErrNotFound", err)
	}
	got, err := s.PutSummary(first)
	if err != nil || got.Text != first.Text {
		t.Fatalf("first put = %+v, %v", got, err)
	}
	got, err = s.PutSummary(second)
	if err != nil || got.Text != first.Text || got.Extractive || got.Model != "qwen" {
		t.Errorf("second put returned %+v, %v; want the first summary", got, err)
	}
	if got, err := s.PutSummary(english); err != nil || got.Text != english.Text {
		t.Errorf("another language = %+v, %v", got, err)
	}

	s = reopen(t, s)
	got, err = s.Summary(3, "ru")
	if err != nil || got.Text != first.Text || !slices.Equal(got.KeyPoints, first.KeyPoints) || !got.Created.Equal(t0) {
		t.Errorf("stored ru = %+v, %v", got, err)
	}
	if got, err := s.Summary(3, "en"); err != nil || got.Text != english.Text {
		t.Errorf("stored en = %+v, %v", got, err)
	}
	if _, err := s.Summary(4, "ru"); !errors.Is(err, ErrNotFound) {
		t.Errorf("other story: %v, want ErrNotFound", err)
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
	s = reopen(t, s)
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
