package storage

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The search index is a copy of the articles, kept up to date by the index
// stage. Every change that search sees (a new article, its page's text or
// topics, its story) queues the article's id in the same transaction, so a
// crash between a change and its indexing loses nothing: the queue is the
// index's high-water mark, and the stage catches up from it at start.

func queueIndex(tx *bolt.Tx, id uint64) error {
	return tx.Bucket(bucketIndexQueue).Put(itob(id), nil)
}

// QueuedForIndex returns up to limit article ids waiting to be indexed,
// lowest first.
func (s *Store) QueuedForIndex(limit int) ([]uint64, error) {
	var ids []uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketIndexQueue).Cursor()
		for k, _ := c.First(); k != nil && len(ids) < limit; k, _ = c.Next() {
			ids = append(ids, btoi(k))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: queued for index: %w", err)
	}
	return ids, nil
}

// Indexed takes articles the index has stored off the queue.
func (s *Store) Indexed(ids []uint64) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIndexQueue)
		for _, id := range ids {
			if err := b.Delete(itob(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: mark %d indexed: %w", len(ids), err)
	}
	return nil
}

// IndexAll queues every article for indexing, for a new or rebuilt index.
// It writes in chunks, each its own transaction, and reports progress
// through fn (articles queued so far, all articles).
func (s *Store) IndexAll(fn func(done, total int)) error {
	total := 0
	if err := s.db.View(func(tx *bolt.Tx) error {
		total = int(tx.Bucket(bucketArticles).Sequence())
		return nil
	}); err != nil {
		return fmt.Errorf("storage: index all: %w", err)
	}
	const chunk = 10_000
	var after []byte
	done := 0
	for {
		n := 0
		err := s.update(func(tx *bolt.Tx) error {
			q := tx.Bucket(bucketIndexQueue)
			c := tx.Bucket(bucketArticles).Cursor()
			k, _ := c.First()
			if after != nil {
				k, _ = c.Seek(after)
				if k != nil && string(k) == string(after) {
					k, _ = c.Next()
				}
			}
			for ; k != nil && n < chunk; k, _ = c.Next() {
				if err := q.Put(k, nil); err != nil {
					return err
				}
				after = append(after[:0], k...)
				n++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("storage: index all: %w", err)
		}
		done += n
		if fn != nil {
			fn(done, total)
		}
		if n < chunk {
			return nil
		}
	}
}

// IndexQueueLen is how many articles wait to be indexed.
func (s *Store) IndexQueueLen() int {
	n := 0
	_ = s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketIndexQueue).Stats().KeyN
		return nil
	})
	return n
}
