package storage

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PendingEnrich returns up to limit articles whose page has not been
// fetched for its full text yet, oldest first.
func (s *Store) PendingEnrich(limit int) ([]uint64, error) {
	var ids []uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEnrich).Cursor()
		for k, _ := c.First(); k != nil && (limit <= 0 || len(ids) < limit); k, _ = c.Next() {
			ids = append(ids, btoi(k))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: pending enrich: %w", err)
	}
	return ids, nil
}

// Enriched is the outcome of fetching an article's page.
type Enriched struct {
	ArticleID uint64
	FullText  string   // "" when the page gave nothing better than the feed
	Topics    []string // topics the article matches with its full text
}

// SaveEnriched stores an article's full text and the topics it matches
// with it, and queues an alert when the full text made the story news on
// a topic it had not alerted yet. The enrich record is removed in the same
// transaction.
func (s *Store) SaveEnriched(e Enriched, now time.Time) (*Alert, error) {
	var alert *Alert
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketEnrich).Delete(itob(e.ArticleID)); err != nil {
			return err
		}
		arts := tx.Bucket(bucketArticles)
		var a Article
		if err := getJSON(arts, itob(e.ArticleID), &a); err != nil {
			return err
		}
		if e.FullText != "" {
			a.FullText = e.FullText
		}
		fresh := missing(e.Topics, a.Topics)
		a.Topics = append(a.Topics, fresh...)
		if err := putJSON(arts, itob(a.ID), &a); err != nil {
			return err
		}
		if len(fresh) == 0 {
			return nil
		}
		stories := tx.Bucket(bucketStories)
		var st Story
		if err := getJSON(stories, itob(a.StoryID), &st); err != nil {
			return err
		}
		news := missing(fresh, st.Topics)
		if len(news) == 0 {
			return nil
		}
		st.Topics = append(st.Topics, news...)
		if err := putJSON(stories, itob(st.ID), &st); err != nil {
			return err
		}
		var err error
		alert, err = queueAlert(tx, Alert{StoryID: st.ID, ArticleID: a.ID, Topics: news, Created: now})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storage: save enriched article %d: %w", e.ArticleID, err)
	}
	return alert, nil
}

// NeedsEnrich reports whether an article still waits for its page.
func (s *Store) NeedsEnrich(id uint64) bool {
	queued := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		queued = tx.Bucket(bucketEnrich).Get(itob(id)) != nil
		return nil
	})
	return queued
}
