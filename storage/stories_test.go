package storage

import (
	"errors"
	"slices"
	"testing"
	"time"

	"dozor/internal/dedup"
)

func TestFoldBatchTakesOldestFirstUpToLimit(t *testing.T) {
	s, _ := openTemp(t)
	var ids []uint64
	var sigs []dedup.Signature
	for i := range 5 {
		na := newArt(i+1, PageNone)
		if i == 2 {
			na.HasSig = false
		}
		ids = append(ids, save(t, s, 0, na)[0].ID)
		sigs = append(sigs, na.Sig)
	}

	var got []FoldJob
	collect := func(_ *FoldTx, j FoldJob) error { got = append(got, j); return nil }
	n, err := s.FoldBatch(3, t0, collect)
	if err != nil || n != 3 {
		t.Fatalf("first batch: n=%d err=%v, want 3", n, err)
	}
	for i, j := range got {
		if j.Article.ID != ids[i] || j.Article.Title != newArt(i+1, PageNone).Title {
			t.Errorf("job %d = article %d %q, want %d", i, j.Article.ID, j.Article.Title, ids[i])
		}
		if wantSig := i != 2; j.HasSig != wantSig || (wantSig && j.Sig != sigs[i]) {
			t.Errorf("job %d: HasSig %v, sig decoded %v; want HasSig %v", i, j.HasSig, j.Sig == sigs[i], wantSig)
		}
	}
	if c := count(t, s); c.Fold != 2 {
		t.Errorf("fold queue after the first batch = %d, want 2", c.Fold)
	}

	got = nil
	if n, err := s.FoldBatch(3, t0, collect); err != nil || n != 2 || len(got) != 2 || got[0].Article.ID != ids[3] || got[1].Article.ID != ids[4] {
		t.Errorf("second batch: n=%d err=%v jobs %+v", n, err, got)
	}
	got = nil
	if n, err := s.FoldBatch(3, t0, collect); err != nil || n != 0 || len(got) != 0 {
		t.Errorf("empty queue: n=%d err=%v jobs %+v", n, err, got)
	}
}

// What the fold stage stores through the FoldTx commits with the removal
// of the batch.
func TestFoldBatchStoresDecisions(t *testing.T) {
	s, _ := openTemp(t)
	first := save(t, s, 0, newArt(1, PageNone), newArt(2, PageNone), newArt(3, PageNone))
	now := t0.Add(time.Minute)
	var storyID uint64
	var alert *Alert
	n := foldAll(t, s, now, func(tx *FoldTx, j FoldJob) error {
		switch j.Article.ID {
		case first[0].ID:
			st, err := tx.NewStory(&j.Article)
			if err != nil {
				return err
			}
			if st.ID == 0 || j.Article.StoryID != st.ID {
				t.Errorf("NewStory: story %d, article's story %d", st.ID, j.Article.StoryID)
			}
			storyID = st.ID
			if err := tx.PutSig(st.ID, j.Sig); err != nil {
				return err
			}
			st.Topics = append(st.Topics, "vtb")
			if err := tx.SaveStory(st); err != nil {
				return err
			}
			alert, err = tx.QueueAlert(Alert{StoryID: st.ID, ArticleID: j.Article.ID, Topics: []string{"vtb"}, Created: t0})
			return err
		case first[1].ID:
			// A reprint: read the story back inside the transaction.
			st, err := tx.Story(storyID)
			if err != nil {
				return err
			}
			if !slices.Equal(st.Topics, []string{"vtb"}) {
				t.Errorf("story read in the transaction = %+v", st)
			}
			return tx.Join(st, &j.Article)
		}
		return nil // the third stays unplaced
	})
	if n != 3 {
		t.Errorf("folded %d, want 3", n)
	}

	st, err := s.Story(storyID)
	if err != nil {
		t.Fatal(err)
	}
	want := Story{ID: storyID, Title: first[0].Title, Articles: []uint64{first[0].ID, first[1].ID}, Count: 2,
		Created: now, Updated: now, Topics: []string{"vtb"}}
	if st.ID != want.ID || st.Title != want.Title || !slices.Equal(st.Articles, want.Articles) || st.Count != want.Count ||
		!st.Created.Equal(now) || !st.Updated.Equal(now) || !slices.Equal(st.Topics, want.Topics) {
		t.Errorf("story = %+v\nwant %+v", st, want)
	}
	for i, wantStory := range []uint64{storyID, storyID, 0} {
		if a, _ := s.Article(first[i].ID); a.StoryID != wantStory {
			t.Errorf("article %d story = %d, want %d", a.ID, a.StoryID, wantStory)
		}
	}
	alerts, err := s.PendingAlerts(0, 0)
	if err != nil || len(alerts) != 1 || alerts[0].ID != alert.ID || alert.ID == 0 || alerts[0].ArticleID != first[0].ID ||
		alert.StoryID != storyID || !slices.Equal(alert.Topics, []string{"vtb"}) || !alert.Created.Equal(t0) {
		t.Errorf("pending alerts = %+v, %v; QueueAlert returned %+v", alerts, err, alert)
	}
	sigs := storySigs(t, s, time.Time{})
	if len(sigs) != 1 || sigs[storyID].sig != sigOf(1) || !sigs[storyID].seen.Equal(now) {
		t.Errorf("story signatures = %+v", sigs)
	}
	if c := count(t, s); c.Fold != 0 || c.Stories != 1 || c.Alerts != 1 {
		t.Errorf("counts = %+v", c)
	}

	// A later reprint updates the story's time, not its creation.
	later := now.Add(time.Hour)
	reprint := save(t, s, 0, newArt(4, PageNone))[0]
	foldAll(t, s, later, func(tx *FoldTx, j FoldJob) error {
		st, err := tx.Story(storyID)
		if err != nil {
			return err
		}
		return tx.Join(st, &j.Article)
	})
	if st, _ := s.Story(storyID); st.Count != 3 || !st.Created.Equal(now) || !st.Updated.Equal(later) ||
		!slices.Equal(st.Articles, []uint64{first[0].ID, first[1].ID, reprint.ID}) {
		t.Errorf("story after a later reprint = %+v", st)
	}
}

