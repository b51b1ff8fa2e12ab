package storage

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// distinctArticle is an article on a story of its own: its words are
// numbered, so it shares no word with storyText or another distinctArticle.
func distinctArticle(i int, topics []string, alertable bool) NewArticle {
	text := strings.ReplaceAll("альфа# бета# гамма# дельта# эпсилон# дзета# эта# тета#", "#", strconv.Itoa(i))
	return newArticle(fmt.Sprintf("url:https://n.example/%d", i), "новость"+strconv.Itoa(i), text, topics, alertable)
}

func pendingEnrich(t *testing.T, s *Store, limit int) []uint64 {
	t.Helper()
	ids, err := s.PendingEnrich(limit)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestSaveFetchesQueuesEnrichOnlyForNews(t *testing.T) {
	s, _ := openTemp(t)
	news := distinctArticle(1, nil, true)
	backlog := distinctArticle(2, []string{"vtb"}, false)
	res, err := s.SaveFetches([]FetchResult{{Articles: []NewArticle{news, backlog}}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0]) != 2 {
		t.Fatalf("saved %+v", res)
	}
	newsID := res[0][0].Article.ID
	if got := pendingEnrich(t, s, 0); !slices.Equal(got, []uint64{newsID}) {
		t.Errorf("PendingEnrich = %v, want only the alertable article %d", got, newsID)
	}
}

func TestPendingEnrichOldestFirst(t *testing.T) {
	s, _ := openTemp(t)
	var ids []uint64
	for i := range 4 {
		ids = append(ids, saveOne(t, s, distinctArticle(i, nil, true), t0.Add(time.Duration(i)*time.Minute)).Article.ID)
	}
	if got := pendingEnrich(t, s, 0); !slices.Equal(got, ids) {
		t.Errorf("PendingEnrich(0) = %v, want %v", got, ids)
	}
	if got := pendingEnrich(t, s, 2); !slices.Equal(got, ids[:2]) {
		t.Errorf("PendingEnrich(2) = %v, want %v", got, ids[:2])
	}
	if _, err := s.SaveEnriched(Enriched{ArticleID: ids[0]}, t0); err != nil {
		t.Fatal(err)
	}
	if got := pendingEnrich(t, s, 2); !slices.Equal(got, ids[1:3]) {
		t.Errorf("after enriching the oldest: %v, want %v", got, ids[1:3])
	}
}

func TestSaveEnriched(t *testing.T) {
	tests := []struct {
		name       string
		topics     []string // the article's topics when fetched
		reprint    []string // topics of a reprint on the same story, alerted before enrichment; nil = none
		enriched   Enriched
		wantTopics []string // the article's topics after
		wantAlert  []string // topics of the new alert; nil = no alert
	}{
		{
			name:       "full text finds a new topic",
			topics:     []string{"vtb"},
			enriched:   Enriched{FullText: "полный текст", Topics: []string{"vtb", "china-ai"}},
			wantTopics: []string{"vtb", "china-ai"},
			wantAlert:  []string{"china-ai"},
		},
		{
			name:       "article had no topic",
			enriched:   Enriched{FullText: "полный текст", Topics: []string{"china-ai", "vtb", "china-ai"}},
			wantTopics: []string{"china-ai", "vtb"},
			wantAlert:  []string{"china-ai", "vtb"},
		},
		{
			name:       "topic already alerted by a reprint",
			topics:     []string{"vtb"},
			reprint:    []string{"vtb", "china-ai"},
			enriched:   Enriched{FullText: "полный текст", Topics: []string{"china-ai"}},
			wantTopics: []string{"vtb", "china-ai"},
		},
		{
			name:       "only some topics already alerted",
			topics:     []string{"vtb"},
			reprint:    []string{"china-ai"},
			enriched:   Enriched{FullText: "полный текст", Topics: []string{"china-ai", "sber-ai"}},
			wantTopics: []string{"vtb", "china-ai", "sber-ai"},
			wantAlert:  []string{"sber-ai"},
		},
		{
			name:       "same topics as before",
			topics:     []string{"vtb"},
			enriched:   Enriched{FullText: "полный текст", Topics: []string{"vtb"}},
			wantTopics: []string{"vtb"},
		},
		{
			name:       "no topics",
			topics:     []string{"vtb"},
			enriched:   Enriched{FullText: "полный текст"},
			wantTopics: []string{"vtb"},
		},
		{
			name:       "page gave nothing better",
			topics:     []string{"vtb"},
			enriched:   Enriched{Topics: []string{"china-ai"}},
			wantTopics: []string{"vtb", "china-ai"},
			wantAlert:  []string{"china-ai"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openTemp(t)
			orig := saveOne(t, s, newArticle("url:https://a.example/1", "ВТБ рассматривает создание ИИ-центра в Китае", storyText, tt.topics, true), t0)
			id, storyID := orig.Article.ID, orig.Article.StoryID
			if tt.reprint != nil {
				r := saveOne(t, s, reprintOf("url:https://b.example/1", "источники", tt.reprint), t0.Add(time.Minute))
				if r.Article.StoryID != storyID {
					t.Fatalf("reprint started story %d", r.Article.StoryID)
				}
			}
			alertsBefore, _ := s.PendingAlerts(0)

			e := tt.enriched
			e.ArticleID = id
			now := t0.Add(time.Hour)
			alert, err := s.SaveEnriched(e, now)
			if err != nil {
				t.Fatal(err)
			}

			// Check after a reopen: the change is on disk.
			s.Close()
			s, err = Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			a, err := s.Article(id)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(a.Topics, tt.wantTopics) {
				t.Errorf("article topics = %v, want %v", a.Topics, tt.wantTopics)
			}
			if a.FullText != e.FullText || a.Text != storyText {
				t.Errorf("article texts: full %q, feed %d bytes", a.FullText, len(a.Text))
			}
			if slices.Contains(pendingEnrich(t, s, 0), id) {
				t.Error("enrich record not removed")
			}
			alerts, _ := s.PendingAlerts(0)
			if tt.wantAlert == nil {
				if alert != nil || len(alerts) != len(alertsBefore) {
					t.Errorf("unexpected alert %+v; pending %d, before %d", alert, len(alerts), len(alertsBefore))
				}
				return
			}
			if alert == nil {
				t.Fatalf("no alert, want one for %v", tt.wantAlert)
			}
			if !slices.Equal(alert.Topics, tt.wantAlert) || alert.StoryID != storyID || alert.ArticleID != id || !alert.Created.Equal(now) {
				t.Errorf("alert = %+v, want topics %v on story %d", alert, tt.wantAlert, storyID)
			}
			if len(alerts) != len(alertsBefore)+1 || alerts[len(alerts)-1].ID != alert.ID {
				t.Errorf("pending alerts = %+v", alerts)
			}
			st, _ := s.Story(storyID)
			for _, topic := range tt.wantAlert {
				if !slices.Contains(st.Topics, topic) {
					t.Errorf("story topics %v lack %s", st.Topics, topic)
				}
			}
			// The same enrichment again (a retried job) alerts nothing more.
			if again, err := s.SaveEnriched(e, now); err != nil || again != nil {
				t.Errorf("second SaveEnriched: %+v, %v", again, err)
			}
		})
	}
}

func TestSaveEnrichedKeepsFullTextWhenPageGaveNothing(t *testing.T) {
	s, _ := openTemp(t)
	id := saveOne(t, s, distinctArticle(1, nil, true), t0).Article.ID
	if _, err := s.SaveEnriched(Enriched{ArticleID: id, FullText: "первый полный текст"}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveEnriched(Enriched{ArticleID: id}, t0); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Article(id); a.FullText != "первый полный текст" {
		t.Errorf("FullText = %q", a.FullText)
	}
}

func TestSaveEnrichedUnknownArticle(t *testing.T) {
	s, _ := openTemp(t)
	if _, err := s.SaveEnriched(Enriched{ArticleID: 77, Topics: []string{"vtb"}}, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
	if alerts, _ := s.PendingAlerts(0); len(alerts) != 0 {
		t.Errorf("alert queued for a missing article: %+v", alerts)
	}
}

func TestPutSummaryFirstWins(t *testing.T) {
	s, path := openTemp(t)
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

	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
