package storage

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"dozor/internal/dedup"
)

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
	// Edited is when its sent alerts were last edited to name the outlets
	// that joined it since.
	Edited time.Time `json:"edited,omitzero"`
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

// StorySigs calls fn with the signature of every story last seen at or
// after since, for the fold stage's in-memory index.
func (s *Store) StorySigs(since time.Time, fn func(id uint64, seen time.Time, sig dedup.Signature)) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStorySigs).ForEach(func(k, v []byte) error {
			if seen, sig, ok := decodeSig(v); ok && !seen.Before(since.Truncate(time.Second)) {
				fn(btoi(k), seen, sig)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("storage: story signatures: %w", err)
	}
	return nil
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

// foldInfo is what the fold stage needs of an article, kept in its queue
// entry so folding never reads, nor rewrites, the article's record.
type foldInfo struct {
	Title   string    `json:"t,omitempty"`
	Topics  []string  `json:"p,omitempty"`
	Matched time.Time `json:"m,omitzero"`
	Backlog bool      `json:"b,omitempty"`
	HasSig  bool      `json:"s,omitempty"`
	Queued  time.Time `json:"q,omitzero"`
}

// queueFold hands an article to the fold stage with the signature of its
// best text (HasSig false: too short for one); with embed, to the embed
// stage too, which the fold stage waits for (a while) before placing it.
func queueFold(tx *bolt.Tx, a *Article, sig dedup.Signature, hasSig, embed bool) error {
	now := time.Now()
	info, err := json.Marshal(foldInfo{Title: a.Title, Topics: a.Topics, Matched: a.Matched, Backlog: a.Backlog, HasSig: hasSig, Queued: now})
	if err != nil {
		return err
	}
	if embed {
		if err := queueEmbed(tx, a.ID, len(a.Topics) > 0, now); err != nil {
			return err
		}
	}
	v := make([]byte, 0, 4*dedup.NumHashes+len(info))
	v = append(v, encodeSig(time.Time{}, sig)[8:]...)
	return tx.Bucket(bucketFoldQueue).Put(itob(a.ID), append(v, info...))
}

// FoldJob is one article waiting to be placed in a story. Article holds
// what folding needs: its id, title, topics, match time, backlog mark and
// story (set for articles placed by versions that folded at ingest).
type FoldJob struct {
	Article Article
	Sig     dedup.Signature
	HasSig  bool
	// Queued is when the article was queued for folding (zero if not
	// known); Embedding says it still waits for its embedding, and Vector
	// and Entities are the embedding and named entities once made.
	Queued    time.Time
	Embedding bool
	Vector    []byte
	Entities  []string
}

func decodeFoldJob(tx *bolt.Tx, k, v []byte) (FoldJob, error) {
	j := FoldJob{Article: Article{ID: btoi(k)}}
	if len(v) < 4*dedup.NumHashes {
		// Queued by a version that kept only the signature here.
		a, err := getArticle(tx, k, false)
		if err != nil {
			return j, err
		}
		j.Article = a
		if len(v) == 4*dedup.NumHashes {
			_, j.Sig, j.HasSig = decodeSig(append(make([]byte, 8), v...))
		}
		return j, nil
	}
	_, j.Sig, _ = decodeSig(append(make([]byte, 8), v[:4*dedup.NumHashes]...))
	var info foldInfo
	if err := json.Unmarshal(v[4*dedup.NumHashes:], &info); err != nil {
		return j, fmt.Errorf("decode fold entry %x: %w", k, err)
	}
	j.HasSig, j.Queued = info.HasSig, info.Queued
	j.Article.Title, j.Article.Topics, j.Article.Matched, j.Article.Backlog = info.Title, info.Topics, info.Matched, info.Backlog
	if s := tx.Bucket(bucketArticleStory).Get(k); s != nil {
		j.Article.StoryID = btoi(s)
	}
	j.Embedding = embedQueued(tx, j.Article.ID)
	if v := tx.Bucket(bucketVectors).Get(k); v != nil {
		var err error
		if j.Vector, j.Entities, err = decodeVector(v); err != nil {
			return j, fmt.Errorf("decode vector %x: %w", k, err)
		}
	}
	return j, nil
}

// FoldTx is the fold stage's handle on one write transaction: it stores
// what the stage decides about stories and alerts, and decides nothing.
type FoldTx struct {
	tx  *bolt.Tx
	now time.Time
}

// errFoldStop ends a FoldBatch scan at its limit.
var errFoldStop = errors.New("fold batch full")

// FoldBatch takes up to limit articles from the fold queue, oldest first,
// and calls fold for each inside one write transaction; what fold stores
// through the FoldTx commits together with the removal of the batch from
// the queue. An error from fold rolls the whole batch back. It returns the
// number of articles taken.
func (s *Store) FoldBatch(limit int, now time.Time, fold func(*FoldTx, FoldJob) error) (int, error) {
	return s.FoldReady(limit, now, nil, fold)
}

// FoldReady is FoldBatch for the jobs wait does not hold back: those stay
// queued, in order, for a later batch. It looks past at most limit held
// jobs.
func (s *Store) FoldReady(limit int, now time.Time, wait func(FoldJob) bool, fold func(*FoldTx, FoldJob) error) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketFoldQueue)
		ft := &FoldTx{tx: tx, now: now}
		var done [][]byte
		held := 0
		c := q.Cursor()
		for k, v := c.First(); k != nil && len(done) < limit; k, v = c.Next() {
			j, err := decodeFoldJob(tx, k, v)
			if errors.Is(err, ErrNotFound) {
				done = append(done, append([]byte(nil), k...))
				continue // the article is gone
			}
			if err != nil {
				return err
			}
			if wait != nil && wait(j) {
				// Held: later articles were mostly queued later and wait
				// too, so a long run of them ends the look.
				if held++; held >= limit {
					break
				}
				continue
			}
			done = append(done, append([]byte(nil), k...))
			if err := fold(ft, j); err != nil {
				return fmt.Errorf("fold article %d: %w", j.Article.ID, err)
			}
		}
		for _, k := range done {
			if err := q.Delete(k); err != nil {
				return err
			}
		}
		n = len(done)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("storage: fold batch: %w", err)
	}
	return n, nil
}

