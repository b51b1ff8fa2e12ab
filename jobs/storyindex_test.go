package jobs

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"dozor/internal/dedup"
)

// TestStoryIndexSharedBands: a story reachable only through bands another
// story holds first is found, and still is after that story expires.
func TestStoryIndexSharedBands(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var q dedup.Signature
	for i := range q {
		q[i] = r.Uint32()
	}
	// far shares bands 0–3 with q and nothing else: 16 of 64 values,
	// below dedup.Threshold. near shares the same four bands and three of
	// four values in bands 4–11, so no band more: 40 of 64, above it.
	far, near := q, q
	for i := 4 * dedup.BandRows; i < dedup.NumHashes; i++ {
		far[i] = ^q[i]
		if i >= 12*dedup.BandRows || i%dedup.BandRows == 0 {
			near[i] = ^q[i] + 1
		}
	}
	if s := dedup.Similarity(q, far); s >= dedup.Threshold {
		t.Fatalf("far: similarity %.2f", s)
	}
	if s := dedup.Similarity(q, near); s < dedup.Threshold {
		t.Fatalf("near: similarity %.2f", s)
	}

	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	x := newStoryIndex(time.Hour)
	x.add(1, t0, far)
	x.add(2, t0.Add(30*time.Minute), near)
	if len(x.more) != 4 {
		t.Fatalf("%d bands hold more than one story, want 4", len(x.more))
	}
	if id, ok := x.find(q, t0.Add(45*time.Minute)); !ok || id != 2 {
		t.Fatalf("find = %d, %v; want story 2", id, ok)
	}

	// Story 1 expires; story 2 takes its bands.
	now := t0.Add(70 * time.Minute)
	x.prune(now)
	if _, ok := x.stories[1]; ok {
		t.Fatal("story 1 outlived its window")
	}
	if len(x.more) != 0 || len(x.bands) != dedup.NumBands {
		t.Fatalf("after prune: %d bands, %d with more; want %d and 0", len(x.bands), len(x.more), dedup.NumBands)
	}
	if id, ok := x.find(q, now); !ok || id != 2 {
		t.Fatalf("after prune: find = %d, %v; want story 2", id, ok)
	}
	if _, ok := x.find(far, now); ok {
		t.Fatal("the expired story is still found")
	}

	// Story 2 expires: nothing is left.
	x.prune(now.Add(time.Hour))
	if len(x.stories)+len(x.bands)+len(x.more) != 0 {
		t.Fatalf("after both expired: %d stories, %d bands, %d with more", len(x.stories), len(x.bands), len(x.more))
	}
}

// BenchmarkStoryIndexMemory measures the fold stage's index per story:
//
//	go test ./jobs -run '^$' -bench StoryIndexMemory -benchtime 1x
func BenchmarkStoryIndexMemory(b *testing.B) {
	const n = 50_000
	r := rand.New(rand.NewPCG(3, 4))
	sigs := make([]dedup.Signature, n)
	for i := range sigs {
		for k := range sigs[i] {
			sigs[i][k] = r.Uint32()
		}
	}
	t0 := time.Now()
	var perStory float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		x := newStoryIndex(time.Hour)
		for i, s := range sigs {
			x.add(uint64(i+1), t0, s)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perStory = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(x)
	}
	b.ReportMetric(perStory, "B/story")
}
