package storage

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const day = 24 * time.Hour

// oldArt is the n-th test article stored at fetched, published an hour
// before, matching topics.
func oldArt(n int, lane PageLane, fetched time.Time, topics ...string) NewArticle {
	na := newArt(n, lane)
	na.Fetched, na.Published = fetched, fetched.Add(-time.Hour)
	na.Text = fmt.Sprintf("текст статьи %d: %s", n, strings.Repeat("ВТБ открывает центр в Китае. ", 12))
	na.Topics = topics
	if len(topics) > 0 {
		na.Matched = fetched
	}
	return na
}

// newsFor is jobs/fold.go's rule (newsTopics): the topics the article
// matched that its story has not alerted on yet; backlog never is news.
func newsFor(a *Article, st *Story) []string {
	if a.Backlog {
		return nil
	}
	var out []string
	for _, t := range a.Topics {
		if !slices.Contains(st.Topics, t) && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// foldEverything folds every queued article at now, as the fold stage
// does: into story join (a new story each when 0), recording the story's
// signature and queueing an alert for what is news. It returns the alerts.
func foldEverything(t *testing.T, s *Store, now time.Time, join uint64) []Alert {
	t.Helper()
	var alerts []Alert
	for {
		n, err := s.FoldBatch(1000, now, func(tx *FoldTx, j FoldJob) error {
			a := &j.Article
			var st *Story
			var err error
			if join != 0 {
				if st, err = tx.Story(join); err != nil {
					return err
				}
				if err := tx.Join(st, a); err != nil {
					return err
				}
			} else if st, err = tx.NewStory(a); err != nil {
				return err
			}
			if j.HasSig {
				if err := tx.PutSig(st.ID, j.Sig); err != nil {
					return err
				}
			}
			news := newsFor(a, st)
			if len(news) == 0 {
				return nil
			}
			st.Topics = append(st.Topics, news...)
			if err := tx.SaveStory(st); err != nil {
				return err
			}
			al, err := tx.QueueAlert(Alert{StoryID: st.ID, ArticleID: a.ID, Topics: news, Created: now})
			if err == nil {
				alerts = append(alerts, *al)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return alerts
		}
	}
}

// sendAll summarises alerts, fans each out to rs and marks what was queued
// sent at now. It returns the number of messages queued.
func sendAll(t *testing.T, s *Store, now time.Time, alerts []Alert, rs ...Recipient) int {
	t.Helper()
	who := map[uint64][]Recipient{}
	for _, a := range alerts {
		who[a.ID] = rs
	}
	summarize(t, s, alerts...)
	_, queued := fanOut(t, s, now, who)
	msgs := outbox(t, s, now.Add(time.Hour), 0)
	if err := s.MarkSent(msgIDs(msgs), now); err != nil {
		t.Fatal(err)
	}
	return queued
}

// drainIndex takes everything off the index queue, as the index stage
// would.
func drainIndex(t *testing.T, s *Store) {
	t.Helper()
	for {
		ids, err := s.QueuedForIndex(10_000)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 {
			return
		}
		if err := s.Indexed(ids); err != nil {
			t.Fatal(err)
		}
	}
}

func prune(t *testing.T, s *Store, now time.Time, keep time.Duration) PruneReport {
	t.Helper()
	rep, err := s.Prune(now, keep)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestPruneDropsOldTextsKeepsIdentity(t *testing.T) {
	s, _ := openTemp(t)
	now := t0
	keep := 365 * day
	addUser(t, s, 7, StatusApproved, false, "vtb")

	// Two old articles of one story that alerted; one has a page text.
	old1 := save(t, s, 0, oldArt(1, PageUrgent, now.Add(-400*day), "vtb"))[0]
	if err := s.SavePages([]PageResult{{ArticleID: old1.ID, Lane: PageUrgent, FullText: strings.Repeat("полный текст ", 500),
		Topics: []string{"vtb"}, Sig: sigOf(1), HasSig: true}}); err != nil {
		t.Fatal(err)
	}
	alerts := foldEverything(t, s, now.Add(-400*day), 0)
	if len(alerts) != 1 {
		t.Fatalf("alerts = %v", alerts)
	}
	story := alerts[0].StoryID
	if n := sendAll(t, s, now.Add(-400*day), alerts, to(7, "vtb")); n != 1 {
		t.Fatalf("queued %d", n)
	}
	old2 := save(t, s, 0, oldArt(2, PageNone, now.Add(-380*day), "vtb"))[0]
	if a := foldEverything(t, s, now.Add(-380*day), story); len(a) != 0 {
		t.Fatalf("a reprint alerted: %v", a)
	}
	// Backlog stored yesterday that was published long ago (its time key
	// is old, and it comes next in id order), then recent articles, one
	// with a page text.
	bl := oldArt(5, PageNone, now.Add(-day))
	bl.Published, bl.Backlog = now.Add(-500*day), true
	backlog := save(t, s, 0, bl)[0]
	new1 := save(t, s, 0, oldArt(3, PageBulk, now.Add(-10*day)))[0]
	if err := s.SavePages([]PageResult{{ArticleID: new1.ID, Lane: PageBulk, FullText: "страница новой статьи", Sig: sigOf(3), HasSig: true}}); err != nil {
		t.Fatal(err)
	}
	new2 := save(t, s, 0, oldArt(4, PageNone, now.Add(-day)))[0]
	foldEverything(t, s, now.Add(-day), 0)
	drainIndex(t, s)

	before := map[uint64]Article{}
	for _, id := range []uint64{old1.ID, old2.ID, new1.ID, new2.ID, backlog.ID} {
		a, err := s.Article(id)
		if err != nil {
			t.Fatal(err)
		}
		before[id] = a
	}

	// Every article has its embedding; the old ones lose it with the text.
	var vecs []ArticleVector
	for id := range before {
		vecs = append(vecs, ArticleVector{ID: id, Vector: []byte{1, 2, 3}, Entities: []string{"vtb"}})
	}
	if err := s.SaveVectors(vecs, nil); err != nil {
		t.Fatal(err)
	}

	rep := prune(t, s, now, keep)
	for id := range before {
		_, _, has, err := s.ArticleVector(id)
		if err != nil {
			t.Fatal(err)
		}
		if wantVec := id != old1.ID && id != old2.ID; has != wantVec {
			t.Errorf("article %d: vector kept %v after prune, want %v", id, has, wantVec)
		}
	}
	if rep.Texts != 2 || rep.FullTexts != 1 || rep.Delivered != 1 || rep.Held != 0 {
		t.Errorf("report = %+v, want 2 texts, 1 full text, 1 delivery record", rep)
	}
	// The text itself went, not only the article's reference to it.
	if texts, refs := pageTextKeys(t, s); len(texts) != len(refs) {
		t.Errorf("after prune %d page texts for %d references: %d left behind", len(texts), len(refs), len(texts)-len(refs))
	}

	for _, id := range []uint64{old1.ID, old2.ID} {
		got, err := s.Article(id)
		if err != nil {
			t.Fatal(err)
		}
		want := before[id]
		if got.Text != "" || got.FullText != "" {
			t.Errorf("article %d kept its text: %q / %d bytes of full text", id, got.Text, len(got.FullText))
		}
		want.Text, want.FullText = "", ""
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("article %d changed beyond its text:\n got %+v\nwant %+v", id, got, want)
		}
		if got.StoryID != story || got.Title == "" || got.URL == "" || !slices.Equal(got.Topics, []string{"vtb"}) {
			t.Errorf("article %d lost its identity: %+v", id, got)
		}
	}
	for _, id := range []uint64{new1.ID, new2.ID, backlog.ID} {
		got, err := s.Article(id)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(before[id]) {
			t.Errorf("recent article %d changed:\n got %+v\nwant %+v", id, got, before[id])
		}
	}
	if got, _ := s.Article(new1.ID); got.FullText == "" {
		t.Error("a recent article lost its full text")
	}
	if got, _ := s.Article(backlog.ID); got.Text == "" {
		t.Error("backlog stored yesterday lost its text because it was published long ago")
	}

	// The archive still lists them and dedup still knows them.
	known, err := s.KnownKeys([]string{old1.Key, old2.Key})
	if err != nil || len(known) != 2 {
		t.Errorf("known keys after prune = %v, %v", known, err)
	}
	var listed []uint64
	if err := s.ArticlesSince(now.Add(-1000*day), func(a *Article) bool { listed = append(listed, a.ID); return true }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 5 {
		t.Errorf("archive lists %v, want all 5", listed)
	}
	st, err := s.Story(story)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Topics, []string{"vtb"}) || !slices.Equal(st.Articles, []uint64{old1.ID, old2.ID}) {
		t.Errorf("story after prune = %+v", st)
	}
	// The index learns that they lost their text.
	queued, err := s.QueuedForIndex(100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(queued, []uint64{old1.ID, old2.ID}) {
		t.Errorf("queued for the index = %v, want %v", queued, []uint64{old1.ID, old2.ID})
	}

	// Idempotent: nothing more to drop, and no write at all.
	commits := s.Commits()
	if rep := prune(t, s, now, keep); rep != (PruneReport{}) {
		t.Errorf("second prune = %+v, want nothing", rep)
	}
	if c := s.Commits() - commits; c != 0 {
		t.Errorf("second prune wrote %d transactions, want 0", c)
	}
	// A reopened store agrees.
	s = reopen(t, s)
	if a, _ := s.Article(old1.ID); a.Text != "" || a.Title != before[old1.ID].Title {
		t.Errorf("after reopen: %+v", a)
	}
}

func TestPruneKeepsUnknownFields(t *testing.T) {
	rec := []byte(`{"id":1,"title":"t","text":"drop me","future":{"a":[1,2]},"topics":["x"]}`)
	slim, err := textless(rec)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(slim, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["text"]; ok {
		t.Errorf("text kept: %s", slim)
	}
	if fmt.Sprint(m["future"]) != "map[a:[1 2]]" || m["title"] != "t" || fmt.Sprint(m["topics"]) != "[x]" {
		t.Errorf("fields lost: %s", slim)
	}
	if again, err := textless(slim); err != nil || again != nil {
		t.Errorf("a record without text: %s, %v; want nil", again, err)
	}
}

// putRaw writes raw records, for states the API reaches only slowly.
func putRaw(t *testing.T, s *Store, bucket []byte, kv ...[]byte) {
	t.Helper()
	err := s.update(func(tx *bolt.Tx) error {
		for i := 0; i+1 < len(kv); i += 2 {
			if err := tx.Bucket(bucket).Put(kv[i], kv[i+1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func finalState(state byte, at time.Time) []byte {
	v := append([]byte{state}, itob(uint64(at.Unix()))...)
	return v
}

func TestPruneDeliveredOnlyWhatCanNeverBeSentAgain(t *testing.T) {
	s, _ := openTemp(t)
	now, keep := t0, 365*day
	long := now.Add(-400 * day)
	stories := map[uint64]time.Time{
		1: long,                // dead for a year
		2: now.Add(-day),       // old, but still taking reprints
		3: long,                // dead, but an alert of it waits to be fanned out
		4: now.Add(-200 * day), // dead
	}
	for id, updated := range stories {
		data, _ := json.Marshal(Story{ID: id, Title: "s", Created: long, Updated: updated, Topics: []string{"vtb"}})
		putRaw(t, s, bucketStories, itob(id), data)
	}
	data, _ := json.Marshal(Alert{ID: 1, StoryID: 3, ArticleID: 30, Topics: []string{"china"}})
	putRaw(t, s, bucketFanoutQueue, itob(1), data)

	type rec struct {
		user  int64
		story uint64
		val   []byte
		keep  bool
		why   string
	}
	recs := []rec{
		{1, 1, finalState(deliverySent, long), false, "sent a year ago, story dead"},
		{2, 1, finalState(deliveryDropped, long), false, "refused a year ago, story dead"},
		{1, 99, finalState(deliverySent, long), false, "sent a year ago, story gone"},
		{1, 2, finalState(deliverySent, long), true, "story still live"},
		{1, 3, finalState(deliverySent, long), true, "story has an alert queued"},
		{1, 4, finalState(deliverySent, now.Add(-10*day)), true, "sent recently"},
		{2, 4, append([]byte{deliveryQueued}, itob(1)...), true, "queued"},
		{3, 4, append([]byte{'h'}, itob(1)...), true, "held for a digest"},
		{4, 4, append([]byte{'?'}, itob(1)...), true, "a state this version does not know"},
	}
	for _, r := range recs {
		putRaw(t, s, bucketDelivered, deliveryKey(r.user, r.story), r.val)
	}
	rep := prune(t, s, now, keep)
	if rep.Delivered != 3 {
		t.Errorf("dropped %d delivery records, want 3", rep.Delivered)
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		for _, r := range recs {
			got := tx.Bucket(bucketDelivered).Get(deliveryKey(r.user, r.story)) != nil
			if got != r.keep {
				t.Errorf("(%d, %d) %s: kept = %v, want %v", r.user, r.story, r.why, got, r.keep)
			}
		}
		return nil
	})
	if s.Delivered(1, 1) || !s.Delivered(1, 2) {
		t.Error("Delivered disagrees with the records")
	}
	// Once the live story dies and the alert is fanned out, theirs go too.
	_ = s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketFanoutQueue).Delete(itob(1)) })
	if rep := prune(t, s, now.Add(30*day), keep); rep.Delivered != 2 {
		t.Errorf("a month later dropped %d, want 2 (stories 2 and 3)", rep.Delivered)
	}
}

// A story that alerted never alerts again for the same topic, and nobody
// who got it gets it again, after its old texts and records were pruned.
func TestPruneKeepsDedup(t *testing.T) {
	s, _ := openTemp(t)
	now, keep := t0, 2*day
	addUser(t, s, 1, StatusApproved, false, "vtb")
	addUser(t, s, 2, StatusApproved, false, "china")

	save(t, s, 0, oldArt(1, PageNone, now.Add(-3*day), "vtb"))
	alerts := foldEverything(t, s, now.Add(-3*day), 0)
	if len(alerts) != 1 {
		t.Fatalf("alerts = %v", alerts)
	}
	story := alerts[0].StoryID
	if n := sendAll(t, s, now.Add(-3*day), alerts, to(1, "vtb")); n != 1 {
		t.Fatalf("queued %d", n)
	}
	// A reprint a day and a half later keeps the story alive.
	save(t, s, 0, oldArt(2, PageNone, now.Add(-36*time.Hour), "vtb"))
	if a := foldEverything(t, s, now.Add(-36*time.Hour), story); len(a) != 0 {
		t.Fatalf("reprint alerted: %v", a)
	}

	rep := prune(t, s, now, keep)
	if rep.Texts != 1 {
		t.Errorf("texts dropped = %d, want 1 (the first article)", rep.Texts)
	}
	if rep.Delivered != 0 || !s.Delivered(1, story) {
		t.Fatalf("the live story's delivery record was dropped: %+v", rep)
	}

	// Another reprint, on the same topic: not news.
	save(t, s, 0, oldArt(3, PageNone, now, "vtb"))
	if a := foldEverything(t, s, now, story); len(a) != 0 {
		t.Errorf("a reprint of a pruned story alerted again: %v", a)
	}
	// A reprint that also matches a further topic alerts for that one only,
	// and reaches nobody who got the story.
	save(t, s, 0, oldArt(4, PageNone, now, "vtb", "china"))
	a := foldEverything(t, s, now, story)
	if len(a) != 1 || !slices.Equal(a[0].Topics, []string{"china"}) {
		t.Fatalf("alerts = %+v, want one on china", a)
	}
	summarize(t, s, a...)
	_, queued := fanOut(t, s, now, map[uint64][]Recipient{a[0].ID: {to(1, "vtb", "china"), to(2, "china")}})
	if queued != 1 {
		t.Errorf("queued %d messages, want 1 (user 2 only)", queued)
	}
	for _, m := range outbox(t, s, now.Add(time.Hour), 0) {
		if m.UserID == 1 {
			t.Errorf("user 1 got the story again: %+v", m)
		}
	}

	// Long after the story died, its records go, and its topics stay.
	drop := outbox(t, s, now.Add(time.Hour), 0)
	if err := s.MarkSent(msgIDs(drop), now); err != nil {
		t.Fatal(err)
	}
	if rep := prune(t, s, now.Add(30*day), keep); rep.Delivered != 2 {
		t.Errorf("a month later dropped %d delivery records, want 2", rep.Delivered)
	}
	st, err := s.Story(story)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Topics, []string{"vtb", "china"}) || st.Count != 4 {
		t.Errorf("story = %+v", st)
	}
}

func TestPruneSignaturesPastTheFoldWindow(t *testing.T) {
	s, _ := openTemp(t)
	now := t0
	var ids []uint64
	for i, seen := range []time.Duration{30 * day, 8 * day, 6 * day, time.Hour} {
		save(t, s, 0, oldArt(i+1, PageNone, now.Add(-seen)))
		foldEverything(t, s, now.Add(-seen), 0)
		ids = append(ids, uint64(i+1))
	}
	window := storySigs(t, s, now.Add(-72*time.Hour))
	all := storySigs(t, s, time.Time{})
	if len(all) != 4 {
		t.Fatalf("signatures = %d, want 4", len(all))
	}
	// keep 0: articles stay for ever, dead signatures still go.
	rep := prune(t, s, now, 0)
	if rep.Signatures != 2 || rep.Texts != 0 {
		t.Errorf("report = %+v, want 2 signatures and no texts", rep)
	}
	left := storySigs(t, s, time.Time{})
	if _, ok := left[ids[0]]; ok || len(left) != 2 {
		t.Errorf("left %v", left)
	}
	if got := storySigs(t, s, now.Add(-72*time.Hour)); fmt.Sprint(got) != fmt.Sprint(window) {
		t.Errorf("the fold stage's view changed: %v, was %v", got, window)
	}
	if a, _ := s.Article(1); a.Text == "" {
		t.Error("keep 0 dropped a text")
	}
	if rep := prune(t, s, now, 0); rep.Signatures != 0 {
		t.Errorf("second prune dropped %d signatures", rep.Signatures)
	}
}

func TestPruneUsage(t *testing.T) {
	s, _ := openTemp(t)
	now, keep := t0, 365*day
	days := []time.Duration{400 * day, 366 * day, 365 * day, 364 * day, 0}
	for _, d := range days {
		if err := s.AddUsage(now.Add(-d), Usage{Calls: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if rep := prune(t, s, now, keep); rep.Usage != 2 {
		t.Errorf("dropped %d days, want 2", rep.Usage)
	}
	for i, d := range days {
		u, err := s.Usage(now.Add(-d))
		if err != nil {
			t.Fatal(err)
		}
		if want := i >= 2; (u.Calls == 1) != want {
			t.Errorf("day -%v: calls %d, kept should be %v", d, u.Calls, want)
		}
	}
}

func TestPruneSparesArticlesThePipelineHolds(t *testing.T) {
	s, _ := openTemp(t)
	now, keep := t0, 30*day
	long := now.Add(-60 * day)
	mark := func() uint64 { m, _ := s.GetMeta(metaPruneMark); return btoi(m) }
	// 1 waits for its page; 2, stored after it, is done with.
	save(t, s, 0, oldArt(1, PageUrgent, long, "vtb"))
	save(t, s, 0, oldArt(2, PageNone, long))
	foldEverything(t, s, long, 0)
	rep := prune(t, s, now, keep)
	if rep.Held != 1 || rep.Texts != 1 || mark() != 0 {
		t.Errorf("report = %+v, mark %d; want article 1 held, article 2 pruned, the mark before 1", rep, mark())
	}
	if a, _ := s.Article(1); a.Text == "" {
		t.Error("article 1 lost its text while it waits for its page")
	}
	if a, _ := s.Article(2); a.Text != "" {
		t.Error("article 2 kept its text")
	}
	// Its page arrives: it waits for its fold now.
	if err := s.SavePages([]PageResult{{ArticleID: 1, Lane: PageUrgent, FullText: "страница", Topics: []string{"vtb"}, Sig: sigOf(1), HasSig: true}}); err != nil {
		t.Fatal(err)
	}
	commits := s.Commits()
	if rep := prune(t, s, now, keep); rep.Held != 1 || rep.Texts != 0 {
		t.Errorf("in the fold queue: %+v", rep)
	}
	if c := s.Commits() - commits; c != 0 {
		t.Errorf("looking again at what is held wrote %d transactions", c)
	}
	// Folded, its alert waits for a summary, then for its fan-out.
	alerts := foldEverything(t, s, long, 0)
	if len(alerts) != 1 {
		t.Fatalf("alerts = %v", alerts)
	}
	if rep := prune(t, s, now, keep); rep.Held != 1 || rep.Texts != 0 {
		t.Errorf("with its alert queued: %+v", rep)
	}
	summarize(t, s, alerts...)
	if rep := prune(t, s, now, keep); rep.Held != 1 {
		t.Errorf("with its alert in the fan-out queue: %+v", rep)
	}
	fanOut(t, s, now, nil)
	rep = prune(t, s, now, keep)
	if rep.Held != 0 || rep.Texts != 1 || rep.FullTexts != 1 || mark() != 2 {
		t.Errorf("once the pipeline let go: %+v, mark %d; want article 1's text and full text, mark 2", rep, mark())
	}
}

func TestPruneWorksInChunks(t *testing.T) {
	s, _ := openTemp(t)
	now, keep := t0, 30*day
	n := 2*pruneChunk + 7
	var nas []NewArticle
	for i := range n {
		na := oldArt(i+1, PageNone, now.Add(-60*day))
		na.Key, na.URL = fmt.Sprintf("https://e.example/%d", i), fmt.Sprintf("https://e.example/%d", i)
		nas = append(nas, na)
	}
	save(t, s, 0, nas...)
	foldEverything(t, s, now, 0) // signatures seen now: not pruned
	commits := s.Commits()
	rep := prune(t, s, now, keep)
	if rep.Texts != n {
		t.Errorf("texts = %d, want %d", rep.Texts, n)
	}
	// Three chunks of texts (2000, 2000, 7), and no write for the rest.
	if c := s.Commits() - commits; c != 3 {
		t.Errorf("prune took %d write transactions, want 3", c)
	}
	mark, _ := s.GetMeta(metaPruneMark)
	if btoi(mark) != uint64(n) {
		t.Errorf("mark = %d, want %d", btoi(mark), n)
	}
	// Interrupted half-way (the mark set back, as after a crash between
	// chunks), a rerun drops nothing twice and finishes.
	if err := s.SetMeta(metaPruneMark, itob(pruneChunk)); err != nil {
		t.Fatal(err)
	}
	if rep := prune(t, s, now, keep); rep.Texts != 0 {
		t.Errorf("rerun dropped %d texts", rep.Texts)
	}
	if mark, _ := s.GetMeta(metaPruneMark); btoi(mark) != uint64(n) {
		t.Errorf("mark after rerun = %d", btoi(mark))
	}
}

// growthWorld writes articles the way dozor run does, pass after pass:
// SaveFetches of 20 sources, the pages of the teaser-only ones, folding
// (a quarter are reprints), summaries and deliveries of what alerts, the
// index queue drained, usage counted.
type growthWorld struct {
	s       *Store
	rng     *rand.Rand
	n       int
	stories []uint64
}

var growthWords = strings.Fields(`банк ВТБ Сбербанк Китай искусственный интеллект центр компетенций
санкции рубль курс инфраструктура решения партнер Huawei представительство Шанхай регулятор
bank China artificial intelligence sanctions payments cross-border fintech launch partnership
regulator central digital yuan platform customers growth report quarter`)

func (w *growthWorld) text(chars int) string {
	var b strings.Builder
	for b.Len() < chars {
		b.WriteString(growthWords[w.rng.IntN(len(growthWords))])
		if w.rng.IntN(9) == 0 {
			b.WriteString(". ")
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// pass stores 100 articles fetched at now.
func (w *growthWorld) pass(tb testing.TB, now time.Time) {
	s := w.s
	var results []FetchResult
	var pages []PageResult
	for src := range 20 {
		var nas []NewArticle
		for range 5 {
			w.n++
			url := fmt.Sprintf("https://news%d.example.ru/2025/03/14/article-%d-%s", src, w.n, "vtb-otkryvaet-centr")
			na := NewArticle{Article: Article{Key: url, URL: url, Title: w.text(80), Text: w.text(400),
				SourceID: uint64(src + 1), Source: fmt.Sprintf("Источник %d", src), Published: now.Add(-time.Hour), Fetched: now, Lang: "ru"}}
			if w.rng.IntN(20) == 0 {
				na.Topics, na.Matched = []string{"vtb-china"}, now
			}
			if src < 6 { // teaser-only sources: their pages are fetched
				na.Page, na.Host = PageBulk, HostOf(url)
			} else {
				na.Sig, na.HasSig = sigOf(uint32(w.n)), true
			}
			nas = append(nas, na)
		}
		results = append(results, FetchResult{SourceID: uint64(src + 1), Articles: nas})
	}
	saved, err := s.SaveFetches(results)
	if err != nil {
		tb.Fatal(err)
	}
	for i, arts := range saved {
		if i >= 6 {
			continue
		}
		for _, a := range arts {
			pages = append(pages, PageResult{ArticleID: a.ID, Lane: PageBulk, FullText: w.text(6000), Topics: a.Topics,
				Matched: a.Matched, Sig: sigOf(uint32(a.ID)), HasSig: true})
		}
	}
	if err := s.SavePages(pages); err != nil {
		tb.Fatal(err)
	}
	var alerts []Alert
	_, err = s.FoldBatch(1000, now, func(tx *FoldTx, j FoldJob) error {
		a := &j.Article
		var st *Story
		if len(w.stories) > 0 && w.rng.IntN(4) == 0 {
			var err error
			if st, err = tx.Story(w.stories[len(w.stories)-1-w.rng.IntN(min(200, len(w.stories)))]); err != nil {
				return err
			}
			if err := tx.Join(st, a); err != nil {
				return err
			}
		} else {
			var err error
			if st, err = tx.NewStory(a); err != nil {
				return err
			}
			w.stories = append(w.stories, st.ID)
		}
		if err := tx.PutSig(st.ID, j.Sig); err != nil {
			return err
		}
		if news := newsFor(a, st); len(news) > 0 {
			st.Topics = append(st.Topics, news...)
			if err := tx.SaveStory(st); err != nil {
				return err
			}
			al, err := tx.QueueAlert(Alert{StoryID: st.ID, ArticleID: a.ID, Topics: news, Created: now})
			if err != nil {
				return err
			}
			alerts = append(alerts, *al)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	var done []Summarized
	for _, a := range alerts {
		done = append(done, Summarized{Alert: a, Summary: &Summary{StoryID: a.StoryID, Lang: "ru", Text: w.text(450),
			KeyPoints: []string{w.text(90), w.text(90), w.text(90)}, Model: "qwen2.5:7b-instruct", Created: now}})
	}
	if err := s.SaveSummaries(done, now, Usage{Calls: len(done), PromptTokens: 1500 * len(done)}); err != nil {
		tb.Fatal(err)
	}
	_, _, err = s.FanOutBatch(1000, now, func(users []User) func(Alert) []Recipient {
		return func(a Alert) []Recipient {
			var rs []Recipient
			for _, u := range users {
				rs = append(rs, Recipient{UserID: u.ID, Topics: a.Topics})
			}
			return rs
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	msgs, err := s.Outbox(now.Add(time.Hour), 0)
	if err != nil {
		tb.Fatal(err)
	}
	var ids []uint64
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	if err := s.MarkSent(ids, now); err != nil {
		tb.Fatal(err)
	}
	for {
		q, err := s.QueuedForIndex(10_000)
		if err != nil {
			tb.Fatal(err)
		}
		if len(q) == 0 {
			break
		}
		if err := s.Indexed(q); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkGrowth measures the database's growth per 1,000 articles
// stored the way dozor run stores them (~400-character feed texts, 30%
// with a ~6 KB page text, stories (a quarter of the articles are
// reprints), summaries and deliveries to 20 users for the 5% that match),
// and what retention and compaction give back: 20 days of 1,000 articles,
// pruned with a retention of 5 days, then compacted.
//
//	go test ./storage -run '^$' -bench Growth -benchtime 1x
//
// Metrics: B/1k-articles is the file's data (bbolt's high-water mark) per
// 1,000 articles as written; compacted-B/1k-articles the same after
// compaction with nothing pruned; textless-B/1k-articles what 1,000
// articles cost once retention dropped their texts (compacted);
// pruned/before is the size after prune and compact over the size before.
func BenchmarkGrowth(b *testing.B) {
	const days, perDay, keepDays = 20, 1000, 5
	for range b.N {
		dir := b.TempDir()
		path := filepath.Join(dir, "growth.db")
		s, err := Open(path, Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		for u := range 20 {
			if _, _, err := s.CreateUser(User{ID: int64(100 + u), ChatID: int64(100 + u), Status: StatusApproved, Lang: "ru", Mode: ModeInstant, Topics: []string{"vtb-china"}}); err != nil {
				b.Fatal(err)
			}
		}
		w := &growthWorld{s: s, rng: rand.New(rand.NewPCG(1, 2))}
		start := t0.Add(-days * day)
		passes := perDay / 100
		for d := range days {
			for p := range passes {
				w.pass(b, start.Add(time.Duration(d)*day+time.Duration(p)*day/time.Duration(passes)))
			}
		}
		used, file := s.Size(), fileSize(path)
		buckets := bucketBytes(b, s)
		// The same database compacted without pruning, for comparison.
		full := filepath.Join(dir, "full.db")
		if _, err := WriteBackupFile(full, s.WriteBackup); err != nil {
			b.Fatal(err)
		}
		pstart := time.Now()
		rep, err := s.Prune(t0, keepDays*day)
		if err != nil {
			b.Fatal(err)
		}
		pruneTook := time.Since(pstart)
		pruned := fileSize(path)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		_, fullAfter, err := CompactFile(full, Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		cstart := time.Now()
		before, after, err := CompactFile(path, Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		compactTook := time.Since(cstart) - swapHold
		n, kept := float64(w.n), float64(w.n-rep.Texts)
		perFull := float64(fullAfter) / n
		perTextless := (float64(after) - perFull*kept) / float64(rep.Texts)
		b.ReportMetric(float64(used)/n*1000, "B/1k-articles")
		b.ReportMetric(perFull*1000, "compacted-B/1k-articles")
		b.ReportMetric(perTextless*1000, "textless-B/1k-articles")
		b.ReportMetric(float64(after)/float64(before), "pruned/before")
		b.Logf("%d articles over %d days: %.1f MiB of data (file %.1f MiB), %.2f MiB per 1,000 articles; compacted %.1f MiB, %.2f MiB per 1,000",
			w.n, days, mib(used), mib(file), mib(used)/n*1000, mib(fullAfter), perFull*1000/(1<<20))
		b.Logf("by bucket (keys and values): %s", buckets)
		b.Logf("prune (keep %d days) in %v: %d texts, %d page texts, %d signatures, %d delivery records dropped; file still %.1f MiB",
			keepDays, pruneTook.Round(time.Millisecond), rep.Texts, rep.FullTexts, rep.Signatures, rep.Delivered, mib(pruned))
		b.Logf("compact after prune in %v (plus the %v lock hold): %.1f MiB → %.1f MiB (%.0f%%); an article without its text costs %.2f MiB per 1,000",
			compactTook.Round(time.Millisecond), swapHold, mib(before), mib(after), 100*float64(after)/float64(before), perTextless*1000/(1<<20))
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// bucketBytes names the biggest buckets with the bytes their keys and
// values take.
func bucketBytes(tb testing.TB, s *Store) string {
	type kv struct {
		name string
		n    int64
	}
	var all []kv
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			var n int64
			_ = b.ForEach(func(k, v []byte) error { n += int64(len(k) + len(v)); return nil })
			all = append(all, kv{string(name), n})
			return nil
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	slices.SortFunc(all, func(a, b kv) int { return int(b.n - a.n) })
	var parts []string
	for _, e := range all[:6] {
		parts = append(parts, fmt.Sprintf("%s %.1f MiB", e.name, mib(e.n)))
	}
	return strings.Join(parts, ", ")
}
