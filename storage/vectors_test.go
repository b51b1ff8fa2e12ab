package storage

import (
	"slices"
	"testing"
)

func TestFoldReadyLooksPastAtMostLimitHeldJobs(t *testing.T) {
	s, _ := openTemp(t)
	s.EmbedBeforeFold(true)
	var arts []NewArticle
	for n := range 10 {
		arts = append(arts, newArt(n+1, PageNone))
	}
	saved := save(t, s, 0, arts...)
	if c, _ := s.Count(); c.Fold != 10 || c.Embed != 10 {
		t.Fatalf("queued %d to fold, %d to embed; want 10 each", c.Fold, c.Embed)
	}
	last := saved[len(saved)-1].ID
	var looked []uint64
	wait := func(j FoldJob) bool {
		looked = append(looked, j.Article.ID)
		if !j.Embedding {
			t.Errorf("article %d: Embedding false while it is queued for its embedding", j.Article.ID)
		}
		return j.Article.ID != last // all but the last are held
	}
	var folded []uint64
	fold := func(_ *FoldTx, j FoldJob) error { folded = append(folded, j.Article.ID); return nil }

	// Four held jobs end the look before the last, ready one.
	if n, err := s.FoldReady(4, t0, wait, fold); err != nil || n != 0 || len(folded) != 0 {
		t.Fatalf("FoldReady = %d, %v, folded %v; want nothing", n, err, folded)
	}
	if len(looked) != 4 {
		t.Errorf("looked at %d jobs, want 4", len(looked))
	}
	// With room to look past them all, the ready one goes; the held stay.
	looked = nil
	if n, err := s.FoldReady(100, t0, wait, fold); err != nil || n != 1 || !slices.Equal(folded, []uint64{last}) {
		t.Fatalf("FoldReady = %d, %v, folded %v; want only %d", n, err, folded, last)
	}
	if c, _ := s.Count(); c.Fold != 9 {
		t.Errorf("%d still to fold, want the 9 held", c.Fold)
	}
	// A vector made is on the job, and the job no longer waits for one.
	first := saved[0].ID
	if err := s.SaveVectors([]ArticleVector{{ID: first, Vector: []byte{7, 8}, Entities: []string{"vtb"}}}, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := s.FoldReady(100, t0, func(j FoldJob) bool { return j.Article.ID != first }, func(_ *FoldTx, j FoldJob) error {
		if j.Embedding || !slices.Equal(j.Vector, []byte{7, 8}) || !slices.Equal(j.Entities, []string{"vtb"}) {
			t.Errorf("job %+v: want its vector and entities, not waiting", j)
		}
		return nil
	}); err != nil || n != 1 {
		t.Fatalf("FoldReady = %d, %v; want the embedded one", n, err)
	}
}

func TestLateVectorBecomesTheStorys(t *testing.T) {
	s, _ := openTemp(t)
	s.EmbedBeforeFold(true)
	a := save(t, s, 0, newArt(1, PageNone), newArt(2, PageNone))
	var story uint64
	if _, err := s.FoldBatch(10, t0, func(tx *FoldTx, j FoldJob) error {
		if story == 0 {
			st, err := tx.NewStory(&j.Article)
			story = st.ID
			return err
		}
		st, err := tx.Story(story)
		if err != nil {
			return err
		}
		return tx.Join(st, &j.Article)
	}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.StoryVector(story); ok {
		t.Fatal("a story folded without a vector has one")
	}
	// The second article's vector is not the story's; the first one's is.
	if err := s.SaveVectors([]ArticleVector{{ID: a[1].ID, Vector: []byte{2}}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.StoryVector(story); ok {
		t.Error("a reprint's vector became the story's")
	}
	if err := s.SaveVectors([]ArticleVector{{ID: a[0].ID, Vector: []byte{1}, Entities: []string{"vtb"}}}, nil); err != nil {
		t.Fatal(err)
	}
	sv, ok, err := s.StoryVector(story)
	if err != nil || !ok || !slices.Equal(sv.Vector, []byte{1}) || !slices.Equal(sv.Entities, []string{"vtb"}) {
		t.Errorf("story vector %+v, %v, %v; want the first article's", sv, ok, err)
	}
	if c, _ := s.Count(); c.Embed != 0 {
		t.Errorf("%d still queued for embedding", c.Embed)
	}
}
