package storage

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Embeddings. The embed stage makes one vector per article, ever, from its
// title and lead, with the named entities found there; the fold stage
// compares a new article's vector with those of recent stories. Vectors
// are opaque bytes here (internal/embed encodes them: model, dimension,
// int8s and a scale).

// ArticleVector is what the embed stage made of one article.
type ArticleVector struct {
	ID       uint64
	Vector   []byte
	Entities []string
}

func embedLane(urgent bool) PageLane {
	if urgent {
		return PageUrgent
	}
	return PageBulk
}

// queueEmbed queues an article for its embedding; one that matched a
// topic goes first.
func queueEmbed(tx *bolt.Tx, id uint64, urgent bool, now time.Time) error {
	return tx.Bucket(bucketEmbedQueue).Put(pageKey(embedLane(urgent), id), itob(uint64(now.Unix())))
}

// embedQueued reports whether an article waits for its embedding.
func embedQueued(tx *bolt.Tx, id uint64) bool {
	q := tx.Bucket(bucketEmbedQueue)
	return q.Get(pageKey(PageUrgent, id)) != nil || q.Get(pageKey(PageBulk, id)) != nil
}

// EmbedQueued reports whether an article waits for its embedding.
func (s *Store) EmbedQueued(id uint64) bool {
	queued := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		queued = embedQueued(tx, id)
		return nil
	})
	return queued
}

// EmbedJob is one article waiting for its embedding.
type EmbedJob struct {
	ArticleID uint64
	Urgent    bool
	Queued    time.Time
}

// QueuedForEmbedding returns up to limit queued articles, those that
// matched a topic first, each lane oldest first.
func (s *Store) QueuedForEmbedding(limit int) ([]EmbedJob, error) {
	var out []EmbedJob
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEmbedQueue).Cursor()
		for _, lane := range []PageLane{PageUrgent, PageBulk} {
			prefix := []byte{byte(lane)}
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Next() {
				j := EmbedJob{ArticleID: btoi(k[1:]), Urgent: lane == PageUrgent}
				if len(v) == 8 {
					j.Queued = time.Unix(int64(btoi(v)), 0)
				}
				out = append(out, j)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: embed queue: %w", err)
	}
	return out, nil
}

