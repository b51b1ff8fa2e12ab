package storage

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"dozor/internal/dedup"
)

// Article is one news item. Its identity is Key: the canonical URL, else
// the feed's GUID.
type Article struct {
	ID        uint64    `json:"id"`
	Key       string    `json:"key"`
	URL       string    `json:"url"`
	GUID      string    `json:"guid,omitempty"`
	Title     string    `json:"title"`
	Text      string    `json:"text,omitempty"`      // what the feed carried
	FullText  string    `json:"full_text,omitempty"` // extracted from the page
	SourceID  uint64    `json:"source_id"`
	Source    string    `json:"source"` // display name at fetch time
	Published time.Time `json:"published,omitzero"`
	Fetched   time.Time `json:"fetched"`
	Lang      string    `json:"lang,omitempty"`
	StoryID   uint64    `json:"story_id"`
	Topics    []string  `json:"topics,omitempty"` // topics it matched when stored
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

// maxStoryArticles caps the article list kept on a story, so a story that
// everybody reprints doesn't grow a record rewritten on every reprint.
const maxStoryArticles = 100

// Story groups reprints of one piece of news.
type Story struct {
	ID       uint64    `json:"id"`
	Title    string    `json:"title"`
	Articles []uint64  `json:"articles"` // the first is the original; at most maxStoryArticles
	Count    int       `json:"count"`    // all articles, also those past the cap
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Topics   []string  `json:"topics,omitempty"` // topics already alerted
}

// NewArticle is an article the watcher found and has not stored yet.
type NewArticle struct {
	Article
	Sig       dedup.Signature
	HasSig    bool // too little text for a signature: a story of its own
	Alertable bool // false for backlog found at a source's first fetch
}

// FetchResult is one source's fetch outcome; it is saved in one transaction
// so a crash never stores articles without the ETag that produced them, or
// the other way round.
type FetchResult struct {
	SourceID uint64
	Update   func(*Source) // state change, applied to the stored source
	Articles []NewArticle
}

// Saved reports what happened to one new article.
type Saved struct {
	Article  Article
	NewStory bool
	Alert    *Alert // queued when the article's story is news on a topic
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
// (one fsync for many sources) and returns, per result, what was saved.
// Articles whose key is already stored are skipped.
func (s *Store) SaveFetches(results []FetchResult, now time.Time) ([][]Saved, error) {
	s.dedupMu.Lock()
	defer s.dedupMu.Unlock()
	var out [][]Saved
	err := s.db.Update(func(tx *bolt.Tx) error {
		out = make([][]Saved, len(results))
		for i, r := range results {
			saved, err := s.saveFetch(tx, r, now)
			if err != nil {
				return err
			}
			out[i] = saved
		}
		return nil
	})
	if err != nil {
		// The in-memory story index may name stories that were rolled back.
		if lerr := s.loadStoryIndex(now); lerr != nil {
			return nil, fmt.Errorf("storage: save fetches: %w (and %v)", err, lerr)
		}
		return nil, fmt.Errorf("storage: save fetches: %w", err)
	}
	return out, nil
}

func (s *Store) saveFetch(tx *bolt.Tx, r FetchResult, now time.Time) ([]Saved, error) {
	arts, keys := tx.Bucket(bucketArticles), tx.Bucket(bucketArticleKeys)
	var saved []Saved
	for _, na := range r.Articles {
		if na.Key == "" || keys.Get([]byte(na.Key)) != nil {
			continue
		}
		id, err := arts.NextSequence()
		if err != nil {
			return nil, err
		}
		a := na.Article
		a.ID = id
		if a.Fetched.IsZero() {
			a.Fetched = now
		}
		st, isNew, err := s.attachStory(tx, &a, na, now)
		if err != nil {
			return nil, err
		}
		a.StoryID = st.ID
		var alert *Alert
		if na.Alertable && len(a.Topics) > 0 {
			fresh := missing(a.Topics, st.Topics)
			if len(fresh) > 0 {
				st.Topics = append(st.Topics, fresh...)
				alert, err = queueAlert(tx, Alert{StoryID: st.ID, ArticleID: a.ID, Topics: fresh, Created: now})
				if err != nil {
					return nil, err
				}
			}
		}
		if err := putJSON(tx.Bucket(bucketStories), itob(st.ID), st); err != nil {
			return nil, err
		}
		if err := putJSON(arts, itob(id), &a); err != nil {
			return nil, err
		}
		if err := keys.Put([]byte(a.Key), itob(id)); err != nil {
			return nil, err
		}
		if err := tx.Bucket(bucketArticleTime).Put(timeKey(a.Time(), id), nil); err != nil {
			return nil, err
		}
		if na.Alertable {
			// News (not backlog) gets its page fetched for the full text.
			if err := tx.Bucket(bucketEnrich).Put(itob(id), nil); err != nil {
				return nil, err
			}
		}
		saved = append(saved, Saved{Article: a, NewStory: isNew, Alert: alert})
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

// attachStory finds the story a new article belongs to, or starts one.
func (s *Store) attachStory(tx *bolt.Tx, a *Article, na NewArticle, now time.Time) (*Story, bool, error) {
	stories := tx.Bucket(bucketStories)
	if na.HasSig {
		if id, ok := s.dedup.find(na.Sig, now); ok {
			st := &Story{}
			if err := getJSON(stories, itob(id), st); err == nil {
				if len(st.Articles) < maxStoryArticles {
					st.Articles = append(st.Articles, a.ID)
				}
				st.Count++
				st.Updated = now
				s.dedup.touch(id, now)
				return st, false, tx.Bucket(bucketStorySigs).Put(itob(id), encodeSig(now, na.Sig))
			}
		}
	}
	id, err := stories.NextSequence()
	if err != nil {
		return nil, false, err
	}
	st := &Story{ID: id, Title: a.Title, Articles: []uint64{a.ID}, Count: 1, Created: now, Updated: now}
	if na.HasSig {
		s.dedup.add(id, na.Sig, now)
		if err := tx.Bucket(bucketStorySigs).Put(itob(id), encodeSig(now, na.Sig)); err != nil {
			return nil, false, err
		}
	}
	return st, true, nil
}

// missing returns the items of want that are not in have.
func missing(want, have []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

func timeKey(t time.Time, id uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano()))
	binary.BigEndian.PutUint64(k[8:], id)
	return k
}

// Article returns an article by id.
func (s *Store) Article(id uint64) (Article, error) {
	var a Article
	err := s.db.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketArticles), itob(id), &a)
	})
	if err != nil {
		return Article{}, fmt.Errorf("storage: article %d: %w", id, err)
	}
	return a, nil
}

