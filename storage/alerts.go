package storage

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Alert is a story that became news on some topics. It is queued in the
// same transaction that stores the article, so a crash between matching and
// delivery loses nothing; later stages (summary, fan-out to subscribers)
// consume it.
type Alert struct {
	ID        uint64    `json:"id"`
	StoryID   uint64    `json:"story_id"`
	ArticleID uint64    `json:"article_id"`
	Topics    []string  `json:"topics"`
	Created   time.Time `json:"created"`
}

func queueAlert(tx *bolt.Tx, a Alert) (*Alert, error) {
	b := tx.Bucket(bucketAlerts)
	id, err := b.NextSequence()
	if err != nil {
		return nil, err
	}
	a.ID = id
	if err := putJSON(b, itob(id), &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// PendingAlerts returns up to limit queued alerts, oldest first.
func (s *Store) PendingAlerts(limit int) ([]Alert, error) {
	var out []Alert
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAlerts).Cursor()
		for k, _ := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, _ = c.Next() {
			var a Alert
			if err := getJSON(tx.Bucket(bucketAlerts), k, &a); err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: pending alerts: %w", err)
	}
	return out, nil
}

// DeleteAlert removes an alert that needs no further work.
func (s *Store) DeleteAlert(id uint64) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketAlerts).Delete(itob(id)) })
	if err != nil {
		return fmt.Errorf("storage: delete alert %d: %w", id, err)
	}
	return nil
}
