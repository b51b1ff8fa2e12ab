package storage

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"dozor/internal/dedup"
)

// Article is one news item. Its identity is Key: the canonical URL, else
// the feed's GUID.
type Article struct {
	ID    uint64 `json:"id"`
	Key   string `json:"key"`
	URL   string `json:"url"`
	GUID  string `json:"guid,omitempty"`
	Title string `json:"title"`
	Text  string `json:"text,omitempty"` // what the feed carried
	// FullText is the text extracted from the page. It is stored apart
	// from the record and loaded by Article, not by ArticlesSince.
	FullText  string    `json:"full_text,omitempty"`
	SourceID  uint64    `json:"source_id"`
	Source    string    `json:"source"` // display name at fetch time
	Published time.Time `json:"published,omitzero"`
	Fetched   time.Time `json:"fetched"`
	Lang      string    `json:"lang,omitempty"`
	// StoryID is 0 until the fold stage placed the article; it is stored
	// apart from the record too.
	StoryID uint64   `json:"story_id,omitempty"`
	Topics  []string `json:"topics,omitempty"` // topics it matched, on any text
	// Matched is when it first matched a topic: SUMMARY_DEADLINE counts
	// from here, however long its page took.
	Matched time.Time `json:"matched,omitzero"`
	// Backlog marks items already in a feed at its first fetch: stored and
	// searchable, but never alerted.
	Backlog bool `json:"backlog,omitempty"`
}

// Time is when the article appeared: its published time unless missing or
// later than when we saw it.
func (a *Article) Time() time.Time {
	if a.Published.IsZero() || a.Published.After(a.Fetched) {
		return a.Fetched
	}
	return a.Published
}

// BestText is the fullest text known for the article.
func (a *Article) BestText() string {
	if len(a.FullText) > len(a.Text) {
		return a.FullText
	}
	return a.Text
}

// PageLane says whether, and how soon, an article's page is fetched.
type PageLane byte

// Page lanes. Urgent pages belong to articles that already matched a
// topic: their summary waits for them, so they go ahead of the bulk.
const (
	PageNone   PageLane = 0
	PageBulk   PageLane = 'b'
	PageUrgent PageLane = 'u'
)

// NewArticle is an article the watcher found and has not stored yet, with
// what the watcher decided about it.
type NewArticle struct {
	Article
	// Page queues the article for its page; with PageNone it goes straight
	// to the fold stage with Sig.
	Page PageLane
	Host string // the page's host, for fair scheduling across hosts
	Sig  dedup.Signature
	// HasSig is false when the text is too short for a signature: the
	// article becomes a story of its own.
	HasSig bool
}

// FetchResult is one source's fetch outcome; it is saved in one transaction
// so a crash never stores articles without the ETag that produced them, or
// the other way round.
type FetchResult struct {
	SourceID uint64
	Update   func(*Source) // state change, applied to the stored source
	Articles []NewArticle
}

// KnownKeys returns which of keys are already stored, so the watcher can
// skip analysing items it has seen.
func (s *Store) KnownKeys(keys []string) (map[string]bool, error) {
	known := make(map[string]bool)
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketArticleKeys)
		for _, k := range keys {
			if b.Get([]byte(k)) != nil {
				known[k] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: known keys: %w", err)
	}
	return known, nil
}

// SaveFetches stores the results of several fetches in one transaction
// (one fsync for many sources) and returns, per result, the articles it
// stored with their ids. Articles whose key is already stored are skipped.
// Each stored article is queued for its page or for the fold stage.
func (s *Store) SaveFetches(results []FetchResult) ([][]Article, error) {
	var out [][]Article
	err := s.update(func(tx *bolt.Tx) error {
		out = make([][]Article, len(results))
		for i, r := range results {
			saved, err := saveFetch(tx, r, s.embedding.Load())
			if err != nil {
				return err
			}
			out[i] = saved
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: save fetches: %w", err)
	}
	return out, nil
}

func saveFetch(tx *bolt.Tx, r FetchResult, embed bool) ([]Article, error) {
	arts, keys := tx.Bucket(bucketArticles), tx.Bucket(bucketArticleKeys)
	var saved []Article
	for _, na := range r.Articles {
		if na.Key == "" || keys.Get([]byte(na.Key)) != nil {
			continue
		}
		id, err := arts.NextSequence()
		if err != nil {
			return nil, err
		}
		a := na.Article
		a.ID, a.StoryID, a.FullText = id, 0, ""
		arts.FillPercent = appendFill
		if err := putJSON(arts, itob(id), &a); err != nil {
			return nil, err
		}
		if err := keys.Put([]byte(a.Key), itob(id)); err != nil {
			return nil, err
		}
		// Not appendFill: items are published in no order across feeds, and
		// a key put in the middle of a page filled to 95 % splits it into
		// one full page and one nearly empty (28 % used on a first import).
		times := tx.Bucket(bucketArticleTime)
		if err := times.Put(timeKey(a.Time(), id), nil); err != nil {
			return nil, err
		}
		if na.Page != PageNone {
			err = tx.Bucket(bucketPageQueue).Put(pageKey(na.Page, id), []byte(na.Host))
		} else {
			err = queueFold(tx, &a, na.Sig, na.HasSig, embed)
		}
		if err == nil {
			err = queueIndex(tx, id)
		}
		if err != nil {
			return nil, err
		}
		saved = append(saved, a)
	}
	if r.Update != nil {
		err := updateSource(tx, r.SourceID, func(src *Source) {
			r.Update(src)
			src.Items += len(saved)
		})
		if err != nil {
			return nil, err
		}
	}
	return saved, nil
}

func timeKey(t time.Time, id uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano()))
	binary.BigEndian.PutUint64(k[8:], id)
	return k
}

