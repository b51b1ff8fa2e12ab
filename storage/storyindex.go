package storage

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"dozor/internal/dedup"
)

// storyIndex finds the story a reprint belongs to. It is an in-memory LSH
// index over the MinHash signatures of stories seen within the dedup window,
// rebuilt from the story_sigs bucket at start: derivable state is not worth
// a write per band per article.
type storyIndex struct {
	window  time.Duration
	bands   map[uint64][]uint64 // band key → story ids
	stories map[uint64]*indexedStory
}

type indexedStory struct {
	sig  dedup.Signature
	seen time.Time
}

func newStoryIndex(window time.Duration) *storyIndex {
	return &storyIndex{window: window, bands: map[uint64][]uint64{}, stories: map[uint64]*indexedStory{}}
}

func (x *storyIndex) add(id uint64, sig dedup.Signature, now time.Time) {
	x.stories[id] = &indexedStory{sig: sig, seen: now}
	for _, k := range sig.Bands() {
		x.bands[k] = append(x.bands[k], id)
	}
}

func (x *storyIndex) touch(id uint64, now time.Time) {
	if st := x.stories[id]; st != nil {
		st.seen = now
	}
}

// find returns the most similar live story above dedup.Threshold.
func (x *storyIndex) find(sig dedup.Signature, now time.Time) (uint64, bool) {
	var best uint64
	bestSim := 0.0
	for _, k := range sig.Bands() {
		for _, id := range x.bands[k] {
			st := x.stories[id]
			if st == nil || now.Sub(st.seen) > x.window {
				continue
			}
			if sim := dedup.Similarity(sig, st.sig); sim >= dedup.Threshold && sim > bestSim {
				best, bestSim = id, sim
			}
		}
	}
	return best, bestSim > 0
}

// prune forgets stories that can no longer absorb reprints.
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
	for k, ids := range x.bands {
		live := ids[:0]
		for _, id := range ids {
			if x.stories[id] != nil {
				live = append(live, id)
			}
		}
		if len(live) == 0 {
			delete(x.bands, k)
		} else {
			x.bands[k] = live
		}
	}
}

func encodeSig(seen time.Time, sig dedup.Signature) []byte {
	b := make([]byte, 8+4*len(sig))
	binary.BigEndian.PutUint64(b, uint64(seen.Unix()))
	for i, v := range sig {
		binary.BigEndian.PutUint32(b[8+4*i:], v)
	}
	return b
}

func decodeSig(b []byte) (time.Time, dedup.Signature, bool) {
	var sig dedup.Signature
	if len(b) != 8+4*len(sig) {
		return time.Time{}, sig, false
	}
	for i := range sig {
		sig[i] = binary.BigEndian.Uint32(b[8+4*i:])
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b)), 0), sig, true
}

// loadStoryIndex rebuilds the index from the stories seen within the window.
func (s *Store) loadStoryIndex(now time.Time) error {
	x := newStoryIndex(s.dedupWindow)
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStorySigs).ForEach(func(k, v []byte) error {
			seen, sig, ok := decodeSig(v)
			if ok && now.Sub(seen) <= s.dedupWindow {
				x.add(btoi(k), sig, seen)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("storage: load story index: %w", err)
	}
	s.dedup = x
	return nil
}

// PruneStoryIndex drops stories older than the dedup window from memory.
func (s *Store) PruneStoryIndex(now time.Time) {
	s.dedupMu.Lock()
	defer s.dedupMu.Unlock()
	s.dedup.prune(now)
}
