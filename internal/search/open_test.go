package search

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2/index/scorch/mergeplan"

	"dozor/internal/query"
)

func mustOpen(t *testing.T, path string, wantFresh bool) *Index {
	t.Helper()
	x, fresh, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if fresh != wantFresh {
		t.Fatalf("Open: fresh = %v, want %v (rebuilt because: %v)", fresh, wantFresh, x.Rebuilt())
	}
	return x
}

func count(t *testing.T, x *Index) uint64 {
	t.Helper()
	n, err := x.Count()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// searchable checks that the index answers a query after a rebuild.
func searchable(t *testing.T, x *Index) {
	t.Helper()
	if err := x.Put([]Doc{{ID: 1, Title: "Китай"}}, nil); err != nil {
		t.Fatal(err)
	}
	q, _ := query.ParseSearch("Китай", time.Now())
	ids, _, err := x.Matches(context.Background(), q, 0)
	if err != nil || len(ids) != 1 {
		t.Fatalf("Matches = %v, %v", ids, err)
	}
}

// builtIndex makes an index of n documents at path, closed.
func builtIndex(t *testing.T, path string, n int) {
	t.Helper()
	x := mustOpen(t, path, true)
	putAll(t, x, genDocs(n, 7), nil)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenFreshAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "index")
	x := mustOpen(t, path, true)
	if n := count(t, x); n != 0 {
		t.Fatalf("new index has %d docs", n)
	}
	if x.Rebuilt() != nil {
		t.Fatalf("a new index was not rebuilt: %v", x.Rebuilt())
	}
	putAll(t, x, genDocs(200, 3), []uint64{10, 20})
	if err := x.PutMark(nil, []uint64{30}, []byte("200")); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}

	x = mustOpen(t, path, false)
	defer x.Close()
	if n := count(t, x); n != 197 {
		t.Fatalf("reopened index has %d docs, want 197", n)
	}
	if m, err := x.Mark(); err != nil || string(m) != "200" {
		t.Fatalf("Mark = %q, %v", m, err)
	}
	q, _ := query.ParseSearch("Китай OR China OR банк OR bank OR ВТБ", time.Now())
	ids, _, err := x.Matches(context.Background(), q, 0)
	if err != nil || len(ids) == 0 {
		t.Fatalf("Matches after reopen = %d ids, %v", len(ids), err)
	}
}

func TestOpenRebuildsGarbage(t *testing.T) {
	cases := map[string]func(t *testing.T, path string){
		"garbage meta": func(t *testing.T, path string) {
			builtIndex(t, path, 50)
			writeFile(t, filepath.Join(path, "index_meta.json"), "\x00garbage{")
		},
		"garbage root.bolt": func(t *testing.T, path string) {
			builtIndex(t, path, 50)
			writeFile(t, filepath.Join(path, "store", "root.bolt"), "not a bolt file at all, not at all")
		},
		"no store": func(t *testing.T, path string) {
			os.MkdirAll(path, 0o700)
			writeFile(t, filepath.Join(path, "index_meta.json"), `{"storage":"scorch","index_type":"scorch"}`)
		},
		"truncated segment": func(t *testing.T, path string) {
			builtIndex(t, path, 300)
			damageSegment(t, path, func(b []byte) []byte { return b[:len(b)*2/3] })
		},
		"segment cut by a byte": func(t *testing.T, path string) {
			builtIndex(t, path, 300)
			damageSegment(t, path, func(b []byte) []byte { return b[:len(b)-1] })
		},
		"zeroed segment middle": func(t *testing.T, path string) {
			builtIndex(t, path, 300)
			damageSegment(t, path, func(b []byte) []byte {
				clear(b[len(b)/3 : len(b)/2])
				return b
			})
		},
		"missing segment": func(t *testing.T, path string) {
			builtIndex(t, path, 300)
			segs, _ := filepath.Glob(filepath.Join(path, "store", "*.zap"))
			for _, s := range segs {
				os.Remove(s)
			}
		},
		"empty directory is a new index": func(t *testing.T, path string) {
			os.MkdirAll(path, 0o700)
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "index")
			damage(t, path)
			x := mustOpen(t, path, true)
			defer x.Close()
			if n := count(t, x); n != 0 {
				t.Fatalf("rebuilt index has %d docs", n)
			}
			searchable(t, x)
		})
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// damageSegment rewrites the largest segment file of a closed index.
func damageSegment(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(path, "store", "*.zap"))
	if len(segs) == 0 {
		t.Fatal("no segment files")
	}
	var big string
	var size int64
	for _, s := range segs {
		if st, err := os.Stat(s); err == nil && st.Size() > size {
			big, size = s, st.Size()
		}
	}
	b, err := os.ReadFile(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, f(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRebuildsOtherMappingVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index")
	x := mustOpen(t, path, true)
	putAll(t, x, genDocs(20, 1), nil)
	if err := x.idx.SetInternal([]byte(keyVersion), []byte("0")); err != nil {
		t.Fatal(err)
	}
	x.Close()
	x = mustOpen(t, path, true)
	if n := count(t, x); n != 0 {
		t.Fatalf("index of another version kept %d docs", n)
	}
	if x.Rebuilt() == nil {
		t.Fatal("Rebuilt is nil after a rebuild")
	}
	x.Close()
	// And the rebuilt one carries the current version.
	x = mustOpen(t, path, false)
	x.Close()
}

func TestOpenRefusesWhatIsNotAnIndex(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "dozor.db")
	writeFile(t, db, "the database")
	if _, _, err := Open(db); err == nil {
		t.Fatal("Open accepted a file")
	}
	if _, _, err := Open(dir); err == nil {
		t.Fatal("Open accepted a directory holding other files")
	}
	if b, err := os.ReadFile(db); err != nil || string(b) != "the database" {
		t.Fatalf("the database was touched: %q, %v", b, err)
	}
}

func TestOpenLocked(t *testing.T) {
	defer func(d time.Duration) { lockWait = d }(lockWait)
	lockWait = 100 * time.Millisecond
	path := filepath.Join(t.TempDir(), "index")
	x := mustOpen(t, path, true)
	defer x.Close()
	putAll(t, x, genDocs(10, 1), nil)
	if _, _, err := Open(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if n := count(t, x); n != 10 {
		t.Fatalf("the open index lost documents: %d", n)
	}
}

// TestMergePolicy: scorch reads its merge plan from the runtime config by
// round-tripping it through JSON into its options, ignoring names it does
// not know, so a misspelt option would silently leave bleve's default.
func TestMergePolicy(t *testing.T) {
	b, err := json.Marshal(runtimeConfig()["scorchMergePlanOptions"])
	if err != nil {
		t.Fatal(err)
	}
	opts := mergeplan.DefaultMergePlanOptions
	if err := json.Unmarshal(b, &opts); err != nil {
		t.Fatal(err)
	}
	if opts.MaxSegmentsPerTier != 2 {
		t.Errorf("MaxSegmentsPerTier = %d from %s, want 2", opts.MaxSegmentsPerTier, b)
	}
	want := mergeplan.DefaultMergePlanOptions
	want.MaxSegmentsPerTier = opts.MaxSegmentsPerTier
	if opts.SegmentsPerMergeTask != want.SegmentsPerMergeTask || opts.TierGrowth != want.TierGrowth ||
		opts.FloorSegmentSize != want.FloorSegmentSize || opts.MaxSegmentSize != want.MaxSegmentSize {
		t.Errorf("merge plan %+v, want bleve's default but for MaxSegmentsPerTier", opts)
	}
}
