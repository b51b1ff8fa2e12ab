package storage

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Alert is a story that became news on some topics. The fold stage queues
// it in the transaction that places the article, the summarize stage moves
// it on to the fan-out queue together with the story's summary, and the
// fan-out stage turns it into outbox messages, so a crash between any two
// stages loses nothing.
type Alert struct {
	ID        uint64   `json:"id"`
	StoryID   uint64   `json:"story_id"`
	ArticleID uint64   `json:"article_id"`
	Topics    []string `json:"topics"`
	// Created is when the article matched; SUMMARY_DEADLINE counts from it.
	Created time.Time `json:"created"`
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

// PendingAlerts returns up to limit alerts waiting for their summary with
// an id above after, oldest first.
func (s *Store) PendingAlerts(after uint64, limit int) ([]Alert, error) {
	var out []Alert
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAlerts)
		c := b.Cursor()
		for k, _ := c.Seek(itob(after + 1)); k != nil && (limit <= 0 || len(out) < limit); k, _ = c.Next() {
			var a Alert
			if err := getJSON(b, k, &a); err != nil {
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

// Summarized is one alert the summarize stage is done with.
type Summarized struct {
	Alert Alert
	// Summary is stored unless the story has one in its language already
	// (the first summary of a story wins); nil when the stage reused the
	// stored one.
	Summary *Summary
}

// SaveSummaries stores a batch of summaries and the day's usage counters,
// and moves the alerts to the fan-out queue, in one transaction.
func (s *Store) SaveSummaries(done []Summarized, now time.Time, usage Usage) error {
	err := s.update(func(tx *bolt.Tx) error {
		alerts, fan, sums := tx.Bucket(bucketAlerts), tx.Bucket(bucketFanoutQueue), tx.Bucket(bucketSummaries)
		for _, d := range done {
			if d.Summary != nil {
				k := summaryKey(d.Summary.StoryID, d.Summary.Lang)
				if sums.Get(k) == nil {
					if err := putJSON(sums, k, d.Summary); err != nil {
						return err
					}
				}
			}
			k := itob(d.Alert.ID)
			if alerts.Get(k) == nil {
				continue // moved on before a crash
			}
			if err := alerts.Delete(k); err != nil {
				return err
			}
			if err := putJSON(fan, k, &d.Alert); err != nil {
				return err
			}
		}
		return addUsage(tx, now, usage)
	})
	if err != nil {
		return fmt.Errorf("storage: save %d summaries: %w", len(done), err)
	}
	return nil
}
