// Package storage keeps everything dozor knows in one bbolt file: sources,
// articles, stories, topics and the queues between the pipeline stages.
//
// bbolt allows one writer at a time and holds a file lock for the life of the
// process, so a Store is opened once per process and shared. No network call
// ever happens inside a write transaction.
package storage

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")

// ErrLocked is returned by Open when another process holds the database.
var ErrLocked = errors.New("database is in use by another process")

var (
	bucketMeta        = []byte("meta")
	bucketSources     = []byte("sources")
	bucketSourceURLs  = []byte("source_urls")
	bucketArticles    = []byte("articles")
	bucketArticleKeys = []byte("article_keys")
	bucketArticleTime = []byte("article_time")
	// An article's story and full text live apart from its record, which
	// is written once: placing it or storing its page rewrites 8 bytes or
	// writes its text once, not the whole record again.
	bucketArticleStory = []byte("article_story") // article id → story id
	bucketArticleText  = []byte("article_text")  // article id → its page text's number in page_texts
	bucketPageTexts    = []byte("page_texts")    // number, in the order written → text extracted from a page (see text.go)
	bucketStories      = []byte("stories")
	bucketStorySigs    = []byte("story_sigs")
	bucketTopics       = []byte("topics")
	bucketSummaries    = []byte("summaries")
	bucketUsage        = []byte("usage")
	bucketUsers        = []byte("users")
	bucketSubs         = []byte("subscriptions")
	bucketDelivered    = []byte("delivered")
	// The queues between pipeline stages: each stage takes a batch from its
	// own queue and, in one transaction, writes its results and hands the
	// batch on to the next queue.
	bucketPageQueue   = []byte("page_queue")   // watch → page: lane + article id → host
	bucketFoldQueue   = []byte("fold_queue")   // watch, page → fold: article id → signature
	bucketAlerts      = []byte("alerts")       // fold → summarize: alert id → Alert
	bucketFanoutQueue = []byte("fanout_queue") // summarize → fan out: alert id → Alert
	bucketOutbox      = []byte("outbox")       // fan out → deliver: message id → OutMsg
	bucketIndexQueue  = []byte("index_queue")  // any change → index: article id → nothing
	bucketHeld        = []byte("held")         // fan out → digest: user id + message id → OutMsg
	bucketEmbedQueue  = []byte("embed_queue")  // watch, page → embed (fold waits for it): lane + article id → queued time
	bucketEditQueue   = []byte("edit_queue")   // fold → edit: story id → due time

	bucketVectors   = []byte("vectors")    // article id → entities + embedding
	bucketStoryVecs = []byte("story_vecs") // story id → last seen + entities + embedding
	bucketSentMsgs  = []byte("sent_msgs")  // story id + user id → chat, message id, sent time (for edits)

	// bucketEnrich is the page queue of versions before the pipeline had
	// stages; Open moves what it holds into bucketPageQueue.
	bucketEnrich = []byte("enrich")
	// bucketFullText held page texts by article id before 2026-12; Open
	// moves them into page_texts.
	bucketFullText = []byte("full_text")
)

var allBuckets = [][]byte{
	bucketMeta, bucketSources, bucketSourceURLs, bucketArticles, bucketArticleKeys,
	bucketArticleTime, bucketArticleStory, bucketArticleText, bucketPageTexts, bucketStories, bucketStorySigs, bucketTopics, bucketAlerts,
	bucketSummaries, bucketUsage, bucketUsers, bucketSubs, bucketOutbox, bucketDelivered,
	bucketPageQueue, bucketFoldQueue, bucketFanoutQueue, bucketIndexQueue, bucketHeld,
	bucketEmbedQueue, bucketEditQueue, bucketVectors, bucketStoryVecs, bucketSentMsgs,
}

// Options tune Open.
type Options struct {
	// Timeout is how long Open waits for another process to release the
	// file lock. bbolt would otherwise wait forever.
	Timeout time.Duration
	// Command names this process in the owner file, so a second process
	// that finds the database locked can say who holds it.
	Command string
	// NoSync skips fsync on commit; only for benchmarks.
	NoSync bool
}

