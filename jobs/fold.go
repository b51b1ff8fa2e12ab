package jobs

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"dozor/internal/dedup"
	"dozor/storage"
)

// FoldWindow is how long a story takes in reprints after its last one.
const FoldWindow = 72 * time.Hour

const foldBatch = 1000

// Folder is the fold stage: it places each article in a story, once its
// best text is known (right away when its page is not fetched, after the
// page otherwise), and queues an alert when that makes the story news on a
// topic. Reprints are found by MinHash over the best text among stories
// seen within FoldWindow; the index of those signatures lives here, in
// memory, rebuilt from the store at start.
type Folder struct {
	Store *storage.Store
	// Wake is notified when articles were queued for folding.
	Wake Signal
	// Next is notified when alerts were queued, for the summarize stage.
	Next    Signal
	Now     func() time.Time
	Log     *slog.Logger
	Observe Observer
	// Vectors folds across languages by embeddings (EMBEDDINGS_MODEL) of
	// Model: an article joins a recent story whose vector is at least
	// Threshold close when their named entities agree too. An article
	// waits for its vector at most EmbedWait.
	Vectors   bool
	Model     string
	Threshold float32
	EmbedWait time.Duration
	// Embed is notified when the fold stage queues articles for the embed
	// stage (to re-make vectors after a model change).
	Embed Signal

	index     *storyIndex
	vecs      *vecIndex
	stale     map[uint64]staleVec // window stories whose vectors are being re-made
	late      map[uint64]staleVec // new stories folded before their vector came
	waitUntil time.Time           // when the first article held for its vector goes anyway
	pruned    time.Time
	stories   atomic.Int64 // started since Run began, for reports
}

// StoriesStarted is the number of stories this stage started.
func (f *Folder) StoriesStarted() int { return int(f.stories.Load()) }

// Run folds until ctx ends.
func (f *Folder) Run(ctx context.Context) error {
	if err := f.load(); err != nil {
		return err
	}
	return loopUntil(ctx, f.Wake, f.log(), f.Observe, "fold", f.untilVector, func(context.Context) (int, bool, error) { return f.step() })
}

func (f *Folder) load() error {
	now := f.now()
	x := newStoryIndex(FoldWindow)
	if err := f.Store.StorySigs(now.Add(-FoldWindow), x.add); err != nil {
		return err
	}
	f.index, f.pruned = x, now
	if f.Vectors {
		return f.loadVectors(now)
	}
	return nil
}

// step folds one batch; it reports how many articles it folded and
// whether more may be queued.
func (f *Folder) step() (int, bool, error) {
	now := f.now()
	if now.Sub(f.pruned) > time.Minute {
		f.index.prune(now)
		if f.vecs != nil {
			f.vecs.prune(now)
			for id, sv := range f.late {
				if now.Sub(sv.seen) > FoldWindow {
					delete(f.late, id)
				}
			}
		}
		f.pruned = now
	}
	if len(f.stale)+len(f.late) > 0 {
		if err := f.refreshStale(); err != nil {
			return 0, false, err
		}
	}
	var stories, alerts int64
	f.waitUntil = time.Time{}
	wait := func(j storage.FoldJob) bool {
		if !f.waitForVector(j, now) {
			return false
		}
		if until := j.Queued.Add(f.EmbedWait); f.waitUntil.IsZero() || until.Before(f.waitUntil) {
			f.waitUntil = until
		}
		return true
	}
	n, err := f.Store.FoldReady(foldBatch, now, wait, func(tx *storage.FoldTx, j storage.FoldJob) error {
		isNew, alerted, err := f.fold(tx, j, now)
		if isNew {
			stories++
		}
		if alerted {
			alerts++
		}
		return err
	})
	if err != nil {
		// The index may name stories that were rolled back.
		if lerr := f.load(); lerr != nil {
			f.log().Error("fold stage: reload story index", "err", lerr)
		}
		return 0, false, err
	}
	f.stories.Add(stories)
	if alerts > 0 {
		f.Next.Notify()
	}
	return n, n == foldBatch, nil
}

// fold places one article and decides whether its story is news.
func (f *Folder) fold(tx *storage.FoldTx, j storage.FoldJob, now time.Time) (isNew, alerted bool, err error) {
	a := &j.Article
	var st *storage.Story
	if a.StoryID != 0 {
		// Placed by a version that folded at ingest; only news is decided.
		st, err = tx.Story(a.StoryID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return false, false, err
		}
	} else {
		if st, err = f.findStory(tx, j, now); err != nil {
			return false, false, err
		}
	}
	if st != nil {
		alerted := len(st.Topics) > 0
		if err := tx.Join(st, a); err != nil {
			return false, false, err
		}
		if sig, ok := f.index.touch(st.ID, now); ok {
			if err := tx.PutSig(st.ID, sig); err != nil {
				return false, false, err
			}
		}
		if f.vecs != nil && f.vecs.touch(st.ID, now) {
			if err := tx.TouchStoryVector(st.ID); err != nil {
				return false, false, err
			}
		}
		if alerted {
			// Its alerts are out: edit them to name the new outlet.
			if err := tx.QueueEdit(st); err != nil {
				return false, false, err
			}
		}
	} else {
		if st, err = tx.NewStory(a); err != nil {
			return false, false, err
		}
		isNew = true
		if j.HasSig {
			f.index.add(st.ID, now, j.Sig)
			if err := tx.PutSig(st.ID, j.Sig); err != nil {
				return false, false, err
			}
		}
		if v, ok := f.vectorOf(j); ok && f.vecs != nil {
			f.vecs.add(st.ID, now, v, j.Entities)
			if err := tx.PutStoryVector(st.ID, j.Vector, j.Entities); err != nil {
				return false, false, err
			}
		} else if f.vecs != nil && j.Embedding {
			// Its vector is late: the story joins the window when it comes.
			if f.late == nil {
				f.late = map[uint64]staleVec{}
			}
			f.late[st.ID] = staleVec{first: a.ID, seen: now}
		}
	}
	news := newsTopics(a, st)
	if len(news) == 0 {
		return isNew, false, nil
	}
	st.Topics = append(st.Topics, news...)
	if err := tx.SaveStory(st); err != nil {
		return isNew, false, err
	}
	created := a.Matched
	if created.IsZero() {
		created = now
	}
	_, err = tx.QueueAlert(storage.Alert{StoryID: st.ID, ArticleID: a.ID, Topics: news, Created: created})
	return isNew, err == nil, err
}

