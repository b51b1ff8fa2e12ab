package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dozor/internal/dedup"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "dozor.db")
	s, err := Open(path, Options{Command: "dozor test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	_, path := openTemp(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestSecondOpenSaysWhoHoldsTheLock(t *testing.T) {
	_, path := openTemp(t)
	start := time.Now()
	_, err := Open(path, Options{Timeout: 300 * time.Millisecond, Command: "dozor poll"})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
	if !strings.Contains(err.Error(), "dozor test") || !strings.Contains(err.Error(), "pid") {
		t.Errorf("error %q should name the holder", err)
	}
}

func TestSourcesAddIsIdempotent(t *testing.T) {
	s, _ := openTemp(t)
	now := time.Unix(1700000000, 0)
	a, created, err := s.AddSource("https://example.com/rss", "", now)
	if err != nil || !created {
		t.Fatalf("add: %v created=%v", err, created)
	}
	b, created, err := s.AddSource("https://example.com/rss", "Example", now)
	if err != nil || created || b.ID != a.ID || b.Name != "Example" {
		t.Fatalf("re-add: %+v created=%v err=%v", b, created, err)
	}
	if _, _, err := s.AddSource("https://other.example/feed", "", now); err != nil {
		t.Fatal(err)
	}
	all, _ := s.Sources()
	if len(all) != 2 {
		t.Fatalf("sources = %d, want 2", len(all))
	}
	if got, err := s.FindSource("https://example.com/rss"); err != nil || got.ID != a.ID {
		t.Errorf("find by url: %+v %v", got, err)
	}
	if err := s.UpdateSource(a.ID, func(src *Source) { src.Failures = 3; src.LastError = "server answered 404" }); err != nil {
		t.Fatal(err)
	}
	got, _ := s.FindSource("1")
	if got.Failures != 3 || got.LastError != "server answered 404" {
		t.Errorf("updated source = %+v", got)
	}
	if err := s.RemoveSource(a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindSource("https://example.com/rss"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after remove: %v", err)
	}
}

func TestTopics(t *testing.T) {
	s, _ := openTemp(t)
	now := time.Now()
	if created, err := s.PutTopic("vtb-china", "ВТБ Китай", now); err != nil || !created {
		t.Fatal(err, created)
	}
	if created, err := s.PutTopic("vtb-china", "(ВТБ OR VTB) Китай", now.Add(time.Hour)); err != nil || created {
		t.Fatal(err, created)
	}
	tp, err := s.Topic("vtb-china")
	if err != nil || tp.Query != "(ВТБ OR VTB) Китай" || !tp.Created.Equal(now) && tp.Created.Unix() != now.Unix() {
		t.Errorf("topic = %+v, %v", tp, err)
	}
	if err := s.DeleteTopic("vtb-china"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTopic("vtb-china"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

const storyText = `ВТБ рассматривает создание центра компетенций в области искусственного интеллекта на территории Китая.
Инициатива направлена на формирование площадки для прикладных совместных исследований российских и китайских специалистов.
Основная цель центра ускоренное тестирование устройств использующих технологии ИИ непосредственно на китайской территории.`

func newArticle(key, title, text string, topics []string, alertable bool) NewArticle {
	sig, ok := dedup.Sign(strings.Fields(strings.ToLower(title + " " + text)))
	return NewArticle{
		Article: Article{Key: key, URL: strings.TrimPrefix(key, "url:"), Title: title, Text: text, Topics: topics},
		Sig:     sig, HasSig: ok, Alertable: alertable,
	}
}

func TestSaveFetchesStoresOnceFoldsReprintsAndQueuesAlertsOnce(t *testing.T) {
	s, path := openTemp(t)
	now := time.Now().Truncate(time.Second)
	src, _, _ := s.AddSource("https://a.example/rss", "A", now)
	orig := newArticle("url:https://a.example/1", "ВТБ рассматривает создание ИИ-центра в Китае", storyText, []string{"vtb"}, true)
	res, err := s.SaveFetches([]FetchResult{{SourceID: src.ID, Articles: []NewArticle{orig},
		Update: func(s *Source) { s.ETag = `"v1"`; s.LastSuccess = now }}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0]) != 1 || !res[0][0].NewStory || res[0][0].Alert == nil {
		t.Fatalf("first save: %+v", res)
	}
	storyID := res[0][0].Article.StoryID
	got, _ := s.Source(src.ID)
	if got.ETag != `"v1"` || got.Items != 1 {
		t.Errorf("source state not saved with the articles: %+v", got)
	}

	// The same key again: nothing new.
	res, err = s.SaveFetches([]FetchResult{{SourceID: src.ID, Articles: []NewArticle{orig}}}, now)
	if err != nil || len(res[0]) != 0 {
		t.Fatalf("re-save: %+v %v", res, err)
	}

	// Close and reopen: the story index is rebuilt from disk.
	s.Close()
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()

	reprint := newArticle("url:https://b.example/news/77", "ВТБ рассматривает создание ИИ-центра в Китае — источники",
		storyText+" Об этом сообщили источники.", []string{"vtb", "china-ai"}, true)
	res, err = s2.SaveFetches([]FetchResult{{SourceID: src.ID, Articles: []NewArticle{reprint}}}, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r := res[0][0]
	if r.NewStory || r.Article.StoryID != storyID {
		t.Fatalf("reprint started a new story: %+v", r)
	}
	if r.Alert == nil || len(r.Alert.Topics) != 1 || r.Alert.Topics[0] != "china-ai" {
		t.Errorf("reprint should alert only for the topic not yet alerted, got %+v", r.Alert)
	}
	st, _ := s2.Story(r.Article.StoryID)
	if len(st.Articles) != 2 {
		t.Errorf("story articles = %v", st.Articles)
	}

	other := newArticle("url:https://c.example/x", "Сбербанк запустил переводы в Китай",
		"Сбербанк начал принимать мобильные переводы в Китай по номеру телефона для физических лиц без комиссии до конца года.",
		[]string{"vtb"}, false)
	res, err = s2.SaveFetches([]FetchResult{{SourceID: src.ID, Articles: []NewArticle{other}}}, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !res[0][0].NewStory || res[0][0].Alert != nil {
		t.Errorf("a different, backlog article: %+v", res[0][0])
	}
	alerts, _ := s2.PendingAlerts(0)
	if len(alerts) != 2 {
		t.Errorf("pending alerts = %d, want 2", len(alerts))
	}
	n := 0
	s2.ArticlesSince(now.Add(-time.Hour), func(a *Article) bool { n++; return true })
	if n != 3 {
		t.Errorf("ArticlesSince = %d, want 3", n)
	}
}

func TestStoriesOutsideTheWindowDoNotAbsorb(t *testing.T) {
	s, _ := openTemp(t)
	now := time.Now()
	a := newArticle("url:https://a.example/1", "ВТБ и Китай", storyText, nil, true)
	b := newArticle("url:https://b.example/1", "ВТБ и Китай", storyText, nil, true)
	if _, err := s.SaveFetches([]FetchResult{{Articles: []NewArticle{a}}}, now); err != nil {
		t.Fatal(err)
	}
	res, err := s.SaveFetches([]FetchResult{{Articles: []NewArticle{b}}}, now.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !res[0][0].NewStory {
		t.Error("a month-old story absorbed a new article")
	}
}