// Store is dozor's database.
type Store struct {
	db    *bolt.DB
	path  string
	owner string

	commits       atomic.Uint64 // write transactions, for benchmarks and /stats
	topicsVersion atomic.Uint64 // bumped when topics change, so stages recompile
	embedding     atomic.Bool   // articles go to the embed stage before folding
}

// EmbedBeforeFold makes every article queued for folding wait for its
// embedding too (EMBEDDINGS_MODEL set); the embed stage must then run.
func (s *Store) EmbedBeforeFold(on bool) { s.embedding.Store(on) }

// Open opens (creating if needed) the database at path with mode 0600 and
// its directory with 0700.
func Open(path string, opts Options) (*Store, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 500 * time.Millisecond
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("storage: create directory %s: %w", dir, err)
		}
	}
	// The freelist is written with every commit (bbolt's default): without
	// it, every open scans the whole file to rebuild it, which takes time
	// and keeps the whole file in memory. Commits are batched, so the
	// extra page a commit writes costs little. A file written without one
	// (dozor before 2026-12) gets one at its first open.
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      opts.Timeout,
		FreelistType: bolt.FreelistMapType,
		NoSync:       opts.NoSync,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		holder := readOwner(path)
		if holder != "" {
			return nil, fmt.Errorf("storage: %s is in use by %s: %w", path, holder, ErrLocked)
		}
		return nil, fmt.Errorf("storage: %s is in use by another process: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return migrateEnrich(tx)
	})
	if err == nil {
		err = migrateFullText(db)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: init %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if opts.Command != "" {
		s.owner = ownerPath(path)
		text := fmt.Sprintf("pid %d (%s) since %s", os.Getpid(), opts.Command, time.Now().Format(time.RFC3339))
		// Best effort: the owner file only improves an error message.
		_ = os.WriteFile(s.owner, []byte(text), 0o600)
	}
	return s, nil
}

// update runs fn in a write transaction. Every commit goes through here,
// so Commits can count them: a commit costs an fsync, and the pipeline's
// budget is a small fraction of one per article.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	s.commits.Add(1)
	return s.db.Update(fn)
}

// Commits is the number of write transactions since Open.
func (s *Store) Commits() uint64 { return s.commits.Load() }

func ownerPath(dbPath string) string { return dbPath + ".owner" }

func readOwner(dbPath string) string {
	b, err := os.ReadFile(ownerPath(dbPath))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close releases the database.
func (s *Store) Close() error {
	if s.owner != "" {
		_ = os.Remove(s.owner)
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("storage: close: %w", err)
	}
	return nil
}

// Size is the database file size in bytes.
func (s *Store) Size() int64 {
	var n int64
	_ = s.db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	return n
}

func itob(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func btoi(b []byte) uint64 {
	if len(b) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// getJSON decodes the value at key into v; bbolt's bytes are only valid in
// the transaction, and json.Unmarshal copies what it keeps.
func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %x: %w", key, err)
	}
	return nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return b.Put(key, data)
}

// forEachJSON decodes every value of a bucket in key order.
func forEachJSON[T any](b *bolt.Bucket, fn func(k []byte, v *T) error) error {
	return b.ForEach(func(k, data []byte) error {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("decode %x: %w", k, err)
		}
		return fn(k, &v)
	})
}

// GetMeta reads a small value from the meta bucket (nil if absent).
func (s *Store) GetMeta(key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get([]byte(key)); v != nil {
			out = bytes.Clone(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: get meta %s: %w", key, err)
	}
	return out, nil
}

// SetMeta writes a small value to the meta bucket.
func (s *Store) SetMeta(key string, value []byte) error {
	err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(key), value)
	})
	if err != nil {
		return fmt.Errorf("storage: set meta %s: %w", key, err)
	}
	return nil
}