func TestFoldBatchErrorRollsBack(t *testing.T) {
	s, _ := openTemp(t)
	arts := save(t, s, 0, newArt(1, PageNone), newArt(2, PageNone), newArt(3, PageNone))
	boom := errors.New("boom")
	calls := 0
	n, err := s.FoldBatch(10, t0, func(tx *FoldTx, j FoldJob) error {
		calls++
		if j.Article.ID == arts[1].ID {
			return boom
		}
		st, err := tx.NewStory(&j.Article)
		if err != nil {
			return err
		}
		if err := tx.PutSig(st.ID, j.Sig); err != nil {
			return err
		}
		_, err = tx.QueueAlert(Alert{StoryID: st.ID, ArticleID: j.Article.ID, Topics: []string{"vtb"}})
		return err
	})
	if !errors.Is(err, boom) || n != 0 {
		t.Fatalf("FoldBatch = %d, %v; want 0 and the callback's error", n, err)
	}
	if calls != 2 {
		t.Errorf("callback called %d times, want 2 (it stops at the error)", calls)
	}
	if c := count(t, s); c.Fold != 3 || c.Stories != 0 || c.Alerts != 0 {
		t.Errorf("after the rollback: %+v, want the queue untouched and nothing stored", c)
	}
	if a, _ := s.Article(arts[0].ID); a.StoryID != 0 {
		t.Errorf("article placed in story %d by a rolled back batch", a.StoryID)
	}
	if sigs := storySigs(t, s, time.Time{}); len(sigs) != 0 {
		t.Errorf("signatures of a rolled back batch: %+v", sigs)
	}

	// The batch is taken again, whole.
	var again []uint64
	foldAll(t, s, t0, func(tx *FoldTx, j FoldJob) error {
		again = append(again, j.Article.ID)
		_, err := tx.NewStory(&j.Article)
		return err
	})
	if !slices.Equal(again, []uint64{arts[0].ID, arts[1].ID, arts[2].ID}) {
		t.Errorf("after the rollback the batch is %v", again)
	}
	if c := count(t, s); c.Fold != 0 || c.Stories != 3 {
		t.Errorf("counts = %+v", c)
	}
}

func TestJoinCapsArticlesButKeepsCounting(t *testing.T) {
	s, _ := openTemp(t)
	const total = maxStoryArticles + 20
	var nas []NewArticle
	for i := range total {
		nas = append(nas, newArt(i+1, PageNone))
	}
	arts := save(t, s, 0, nas...)
	var storyID uint64
	foldAll(t, s, t0, func(tx *FoldTx, j FoldJob) error {
		if storyID == 0 {
			st, err := tx.NewStory(&j.Article)
			storyID = st.ID
			return err
		}
		st, err := tx.Story(storyID)
		if err != nil {
			return err
		}
		return tx.Join(st, &j.Article)
	})
	st, err := s.Story(storyID)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Articles) != 100 || st.Count != total {
		t.Errorf("story holds %d articles, counts %d; want 100, %d", len(st.Articles), st.Count, total)
	}
	var want []uint64
	for _, a := range arts[:100] {
		want = append(want, a.ID)
	}
	if !slices.Equal(st.Articles, want) {
		t.Errorf("kept articles = %v, want the first 100 (the original first)", st.Articles)
	}
	if last, _ := s.Article(arts[total-1].ID); last.StoryID != storyID {
		t.Errorf("article past the cap is in story %d, want %d", last.StoryID, storyID)
	}
}

