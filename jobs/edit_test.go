package jobs_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"dozor/bot"
	"dozor/internal/pacer"
	"dozor/jobs"
	"dozor/storage"
)

// join adds an article from another outlet to a story, as the fold stage
// does when a reprint or a translation arrives, and queues the edit of
// the story's alerts.
func (e *dlvEnv) join(storyID uint64, source, lang, title string, now time.Time) {
	e.t.Helper()
	e.seq++
	link := fmt.Sprintf("https://%s.example/%d", strings.ToLower(source), e.seq)
	if _, err := e.store.SaveFetches([]storage.FetchResult{{Articles: []storage.NewArticle{{
		Article: storage.Article{Key: link, URL: link, Title: title, Source: source, Lang: lang,
			Published: now, Fetched: now, Text: title},
		Page: storage.PageNone,
	}}}}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.FoldBatch(100, now, func(tx *storage.FoldTx, j storage.FoldJob) error {
		st, err := tx.Story(storyID)
		if err != nil {
			return err
		}
		if err := tx.Join(st, &j.Article); err != nil {
			return err
		}
		return tx.QueueEdit(st)
	}); err != nil {
		e.t.Fatal(err)
	}
}

func TestAlsoReportedByEditsTheSentAlerts(t *testing.T) {
	e := newDlvEnv(t)
	users := e.users(3)
	p := pacer.New(30)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	d := e.deliverer(e.api)
	d.Pacer = p
	stop := e.run(d)
	story := e.story("ВТБ открывает отделение в Шанхае")
	for _, u := range users {
		e.messages(u, 1)
	}
	e.waitEmpty()
	stop()
	sent, err := e.store.SentMessages(story, time.Now().Add(-time.Hour))
	if err != nil || len(sent) != 3 {
		t.Fatalf("%d sent messages recorded (%v), want 3", len(sent), err)
	}

	now := time.Now()
	ed := &jobs.Editor{Store: e.store, API: bot.Alerts{API: e.api}, Pacer: p, SummaryLang: "ru",
		Now: func() time.Time { return now }, Log: e.logger()}
	e.join(story, "Reuters", "en", "VTB opens a branch in Shanghai", now)
	n, err := ed.Step(context.Background())
	if err != nil || n != 3 {
		t.Fatalf("edited %d messages (%v), want 3", n, err)
	}
	for _, u := range users {
		msgs := e.fake.Messages(u)
		if len(msgs) != 1 {
			t.Fatalf("chat %d has %d messages, want the one alert, edited", u, len(msgs))
		}
		m := msgs[0]
		if m.Edited.IsZero() || !strings.Contains(m.Plain, "Reuters") || !strings.Contains(m.Plain, "Сообщили 2 СМИ") {
			t.Errorf("chat %d: alert not edited to name the new outlet:\n%s", u, m.Plain)
		}
		if _, ok := m.Button("🔎"); !ok && len(m.InlineKeyboard) == 0 {
			t.Errorf("chat %d: the edit removed the alert's buttons", u)
		}
	}

	// Another outlet within ten minutes: no edit until they have passed.
	e.join(story, "ТАСС", "ru", "ВТБ открыл отделение в Шанхае", now.Add(time.Minute))
	now = now.Add(2 * time.Minute)
	if n, err := ed.Step(context.Background()); err != nil || n != 0 {
		t.Errorf("edited %d messages 2 minutes after the last edit (%v), want none", n, err)
	}
	// One user deleted the chat meanwhile: that edit is dropped quietly.
	e.fake.Block(users[0])
	now = now.Add(storage.EditEvery)
	if n, err := ed.Step(context.Background()); err != nil || n != 2 {
		t.Errorf("edited %d messages after ten minutes (%v), want 2", n, err)
	}
	for _, u := range users[1:] {
		if m := e.fake.Messages(u)[0]; !strings.Contains(m.Plain, "ТАСС") {
			t.Errorf("chat %d: second edit missing:\n%s", u, m.Plain)
		}
	}
	if sent, _ := e.store.SentMessages(story, now.Add(-storage.EditWindow)); len(sent) != 2 {
		t.Errorf("%d messages still to edit, want the blocked chat's dropped", len(sent))
	}
	if c := e.counts(); c.Edit != 0 {
		t.Errorf("%d edits still queued", c.Edit)
	}

	// Past the window: no edit at all.
	e.join(story, "Интерфакс", "ru", "ВТБ в Шанхае", now)
	now = now.Add(storage.EditWindow + time.Hour)
	if n, err := ed.Step(context.Background()); err != nil || n != 0 {
		t.Errorf("edited %d messages after 48 hours (%v), want none", n, err)
	}
	if got := e.fake.Calls("sendMessage"); got != 3 {
		t.Errorf("%d messages sent, want the 3 alerts only: joins edit, never send", got)
	}
	if got := e.fake.Count429(); got != 0 {
		t.Errorf("%d × 429", got)
	}
	e.checkLogs()
}

func (e *dlvEnv) counts() storage.Counts {
	e.t.Helper()
	c, err := e.store.Count()
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}