// Story reads a story inside the transaction.
func (ft *FoldTx) Story(id uint64) (*Story, error) {
	st := &Story{}
	if err := getJSON(ft.tx.Bucket(bucketStories), itob(id), st); err != nil {
		return nil, err
	}
	return st, nil
}

// NewStory starts a story with a as its first article and stores it and
// the article's place in it.
func (ft *FoldTx) NewStory(a *Article) (*Story, error) {
	stories := ft.tx.Bucket(bucketStories)
	id, err := stories.NextSequence()
	if err != nil {
		return nil, err
	}
	st := &Story{ID: id, Title: a.Title, Articles: []uint64{a.ID}, Count: 1, Created: ft.now, Updated: ft.now}
	a.StoryID = id
	stories.FillPercent = appendFill
	if err := putJSON(stories, itob(id), st); err != nil {
		return nil, err
	}
	return st, ft.place(a)
}

// Join adds a to st and stores both; an article already in st is kept as
// it is.
func (ft *FoldTx) Join(st *Story, a *Article) error {
	if a.StoryID != st.ID {
		if len(st.Articles) < maxStoryArticles {
			st.Articles = append(st.Articles, a.ID)
		}
		st.Count++
		a.StoryID = st.ID
		if err := ft.place(a); err != nil {
			return err
		}
	}
	st.Updated = ft.now
	return ft.SaveStory(st)
}

func (ft *FoldTx) place(a *Article) error {
	b := ft.tx.Bucket(bucketArticleStory)
	b.FillPercent = appendFill
	if err := b.Put(itob(a.ID), itob(a.StoryID)); err != nil {
		return err
	}
	return queueIndex(ft.tx, a.ID) // its story is searched by
}

// SaveStory stores a changed story.
func (ft *FoldTx) SaveStory(st *Story) error {
	return putJSON(ft.tx.Bucket(bucketStories), itob(st.ID), st)
}

// PutSig records the signature reprints of the story are compared with,
// and when the story last took an article.
func (ft *FoldTx) PutSig(storyID uint64, sig dedup.Signature) error {
	b := ft.tx.Bucket(bucketStorySigs)
	b.FillPercent = appendFill // story ids only grow
	return b.Put(itob(storyID), encodeSig(ft.now, sig))
}

// QueueAlert hands a story that became news on topics to the summarize
// stage.
func (ft *FoldTx) QueueAlert(a Alert) (*Alert, error) {
	return queueAlert(ft.tx, a)
}