// appendFill is the fill percent of buckets whose keys only grow (ids in
// the order they are given): their pages are never split in the middle,
// so bbolt's default of half-full pages would waste half the file.
const appendFill = 0.95

// getArticle reads an article's record and its story; with text, its full
// text too.
func getArticle(tx *bolt.Tx, key []byte, text bool) (Article, error) {
	var a Article
	if err := getJSON(tx.Bucket(bucketArticles), key, &a); err != nil {
		return Article{}, err
	}
	if v := tx.Bucket(bucketArticleStory).Get(key); v != nil {
		a.StoryID = btoi(v)
	}
	if text {
		t, err := pageText(tx, key)
		if err != nil {
			return Article{}, fmt.Errorf("article %x: %w", key, err)
		}
		a.FullText = t
	}
	return a, nil
}

// Article returns an article by id, with its full text.
func (s *Store) Article(id uint64) (Article, error) {
	var a Article
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		a, err = getArticle(tx, itob(id), true)
		return err
	})
	if err != nil {
		return Article{}, fmt.Errorf("storage: article %d: %w", id, err)
	}
	return a, nil
}

// ArticleHead returns an article by id without its full text: what a
// stage that only shows or schedules the article needs. Reading the full
// text would bring its pages into memory.
func (s *Store) ArticleHead(id uint64) (Article, error) {
	var a Article
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		a, err = getArticle(tx, itob(id), false)
		return err
	})
	if err != nil {
		return Article{}, fmt.Errorf("storage: article %d: %w", id, err)
	}
	return a, nil
}

// FullText returns the text extracted from an article's page, "" if none.
func (s *Store) FullText(id uint64) (string, error) {
	var text string
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		text, err = pageText(tx, itob(id))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("storage: full text of %d: %w", id, err)
	}
	return text, nil
}

// ArticlesSince calls fn for every article that appeared at or after since,
// newest first, until fn returns false. The articles come without their
// full text (FullText loads it).
func (s *Store) ArticlesSince(since time.Time, fn func(*Article) bool) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketArticleTime).Cursor()
		floor := timeKey(since, 0)
		for k, _ := c.Last(); k != nil && string(k) >= string(floor); k, _ = c.Prev() {
			a, err := getArticle(tx, k[8:], false)
			if err != nil {
				continue // index entry of a vanished article
			}
			if !fn(&a) {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: articles since %s: %w", since.Format(time.RFC3339), err)
	}
	return nil
}

// Counts is a census of the database.
type Counts struct {
	Sources, Articles, Stories, Topics int
	// Queue lengths, one per pipeline stage; Held waits for digests.
	PagesUrgent, PagesBulk, Fold, Alerts, Fanout, Outbox, Index, Held, Embed, Edit int
}

// Count returns the number of records of each kind.
func (s *Store) Count() (Counts, error) {
	var c Counts
	err := s.db.View(func(tx *bolt.Tx) error {
		c.Sources = tx.Bucket(bucketSources).Stats().KeyN
		// Articles and stories are numbered from one and never deleted:
		// their sequence is their count, where Stats would read every page.
		c.Articles = int(tx.Bucket(bucketArticles).Sequence())
		c.Stories = int(tx.Bucket(bucketStories).Sequence())
		c.Topics = tx.Bucket(bucketTopics).Stats().KeyN
		c.PagesUrgent, c.PagesBulk = countPages(tx)
		c.Fold = tx.Bucket(bucketFoldQueue).Stats().KeyN
		c.Alerts = tx.Bucket(bucketAlerts).Stats().KeyN
		c.Fanout = tx.Bucket(bucketFanoutQueue).Stats().KeyN
		c.Outbox = tx.Bucket(bucketOutbox).Stats().KeyN
		c.Index = tx.Bucket(bucketIndexQueue).Stats().KeyN
		c.Held = tx.Bucket(bucketHeld).Stats().KeyN
		c.Embed = tx.Bucket(bucketEmbedQueue).Stats().KeyN
		c.Edit = tx.Bucket(bucketEditQueue).Stats().KeyN
		return nil
	})
	if err != nil {
		return Counts{}, fmt.Errorf("storage: count: %w", err)
	}
	return c, nil
}