func TestJoinKeepsAnArticleAlreadyInTheStory(t *testing.T) {
	s, _ := openTemp(t)
	orig := save(t, s, 0, newArt(1, PageNone))[0]
	var storyID uint64
	foldAll(t, s, t0, func(tx *FoldTx, j FoldJob) error {
		st, err := tx.NewStory(&j.Article)
		storyID = st.ID
		return err
	})

	reprint := save(t, s, 0, newArt(2, PageNone))[0]
	later := t0.Add(time.Hour)
	foldAll(t, s, later, func(tx *FoldTx, j FoldJob) error {
		st, err := tx.Story(storyID)
		if err != nil {
			return err
		}
		if err := tx.Join(st, &j.Article); err != nil {
			return err
		}
		return tx.Join(st, &j.Article) // already in st: kept as it is
	})
	st, _ := s.Story(storyID)
	if !slices.Equal(st.Articles, []uint64{orig.ID, reprint.ID}) || st.Count != 2 || !st.Updated.Equal(later) || !st.Created.Equal(t0) {
		t.Errorf("story = %+v, want the two articles once each, created %v, updated %v", st, t0, later)
	}
}

func TestFoldTxStoryNotFound(t *testing.T) {
	s, _ := openTemp(t)
	save(t, s, 0, newArt(1, PageNone))
	var got error
	foldAll(t, s, t0, func(tx *FoldTx, _ FoldJob) error {
		_, got = tx.Story(77)
		return nil
	})
	if !errors.Is(got, ErrNotFound) {
		t.Errorf("Story(77) = %v, want ErrNotFound", got)
	}
}

type seenSig struct {
	seen time.Time
	sig  dedup.Signature
}

func storySigs(t *testing.T, s *Store, since time.Time) map[uint64]seenSig {
	t.Helper()
	out := map[uint64]seenSig{}
	err := s.StorySigs(since, func(id uint64, seen time.Time, sig dedup.Signature) {
		if _, dup := out[id]; dup {
			t.Errorf("story %d given twice", id)
		}
		out[id] = seenSig{seen, sig}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStorySigsSince(t *testing.T) {
	s, _ := openTemp(t)
	// Stories 1, 2, 3 last took an article at t0, t0+1h, t0+2h; story 1
	// took another at t0+3h.
	var ids []uint64
	for i := range 3 {
		save(t, s, 0, newArt(i+1, PageNone))
		foldAll(t, s, t0.Add(time.Duration(i)*time.Hour), func(tx *FoldTx, j FoldJob) error {
			st, err := tx.NewStory(&j.Article)
			if err != nil {
				return err
			}
			ids = append(ids, st.ID)
			return tx.PutSig(st.ID, j.Sig)
		})
	}
	save(t, s, 0, newArt(4, PageNone))
	foldAll(t, s, t0.Add(3*time.Hour), func(tx *FoldTx, j FoldJob) error {
		st, err := tx.Story(ids[0])
		if err != nil {
			return err
		}
		if err := tx.Join(st, &j.Article); err != nil {
			return err
		}
		return tx.PutSig(st.ID, sigOf(1)) // the story keeps its signature
	})

	tests := []struct {
		name  string
		since time.Time
		want  map[uint64]seenSig
	}{
		{"all", time.Time{}, map[uint64]seenSig{
			ids[0]: {t0.Add(3 * time.Hour), sigOf(1)},
			ids[1]: {t0.Add(time.Hour), sigOf(2)},
			ids[2]: {t0.Add(2 * time.Hour), sigOf(3)},
		}},
		{"since is inclusive", t0.Add(2 * time.Hour), map[uint64]seenSig{
			ids[0]: {t0.Add(3 * time.Hour), sigOf(1)},
			ids[2]: {t0.Add(2 * time.Hour), sigOf(3)},
		}},
		{"just after", t0.Add(2*time.Hour + time.Second), map[uint64]seenSig{
			ids[0]: {t0.Add(3 * time.Hour), sigOf(1)},
		}},
		{"none", t0.Add(4 * time.Hour), map[uint64]seenSig{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := storySigs(t, s, tt.since)
			if len(got) != len(tt.want) {
				t.Errorf("stories = %d, want %d", len(got), len(tt.want))
			}
			for id, w := range tt.want {
				g, ok := got[id]
				if !ok || !g.seen.Equal(w.seen) || g.sig != w.sig {
					t.Errorf("story %d: seen %v (found %v), sig ok %v; want seen %v", id, g.seen, ok, g.sig == w.sig, w.seen)
				}
			}
		})
	}
}
