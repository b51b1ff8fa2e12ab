package jobs

import (
	"time"

	"dozor/internal/embed"
	"dozor/storage"
)

// vecIndex holds the vectors of the stories seen within the fold window,
// for folding a report and its translation into one story. It is derived
// state, like storyIndex, rebuilt from the store at start. A brute-force
// scan is enough: a few thousand stories of 1,024 int8s take a few
// milliseconds (see BenchmarkNearest5000 in internal/embed).
type vecIndex struct {
	window  time.Duration
	model   string
	stories []vecStory
	pos     map[uint64]int // story id → index in stories
}

type vecStory struct {
	id       uint64
	seen     time.Time
	vec      embed.Vector
	entities []string
}

func newVecIndex(window time.Duration, model string) *vecIndex {
	return &vecIndex{window: window, model: model, pos: map[uint64]int{}}
}

// add keeps a story's vector; a vector of another model is not kept.
func (x *vecIndex) add(id uint64, seen time.Time, v embed.Vector, entities []string) bool {
	if v.Model != x.model || v.Dim() == 0 {
		return false
	}
	if i, ok := x.pos[id]; ok {
		x.stories[i] = vecStory{id, seen, v, entities}
		return true
	}
	x.pos[id] = len(x.stories)
	x.stories = append(x.stories, vecStory{id, seen, v, entities})
	return true
}

func (x *vecIndex) touch(id uint64, now time.Time) bool {
	i, ok := x.pos[id]
	if ok {
		x.stories[i].seen = now
	}
	return ok
}

func (x *vecIndex) prune(now time.Time) {
	keep := x.stories[:0]
	clear(x.pos)
	for _, s := range x.stories {
		if now.Sub(s.seen) <= x.window {
			x.pos[s.id] = len(keep)
			keep = append(keep, s)
		}
	}
	clear(x.stories[len(keep):])
	x.stories = keep
}

// find is the recent story a vector and its entities belong to: the most
// similar one the fold rule (embed.SameStory) accepts.
func (x *vecIndex) find(v embed.Vector, entities []string, threshold float32, now time.Time) (uint64, bool) {
	if v.Model != x.model {
		return 0, false
	}
	var best uint64
	var bestCos float32
	for _, s := range x.stories {
		if now.Sub(s.seen) > x.window {
			continue
		}
		cos := v.Cosine(s.vec)
		if cos > bestCos && embed.SameStory(cos, threshold, entities, s.entities) {
			best, bestCos = s.id, cos
		}
	}
	return best, best != 0
}

// loadVectors fills the index from the store, and queues the first
// articles of window stories whose vector is of another model for a new
// one: a model change re-makes vectors for the window only.
func (f *Folder) loadVectors(now time.Time) error {
	x := newVecIndex(FoldWindow, f.Model)
	stale := map[uint64]staleVec{}
	err := f.Store.StoryVectors(now.Add(-FoldWindow), func(sv storage.StoryVector) {
		var v embed.Vector
		if err := v.UnmarshalBinary(sv.Vector); err != nil {
			return
		}
		if !x.add(sv.StoryID, sv.Seen, v, sv.Entities) {
			stale[sv.StoryID] = staleVec{seen: sv.Seen}
		}
	})
	if err != nil {
		return err
	}
	f.vecs = x
	var firsts []uint64
	for id, sv := range stale {
		st, err := f.Store.Story(id)
		if err != nil || len(st.Articles) == 0 {
			delete(stale, id)
			continue
		}
		sv.first = st.Articles[0]
		stale[id] = sv
		firsts = append(firsts, sv.first)
	}
	if len(firsts) == 0 {
		return nil
	}
	f.log().Info("fold: embedding model changed: re-making the vectors of recent stories", "model", f.Model, "stories", len(firsts))
	f.stale = stale
	if err := f.Store.QueueEmbed(firsts); err != nil {
		return err
	}
	f.Embed.Notify()
	return nil
}

// staleVec is a window story whose vector is being re-made for a new
// model, from its first article.
type staleVec struct {
	first uint64
	seen  time.Time
}

// refreshStale takes into the index the vectors of stories that were
// waiting for one: re-made for a new model (stale), or made after the
// story was folded without it (late).
func (f *Folder) refreshStale() error {
	if err := f.refresh(f.stale); err != nil {
		return err
	}
	return f.refresh(f.late)
}

// refreshMax bounds the stories refresh looks at in one step, so a long
// outage of the endpoint (thousands of stories waiting) does not slow
// every step; map order spreads the looks over the waiting ones.
const refreshMax = 500

func (f *Folder) refresh(waiting map[uint64]staleVec) error {
	looked := 0
	for id, sv := range waiting {
		if looked++; looked > refreshMax {
			return nil
		}
		b, ents, ok, err := f.Store.ArticleVector(sv.first)
		if err != nil {
			return err
		}
		var v embed.Vector
		switch {
		case ok && v.UnmarshalBinary(b) == nil && v.Model == f.Model:
			f.vecs.add(id, sv.seen, v, ents)
			delete(waiting, id)
		case f.Store.EmbedQueued(sv.first):
			// still on its way
		default:
			delete(waiting, id) // given up on: nothing to compare
		}
	}
	return nil
}

// waitForVector holds an article back from folding while its embedding,
// or the re-made vectors of the window's stories after a model change, are
// on the way, for at most EmbedWait after it was queued.
func (f *Folder) waitForVector(j storage.FoldJob, now time.Time) bool {
	if !f.Vectors || j.Queued.IsZero() || now.Sub(j.Queued) >= f.EmbedWait {
		return false
	}
	return j.Embedding || len(f.stale) > 0
}

// untilVector is how long until an article held for its vector is
// folded without it (0: none is held).
func (f *Folder) untilVector() time.Duration {
	if f.waitUntil.IsZero() {
		return 0
	}
	return max(time.Until(f.waitUntil), time.Millisecond)
}

// vectorOf is a fold job's vector, if it has one of the current model.
func (f *Folder) vectorOf(j storage.FoldJob) (embed.Vector, bool) {
	var v embed.Vector
	if !f.Vectors || j.Vector == nil || v.UnmarshalBinary(j.Vector) != nil || v.Model != f.Model {
		return embed.Vector{}, false
	}
	return v, true
}