// ArticleByKey returns an article by its identity key.
func (s *Store) ArticleByKey(key string) (Article, error) {
	var a Article
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketArticleKeys).Get([]byte(key))
		if id == nil {
			return ErrNotFound
		}
		return getJSON(tx.Bucket(bucketArticles), id, &a)
	})
	if err != nil {
		return Article{}, fmt.Errorf("storage: article %s: %w", key, err)
	}
	return a, nil
}

// Story returns a story by id.
func (s *Store) Story(id uint64) (Story, error) {
	var st Story
	err := s.db.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketStories), itob(id), &st)
	})
	if err != nil {
		return Story{}, fmt.Errorf("storage: story %d: %w", id, err)
	}
	return st, nil
}

// SetFullText stores the text extracted from an article's page.
func (s *Store) SetFullText(id uint64, text string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketArticles)
		var a Article
		if err := getJSON(b, itob(id), &a); err != nil {
			return err
		}
		a.FullText = text
		return putJSON(b, itob(id), &a)
	})
	if err != nil {
		return fmt.Errorf("storage: set full text of %d: %w", id, err)
	}
	return nil
}

// ArticlesSince calls fn for every article that appeared at or after since,
// newest first, until fn returns false.
func (s *Store) ArticlesSince(since time.Time, fn func(*Article) bool) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		arts := tx.Bucket(bucketArticles)
		c := tx.Bucket(bucketArticleTime).Cursor()
		floor := timeKey(since, 0)
		for k, _ := c.Last(); k != nil && string(k) >= string(floor); k, _ = c.Prev() {
			var a Article
			if err := getJSON(arts, k[8:], &a); err != nil {
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
	Sources, Articles, Stories, Topics, Alerts int
}

// Count returns the number of records of each kind.
func (s *Store) Count() (Counts, error) {
	var c Counts
	err := s.db.View(func(tx *bolt.Tx) error {
		c.Sources = tx.Bucket(bucketSources).Stats().KeyN
		c.Articles = tx.Bucket(bucketArticles).Stats().KeyN
		c.Stories = tx.Bucket(bucketStories).Stats().KeyN
		c.Topics = tx.Bucket(bucketTopics).Stats().KeyN
		c.Alerts = tx.Bucket(bucketAlerts).Stats().KeyN
		return nil
	})
	if err != nil {
		return Counts{}, fmt.Errorf("storage: count: %w", err)
	}
	return c, nil
}
