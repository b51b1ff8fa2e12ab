package storage

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"dozor/internal/dedup"
)

// The page queue holds the articles whose page is to be fetched, keyed by
// lane and article id so each lane reads oldest first; the value is the
// page's host, which the page stage schedules by.

func pageKey(lane PageLane, id uint64) []byte {
	return append([]byte{byte(lane)}, itob(id)...)
}

// PageJob is one queued page fetch.
type PageJob struct {
	ArticleID uint64
	Lane      PageLane
	Host      string
}

// QueuedPages returns the queued page fetches of a lane with an article id
// above after, oldest first: the page stage reads the queue once at start
// and then only what was added since.
func (s *Store) QueuedPages(lane PageLane, after uint64) ([]PageJob, error) {
	var out []PageJob
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPageQueue).Cursor()
		for k, v := c.Seek(pageKey(lane, after+1)); k != nil && k[0] == byte(lane); k, v = c.Next() {
			out = append(out, PageJob{ArticleID: btoi(k[1:]), Lane: lane, Host: string(v)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: queued pages: %w", err)
	}
	return out, nil
}

func countPages(tx *bolt.Tx) (urgent, bulk int) {
	c := tx.Bucket(bucketPageQueue).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if k[0] == byte(PageUrgent) {
			urgent++
		} else {
			bulk++
		}
	}
	return urgent, bulk
}

// PageResult is what the page stage learnt about an article. The page stage
// decides; SavePages only stores.
type PageResult struct {
	ArticleID uint64
	Lane      PageLane
	FullText  string    // "" when the page gave nothing better than the feed
	Topics    []string  // every topic the article matches now
	Matched   time.Time // set when Topics gained its first topic
	Sig       dedup.Signature
	HasSig    bool
}

// SavePages stores a batch of page results in one transaction and moves
// each article from the page queue to the fold queue. A result for an
// article no longer queued (saved before a crash) is skipped. The full
// text goes to its own bucket; the article's record is rewritten only when
// the page changed its topics.
func (s *Store) SavePages(results []PageResult) error {
	packed := make([][]byte, len(results)) // compressed before the writer's turn
	for i, r := range results {
		if r.FullText != "" {
			packed[i] = packText(r.FullText)
		}
	}
	err := s.update(func(tx *bolt.Tx) error {
		q, arts := tx.Bucket(bucketPageQueue), tx.Bucket(bucketArticles)
		for i, r := range results {
			key := pageKey(r.Lane, r.ArticleID)
			if q.Get(key) == nil {
				continue
			}
			if err := q.Delete(key); err != nil {
				return err
			}
			id := itob(r.ArticleID)
			a, err := getArticle(tx, id, false)
			switch {
			case errors.Is(err, ErrNotFound):
				continue
			case err != nil:
				return err
			}
			if r.FullText != "" {
				if err := putPageText(tx, id, packed[i]); err != nil {
					return err
				}
			}
			changed := r.FullText != ""
			if !slices.Equal(a.Topics, r.Topics) || (a.Matched.IsZero() && !r.Matched.IsZero()) {
				changed = true
				a.Topics = r.Topics
				if a.Matched.IsZero() {
					a.Matched = r.Matched
				}
				story := a.StoryID
				a.StoryID = 0 // kept apart
				if err := putJSON(arts, id, &a); err != nil {
					return err
				}
				a.StoryID = story
			}
			if err := queueFold(tx, &a, r.Sig, r.HasSig, s.embedding.Load()); err != nil {
				return err
			}
			if changed {
				if err := queueIndex(tx, a.ID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: save %d page results: %w", len(results), err)
	}
	return nil
}

// migrateEnrich moves the page queue of older versions into the bulk lane.
func migrateEnrich(tx *bolt.Tx) error {
	old := tx.Bucket(bucketEnrich)
	if old == nil {
		return nil
	}
	q, arts := tx.Bucket(bucketPageQueue), tx.Bucket(bucketArticles)
	err := old.ForEach(func(k, _ []byte) error {
		var a Article
		if err := getJSON(arts, k, &a); err != nil {
			return nil // gone: nothing to fetch
		}
		return q.Put(pageKey(PageBulk, btoi(k)), []byte(HostOf(a.URL)))
	})
	if err != nil {
		return fmt.Errorf("migrate page queue: %w", err)
	}
	return tx.DeleteBucket(bucketEnrich)
}

// HostOf is the lower-cased host name of a URL, "" if it has none.
func HostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// queueEmpty reports whether a bucket, or the part of it under prefix, has
// no keys; cheap, unlike Stats.
func queueEmpty(tx *bolt.Tx, bucket, prefix []byte) bool {
	k, _ := tx.Bucket(bucket).Cursor().Seek(prefix)
	return k == nil || !bytes.HasPrefix(k, prefix)
}

// UrgentWork reports whether anything that an alert waits for is still
// queued: an urgent page, an article to fold, a story to summarise or to
// fan out. dozor poll waits for this, not for bulk pages.
func (s *Store) UrgentWork() bool {
	busy := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		busy = !queueEmpty(tx, bucketPageQueue, []byte{byte(PageUrgent)}) ||
			!queueEmpty(tx, bucketFoldQueue, nil) ||
			!queueEmpty(tx, bucketAlerts, nil) ||
			!queueEmpty(tx, bucketFanoutQueue, nil)
		return nil
	})
	return busy
}
