package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"dozor/internal/dedup"
)

// t0 is the clock of these tests: a whole second, so JSON round trips and
// the second-resolution signature times compare equal.
var t0 = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

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

// reopen closes s and opens its file again.
func reopen(t *testing.T, s *Store) *Store {
	t.Helper()
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, Options{Command: "dozor test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	return s2
}

// sigOf is a signature that differs, in every hash, from that of any
// other seed.
func sigOf(seed uint32) dedup.Signature {
	var sig dedup.Signature
	for i := range sig {
		sig[i] = seed<<8 | uint32(i)
	}
	return sig
}

// newArt is the n-th article of a test, queued in lane; with PageNone it
// carries the signature sigOf(n).
func newArt(n int, lane PageLane) NewArticle {
	url := fmt.Sprintf("https://news%d.example/a/%d", n%3, n)
	na := NewArticle{
		Article: Article{Key: url, URL: url, Title: fmt.Sprintf("Новость %d", n), Text: fmt.Sprintf("текст %d", n),
			Source: "A", Fetched: t0, Published: t0.Add(-time.Duration(n) * time.Minute)},
		Page: lane,
		Host: HostOf(url),
	}
	if lane == PageNone {
		na.Sig, na.HasSig = sigOf(uint32(n)), true
	}
	return na
}

// save stores articles of one source and returns those stored.
func save(t *testing.T, s *Store, sourceID uint64, nas ...NewArticle) []Article {
	t.Helper()
	// The watcher always sends a state change with its articles.
	res, err := s.SaveFetches([]FetchResult{{SourceID: sourceID, Articles: nas, Update: func(*Source) {}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 {
		t.Fatalf("SaveFetches returned %d results, want 1", len(res))
	}
	return res[0]
}

// foldAll runs one FoldBatch over everything queued for folding.
func foldAll(t *testing.T, s *Store, now time.Time, fn func(*FoldTx, FoldJob) error) int {
	t.Helper()
	n, err := s.FoldBatch(1000, now, fn)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// newsAlert stores the n-th article and folds it, as the fold stage would,
// into story storyID (a new story when 0), queueing an alert on topics.
func newsAlert(t *testing.T, s *Store, storyID uint64, n int, topics ...string) Alert {
	t.Helper()
	saved := save(t, s, 0, newArt(n, PageNone))
	if len(saved) != 1 {
		t.Fatalf("article %d not stored", n)
	}
	var alert *Alert
	foldAll(t, s, t0, func(tx *FoldTx, j FoldJob) error {
		if j.Article.ID != saved[0].ID {
			return fmt.Errorf("unexpected fold job %d", j.Article.ID)
		}
		var st *Story
		var err error
		if storyID == 0 {
			st, err = tx.NewStory(&j.Article)
		} else if st, err = tx.Story(storyID); err == nil {
			err = tx.Join(st, &j.Article)
		}
		if err != nil {
			return err
		}
		alert, err = tx.QueueAlert(Alert{StoryID: st.ID, ArticleID: j.Article.ID, Topics: topics, Created: t0})
		return err
	})
	if alert == nil {
		t.Fatalf("article %d: no alert queued", n)
	}
	return *alert
}

// summarize moves alerts to the fan-out queue without summaries.
func summarize(t *testing.T, s *Store, alerts ...Alert) {
	t.Helper()
	var done []Summarized
	for _, a := range alerts {
		done = append(done, Summarized{Alert: a})
	}
	if err := s.SaveSummaries(done, t0, Usage{}); err != nil {
		t.Fatal(err)
	}
}

// fanOut runs one FanOutBatch whose plan sends each alert to who[alert id].
func fanOut(t *testing.T, s *Store, now time.Time, who map[uint64][]Recipient) (alerts, queued int) {
	t.Helper()
	alerts, queued, err := s.FanOutBatch(1000, now, func([]User) func(Alert) []Recipient {
		return func(a Alert) []Recipient { return who[a.ID] }
	})
	if err != nil {
		t.Fatal(err)
	}
	return alerts, queued
}

// deliverTo summarises alert a and fans it out to rs; it returns the
// number of messages queued.
func deliverTo(t *testing.T, s *Store, a Alert, now time.Time, rs ...Recipient) int {
	t.Helper()
	summarize(t, s, a)
	_, queued := fanOut(t, s, now, map[uint64][]Recipient{a.ID: rs})
	return queued
}

func count(t *testing.T, s *Store) Counts {
	t.Helper()
	c, err := s.Count()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func addUser(t *testing.T, s *Store, id int64, status UserStatus, inactive bool, topics ...string) {
	t.Helper()
	u := User{ID: id, ChatID: id, Name: "user", Lang: "ru", Status: status, Inactive: inactive,
		Mode: ModeInstant, TZ: "Europe/Moscow", Topics: topics, Created: t0, Updated: t0}
	if _, created, err := s.CreateUser(u); err != nil || !created {
		t.Fatalf("create user %d: created=%v err=%v", id, created, err)
	}
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	s, path := openTemp(t)
	for _, f := range []struct {
		path string
		want os.FileMode
	}{
		{path, 0o600},
		{filepath.Dir(path), 0o700},
		{path + ".owner", 0o600},
	} {
		fi, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != f.want {
			t.Errorf("%s: mode = %v, want %v", f.path, fi.Mode().Perm(), f.want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".owner"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("owner file after Close: %v", err)
	}
}

func TestSecondOpenSaysWhoHoldsTheLock(t *testing.T) {
	tests := []struct {
		name, command, want string
	}{
		{"named holder", "dozor run", "pid"},
		{"anonymous holder", "", "another process"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dozor.db")
			holder, err := Open(path, Options{Command: tt.command})
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Close()
			_, err = Open(path, Options{Timeout: 50 * time.Millisecond, Command: "dozor poll"})
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("err = %v, want ErrLocked", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.command) {
				t.Errorf("error %q should contain %q and %q", err, tt.want, tt.command)
			}
			if strings.Contains(err.Error(), "dozor poll") {
				t.Errorf("error %q names the process that failed, not the holder", err)
			}

			if err := holder.Close(); err != nil {
				t.Fatal(err)
			}
			again, err := Open(path, Options{Timeout: 50 * time.Millisecond})
			if err != nil {
				t.Fatalf("open after the holder closed: %v", err)
			}
			again.Close()
		})
	}
}

func TestMeta(t *testing.T) {
	s, _ := openTemp(t)
	if v, err := s.GetMeta("missing"); err != nil || v != nil {
		t.Errorf("missing key = %q, %v; want nil", v, err)
	}
	if err := s.SetMeta("schema", []byte("7")); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	if v, err := s.GetMeta("schema"); err != nil || string(v) != "7" {
		t.Errorf("after reopen = %q, %v", v, err)
	}
}

// oldDatabase writes, with bbolt only, a file as a version before the
// staged pipeline left it: articles and the enrich bucket, keyed by
// big-endian article id, and none of the new buckets.
func oldDatabase(t *testing.T, arts []Article, enrich []uint64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		ab, err := tx.CreateBucket([]byte("articles"))
		if err != nil {
			return err
		}
		for _, a := range arts {
			data, err := json.Marshal(a)
			if err != nil {
				return err
			}
			if err := ab.Put(itob(a.ID), data); err != nil {
				return err
			}
		}
		// Ids were handed out by the bucket's sequence, as they are now.
		if err := ab.SetSequence(uint64(len(arts))); err != nil {
			return err
		}
		eb, err := tx.CreateBucket([]byte("enrich"))
		if err != nil {
			return err
		}
		for _, id := range enrich {
			if err := eb.Put(itob(id), []byte(t0.Format(time.RFC3339))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func hasBucket(t *testing.T, path, name string) bool {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	found := false
	_ = db.View(func(tx *bolt.Tx) error { found = tx.Bucket([]byte(name)) != nil; return nil })
	return found
}

func TestOpenMovesOldEnrichQueueToBulkLane(t *testing.T) {
	arts := []Article{
		{ID: 3, Key: "k3", URL: "https://News.Example.COM:8443/a/3", Title: "три", StoryID: 2},
		{ID: 4, Key: "k4", URL: "https://c.example/4", Title: "четыре"}, // not queued
		{ID: 5, Key: "k5", URL: "https://b.example/x?y=1", Title: "пять"},
	}
	path := oldDatabase(t, arts, []uint64{3, 5, 7}) // 7: an article that is gone

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []PageJob{{3, PageBulk, "news.example.com"}, {5, PageBulk, "b.example"}}
	if got, err := s.QueuedPages(PageBulk, 0); err != nil || !slices.Equal(got, want) {
		t.Errorf("bulk lane = %+v, %v; want %+v", got, err, want)
	}
	if got, _ := s.QueuedPages(PageUrgent, 0); len(got) != 0 {
		t.Errorf("urgent lane = %+v, want empty", got)
	}
	if c := count(t, s); c.PagesBulk != 2 || c.PagesUrgent != 0 || c.Fold != 0 || c.Articles != 3 {
		t.Errorf("counts = %+v", c)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if hasBucket(t, path, "enrich") {
		t.Error("enrich bucket still there after Open")
	}
	if !hasBucket(t, path, "page_queue") {
		t.Error("no page_queue bucket after Open")
	}

	// A second Open leaves the queue as it is, and the migrated jobs go on
	// through the page stage like any other.
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, _ := s.QueuedPages(PageBulk, 0); !slices.Equal(got, want) {
		t.Errorf("bulk lane after second open = %+v", got)
	}
	if err := s.SavePages([]PageResult{{ArticleID: 3, Lane: PageBulk, FullText: "полный"}}); err != nil {
		t.Fatal(err)
	}
	if c := count(t, s); c.PagesBulk != 1 || c.Fold != 1 {
		t.Errorf("after SavePages of a migrated job: %+v", c)
	}
}

func TestCountAndUrgentWork(t *testing.T) {
	s, _ := openTemp(t)
	check := func(step string, want Counts, urgent bool) {
		t.Helper()
		if got := count(t, s); got != want {
			t.Errorf("%s: Count = %+v\nwant %+v", step, got, want)
		}
		if got := s.UrgentWork(); got != urgent {
			t.Errorf("%s: UrgentWork = %v, want %v", step, got, urgent)
		}
	}
	check("empty", Counts{}, false)

	src, _, err := s.AddSource(NewSource{URL: "https://a.example/rss"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutTopic("vtb", "ВТБ", t0); err != nil {
		t.Fatal(err)
	}
	save(t, s, src.ID, newArt(1, PageBulk), newArt(2, PageBulk))
	check("bulk pages only", Counts{Sources: 1, Topics: 1, Articles: 2, PagesBulk: 2, Index: 2}, false)

	urgent := save(t, s, src.ID, newArt(3, PageUrgent))[0]
	check("an urgent page", Counts{Sources: 1, Topics: 1, Articles: 3, PagesBulk: 2, PagesUrgent: 1, Index: 3}, true)

	if err := s.SavePages([]PageResult{{ArticleID: urgent.ID, Lane: PageUrgent, Topics: []string{"vtb"}, Matched: t0}}); err != nil {
		t.Fatal(err)
	}
	check("a fold job", Counts{Sources: 1, Topics: 1, Articles: 3, PagesBulk: 2, Fold: 1, Index: 3}, true)

	var alert *Alert
	foldAll(t, s, t0, func(tx *FoldTx, j FoldJob) error {
		st, err := tx.NewStory(&j.Article)
		if err != nil {
			return err
		}
		alert, err = tx.QueueAlert(Alert{StoryID: st.ID, ArticleID: j.Article.ID, Topics: []string{"vtb"}})
		return err
	})
	check("an alert", Counts{Sources: 1, Topics: 1, Articles: 3, Stories: 1, PagesBulk: 2, Alerts: 1, Index: 3}, true)

	summarize(t, s, *alert)
	check("a fan-out entry", Counts{Sources: 1, Topics: 1, Articles: 3, Stories: 1, PagesBulk: 2, Fanout: 1, Index: 3}, true)

	fanOut(t, s, t0, map[uint64][]Recipient{alert.ID: {{UserID: 1, Topics: []string{"vtb"}}}})
	check("bulk pages and the outbox", Counts{Sources: 1, Topics: 1, Articles: 3, Stories: 1, PagesBulk: 2, Outbox: 1, Index: 3}, false)
}

// Everything the stages leave in the file, records and queues alike,
// survives Close and reopening it.
func TestStateSurvivesReopen(t *testing.T) {
	s, _ := openTemp(t)
	addUser(t, s, 1, StatusApproved, false, "vtb", "china-ai")
	addUser(t, s, 2, StatusApproved, false, "vtb")
	addUser(t, s, 3, StatusApproved, false, "vtb")
	addUser(t, s, 4, StatusPending, false, "vtb")
	if _, err := s.PutTopic("vtb", "ВТБ", t0); err != nil {
		t.Fatal(err)
	}
	src, _, err := s.AddSource(NewSource{URL: "https://a.example/rss", Name: "A", FullText: FullTextOn}, t0)
	if err != nil {
		t.Fatal(err)
	}

	// A story with a signature, fanned out to users 1-3: sent to 1,
	// refused for 2, waiting for a retry for 3.
	a := newsAlert(t, s, 0, 1, "vtb")
	rs := []Recipient{{UserID: 1, Topics: []string{"vtb"}}, {UserID: 2, Topics: []string{"vtb"}}, {UserID: 3, Topics: []string{"vtb"}}}
	if n := deliverTo(t, s, a, t0, rs...); n != 3 {
		t.Fatalf("queued %d, want 3", n)
	}
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

	// One of each queue: pages in both lanes, a fold job, an alert and a
	// fan-out entry.
	pending := newsAlert(t, s, 0, 13, "vtb")
	fanned := newsAlert(t, s, 0, 14, "vtb")
	summarize(t, s, fanned)
	pages := save(t, s, src.ID, newArt(10, PageUrgent), newArt(11, PageBulk), newArt(12, PageNone))
	save(t, s, src.ID, newArt(15, PageNone))

	if err := s.AddUsage(t0, Usage{Sent: 4}); err != nil {
		t.Fatal(err)
	}
	sum := Summary{StoryID: a.StoryID, Lang: "ru", Text: "ВТБ создаёт ИИ-центр в Китае.", KeyPoints: []string{"центр"}, Created: t0}
	if _, err := s.PutSummary(sum); err != nil {
		t.Fatal(err)
	}
	story, err := s.Story(a.StoryID)
	if err != nil {
		t.Fatal(err)
	}
	before := count(t, s)

	s = reopen(t, s)

	if got := count(t, s); got != before {
		t.Errorf("counts after reopen = %+v\nwant %+v", got, before)
	}
	users, err := s.Users()
	if err != nil || len(users) != 4 || users[3].Status != StatusPending || !slices.Equal(users[0].Topics, []string{"vtb", "china-ai"}) {
		t.Errorf("users after reopen = %+v, %v", users, err)
	}
	if tp, err := s.Topic("vtb"); err != nil || tp.Query != "ВТБ" {
		t.Errorf("topic after reopen = %+v, %v", tp, err)
	}
	if got, err := s.Source(src.ID); err != nil || got.Name != "A" || got.FullText != FullTextOn || got.Items != 4 {
		t.Errorf("source after reopen = %+v, %v", got, err)
	}
	if got, err := s.Story(a.StoryID); err != nil || got.Title != story.Title || !slices.Equal(got.Articles, story.Articles) {
		t.Errorf("story after reopen = %+v, %v", got, err)
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
	if got, _ := s.QueuedPages(PageUrgent, 0); len(got) != 1 || got[0].ArticleID != pages[0].ID || got[0].Host != HostOf(pages[0].URL) {
		t.Errorf("urgent pages after reopen = %+v", got)
	}
	if got, _ := s.QueuedPages(PageBulk, 0); len(got) != 1 || got[0].ArticleID != pages[1].ID {
		t.Errorf("bulk pages after reopen = %+v", got)
	}
	if got, _ := s.PendingAlerts(0, 0); len(got) != 1 || got[0].ID != pending.ID {
		t.Errorf("pending alerts after reopen = %+v", got)
	}
	if u, _ := s.Usage(t0); u.Sent != 4 {
		t.Errorf("usage after reopen = %+v", u)
	}
	if got, err := s.Summary(a.StoryID, "ru"); err != nil || got.Text != sum.Text || !got.Created.Equal(t0) {
		t.Errorf("summary after reopen = %+v, %v", got, err)
	}
	var folded []FoldJob
	foldAll(t, s, t0, func(_ *FoldTx, j FoldJob) error { folded = append(folded, j); return nil })
	if len(folded) != 2 || folded[0].Article.ID != pages[2].ID ||
		!folded[0].HasSig || folded[0].Sig != sigOf(12) || !folded[1].HasSig || folded[1].Sig != sigOf(15) {
		t.Errorf("fold queue after reopen = %+v", folded)
	}

	// One message per story per subscriber holds across the restart: sent
	// (1) and refused (2) get nothing, queued (3) gains the topic.
	b := newsAlert(t, s, a.StoryID, 20, "china-ai")
	rs = []Recipient{{UserID: 1, Topics: []string{"china-ai"}}, {UserID: 2, Topics: []string{"china-ai"}}, {UserID: 3, Topics: []string{"china-ai"}}}
	summarize(t, s, b)
	if n, queued := fanOut(t, s, t0.Add(time.Minute), map[uint64][]Recipient{fanned.ID: nil, b.ID: rs}); n != 2 || queued != 0 {
		t.Errorf("fan-out after reopen: %d alerts, %d queued; want 2, 0", n, queued)
	}
	got := byUser(t, s)
	if len(got) != 1 || !slices.Equal(got[3].Topics, []string{"vtb", "china-ai"}) {
		t.Errorf("outbox = %+v", got)
	}
}