// findStory is the recent story an article belongs to: by its words
// (MinHash), else by its embedding and named entities; nil for none.
func (f *Folder) findStory(tx *storage.FoldTx, j storage.FoldJob, now time.Time) (*storage.Story, error) {
	id, ok := uint64(0), false
	if j.HasSig {
		id, ok = f.index.find(j.Sig, now)
	}
	if !ok && f.vecs != nil {
		if v, has := f.vectorOf(j); has {
			id, ok = f.vecs.find(v, j.Entities, f.Threshold, now)
		}
	}
	if !ok {
		return nil, nil
	}
	st, err := tx.Story(id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return st, err
}

// newsTopics is the one rule for "this article is news on a topic": the
// topics it matched, on any of its texts, that its story has not alerted
// on yet. Backlog never is news. A story alerts once per topic, so a
// reprint alerts only for a topic the story had not matched before, and
// the fan-out stage still sends nobody the story twice.
func newsTopics(a *storage.Article, st *storage.Story) []string {
	if a.Backlog {
		return nil
	}
	var out []string
	for _, t := range a.Topics {
		if !contains(st.Topics, t) && !contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func (f *Folder) now() time.Time { return nowOr(f.Now) }

func (f *Folder) log() *slog.Logger { return logOr(f.Log) }

// storyIndex finds the story a reprint belongs to: an LSH index over the
// MinHash signatures of stories seen within the window. It is derived
// state, rebuilt from the store's signatures at start, not worth a write
// per band per article.
type storyIndex struct {
	window time.Duration
	// bands maps a band key to a story with that band, and more to the
	// others, if any. Most keys belong to one story, and a map of single
	// ids takes a third of the memory of a map of slices: with 16 bands a
	// story, the bands are most of the index.
	bands   map[uint64]uint64
	more    map[uint64][]uint64
	stories map[uint64]*indexedStory
}

type indexedStory struct {
	sig  dedup.Signature
	seen time.Time
}

func newStoryIndex(window time.Duration) *storyIndex {
	return &storyIndex{window: window, bands: map[uint64]uint64{}, more: map[uint64][]uint64{},
		stories: map[uint64]*indexedStory{}}
}

func (x *storyIndex) add(id uint64, seen time.Time, sig dedup.Signature) {
	x.stories[id] = &indexedStory{sig: sig, seen: seen}
	for _, k := range sig.Bands() {
		if _, ok := x.bands[k]; !ok {
			x.bands[k] = id
		} else {
			x.more[k] = append(x.more[k], id)
		}
	}
}

// band calls each for every story id with band key k.
func (x *storyIndex) band(k uint64, each func(id uint64)) {
	if id, ok := x.bands[k]; ok {
		each(id)
		for _, id := range x.more[k] {
			each(id)
		}
	}
}

// touch marks a story as seen now and returns its signature.
func (x *storyIndex) touch(id uint64, now time.Time) (dedup.Signature, bool) {
	st := x.stories[id]
	if st == nil {
		return dedup.Signature{}, false
	}
	st.seen = now
	return st.sig, true
}

// find returns the most similar live story above dedup.Threshold.
func (x *storyIndex) find(sig dedup.Signature, now time.Time) (uint64, bool) {
	var best uint64
	bestSim := 0.0
	for _, k := range sig.Bands() {
		x.band(k, func(id uint64) {
			st := x.stories[id]
			if st == nil || now.Sub(st.seen) > x.window {
				return
			}
			if sim := dedup.Similarity(sig, st.sig); sim >= dedup.Threshold && sim > bestSim {
				best, bestSim = id, sim
			}
		})
	}
	return best, bestSim > 0
}

// prune forgets stories that can no longer take in reprints.
func (x *storyIndex) prune(now time.Time) {
	dead := 0
	for id, st := range x.stories {
		if now.Sub(st.seen) > x.window {
			delete(x.stories, id)
			dead++
		}
	}
	if dead == 0 {
		return
	}
	for k, ids := range x.more {
		live := ids[:0]
		for _, id := range ids {
			if x.stories[id] != nil {
				live = append(live, id)
			}
		}
		if len(live) == 0 {
			delete(x.more, k)
		} else {
			x.more[k] = live
		}
	}
	for k, id := range x.bands {
		if x.stories[id] != nil {
			continue
		}
		// The first story is gone: the next one, if any, takes its place.
		if ids := x.more[k]; len(ids) > 0 {
			x.bands[k] = ids[0]
			if len(ids) == 1 {
				delete(x.more, k)
			} else {
				x.more[k] = ids[1:]
			}
		} else {
			delete(x.bands, k)
		}
	}
}