// SaveVectors stores the vectors the embed stage made and takes their
// articles, and those in done (given up on: gone, or no text), off the
// embed queue. A vector of the first article of a story becomes the
// story's too, so a model change re-made for the window needs no more.
func (s *Store) SaveVectors(vs []ArticleVector, done []uint64) error {
	err := s.update(func(tx *bolt.Tx) error {
		q, vecs := tx.Bucket(bucketEmbedQueue), tx.Bucket(bucketVectors)
		for _, v := range vs {
			enc, err := encodeVector(v.Vector, v.Entities)
			if err != nil {
				return err
			}
			if err := vecs.Put(itob(v.ID), enc); err != nil {
				return err
			}
			if err := refreshStoryVector(tx, v.ID, enc); err != nil {
				return err
			}
			done = append(done, v.ID)
		}
		for _, id := range done {
			if err := q.Delete(pageKey(PageUrgent, id)); err != nil {
				return err
			}
			if err := q.Delete(pageKey(PageBulk, id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: save vectors: %w", err)
	}
	return nil
}

// refreshStoryVector makes a vector the story's when id is the story's
// first article: re-made for a new model, or made after the story was
// folded without it (the endpoint was slow or down), seen now then.
func refreshStoryVector(tx *bolt.Tx, id uint64, enc []byte) error {
	sid := tx.Bucket(bucketArticleStory).Get(itob(id))
	if sid == nil {
		return nil
	}
	sv := tx.Bucket(bucketStoryVecs)
	old := sv.Get(sid)
	if old == nil {
		old = itob(uint64(time.Now().Unix()))
	}
	var st struct {
		Articles []uint64 `json:"articles"`
	}
	if err := getJSON(tx.Bucket(bucketStories), sid, &st); err != nil || len(st.Articles) == 0 || st.Articles[0] != id {
		return nil
	}
	return sv.Put(sid, append(bytes.Clone(old[:8]), enc...))
}

// QueueEmbed queues articles for their embedding again (the model
// changed). They go first: folding waits for them.
func (s *Store) QueueEmbed(ids []uint64) error {
	now := time.Now()
	err := s.update(func(tx *bolt.Tx) error {
		for _, id := range ids {
			if err := queueEmbed(tx, id, true, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: queue embed: %w", err)
	}
	return nil
}

// ArticleVector returns an article's vector and entities; ok is false when
// it has none.
func (s *Store) ArticleVector(id uint64) (vec []byte, entities []string, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketVectors).Get(itob(id))
		if v == nil {
			return nil
		}
		ok = true
		vec, entities, err = decodeVector(v)
		vec = bytes.Clone(vec)
		return err
	})
	if err != nil {
		return nil, nil, false, fmt.Errorf("storage: vector of %d: %w", id, err)
	}
	return vec, entities, ok, nil
}

// PutStoryVector stores a story's vector and entities, seen now.
func (ft *FoldTx) PutStoryVector(storyID uint64, vec []byte, entities []string) error {
	enc, err := encodeVector(vec, entities)
	if err != nil {
		return err
	}
	return ft.tx.Bucket(bucketStoryVecs).Put(itob(storyID), append(itob(uint64(ft.now.Unix())), enc...))
}

// TouchStoryVector marks a story's vector as seen now: a story that keeps
// getting articles stays in the comparison window.
func (ft *FoldTx) TouchStoryVector(storyID uint64) error {
	sv := ft.tx.Bucket(bucketStoryVecs)
	old := sv.Get(itob(storyID))
	if old == nil {
		return nil
	}
	v := bytes.Clone(old)
	binary.BigEndian.PutUint64(v, uint64(ft.now.Unix()))
	return sv.Put(itob(storyID), v)
}

// StoryVector is a story's vector as the fold stage compares it.
type StoryVector struct {
	StoryID  uint64
	Seen     time.Time
	Vector   []byte
	Entities []string
}

// StoryVector returns one story's vector; ok is false when it has none.
func (s *Store) StoryVector(id uint64) (sv StoryVector, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketStoryVecs).Get(itob(id))
		if len(v) < 8 {
			return nil
		}
		vec, ents, err := decodeVector(v[8:])
		if err != nil {
			return err
		}
		sv, ok = StoryVector{StoryID: id, Seen: time.Unix(int64(binary.BigEndian.Uint64(v)), 0), Vector: bytes.Clone(vec), Entities: ents}, true
		return nil
	})
	if err != nil {
		return StoryVector{}, false, fmt.Errorf("storage: vector of story %d: %w", id, err)
	}
	return sv, ok, nil
}

// StoryVectors calls fn for every story seen since since, with its vector.
func (s *Store) StoryVectors(since time.Time, fn func(StoryVector)) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStoryVecs).ForEach(func(k, v []byte) error {
			if len(v) < 8 {
				return nil
			}
			seen := time.Unix(int64(binary.BigEndian.Uint64(v)), 0)
			if seen.Before(since) {
				return nil
			}
			vec, ents, err := decodeVector(v[8:])
			if err != nil {
				return nil // a damaged entry only costs that story's cross-language folding
			}
			fn(StoryVector{StoryID: btoi(k), Seen: seen, Vector: bytes.Clone(vec), Entities: ents})
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("storage: story vectors: %w", err)
	}
	return nil
}

// encodeVector is entities (JSON, length-prefixed) then the vector.
func encodeVector(vec []byte, entities []string) ([]byte, error) {
	ents, err := json.Marshal(entities)
	if err != nil {
		return nil, err
	}
	if len(ents) > 0xffff {
		return nil, errors.New("entities too long")
	}
	out := make([]byte, 2, 2+len(ents)+len(vec))
	binary.BigEndian.PutUint16(out, uint16(len(ents)))
	out = append(out, ents...)
	return append(out, vec...), nil
}

func decodeVector(b []byte) (vec []byte, entities []string, err error) {
	if len(b) < 2 {
		return nil, nil, errors.New("short vector record")
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return nil, nil, errors.New("short vector record")
	}
	if err := json.Unmarshal(b[2:2+n], &entities); err != nil {
		return nil, nil, err
	}
	return b[2+n:], entities, nil
}
