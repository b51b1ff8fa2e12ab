package storage

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Topic is a watched subject: a short name and a query in dozor's query
// language. The query is validated by the caller before it is stored.
type Topic struct {
	Name    string    `json:"name"`
	Query   string    `json:"query"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// PutTopic adds or replaces a topic and reports whether it was new.
func (s *Store) PutTopic(name, query string, now time.Time) (bool, error) {
	created, changed := false, false
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTopics)
		t := Topic{Name: name, Query: query, Created: now, Updated: now}
		var old Topic
		if err := getJSON(b, []byte(name), &old); err == nil {
			if old.Query == query {
				return nil
			}
			t.Created = old.Created
		} else {
			created = true
		}
		changed = true
		return putJSON(b, []byte(name), &t)
	})
	if err != nil {
		return false, fmt.Errorf("storage: put topic %s: %w", name, err)
	}
	if changed {
		s.topicsVersion.Add(1)
	}
	return created, nil
}

// TopicsVersion changes whenever a topic is added, changed or removed in
// this process, so stages recompile their topics only then.
func (s *Store) TopicsVersion() uint64 { return s.topicsVersion.Load() }

// Topic returns one topic by name.
func (s *Store) Topic(name string) (Topic, error) {
	var t Topic
	err := s.db.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketTopics), []byte(name), &t)
	})
	if err != nil {
		return Topic{}, fmt.Errorf("storage: topic %s: %w", name, err)
	}
	return t, nil
}

// Topics lists topics by name.
func (s *Store) Topics() ([]Topic, error) {
	var out []Topic
	err := s.db.View(func(tx *bolt.Tx) error {
		return forEachJSON(tx.Bucket(bucketTopics), func(_ []byte, t *Topic) error {
			out = append(out, *t)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("storage: list topics: %w", err)
	}
	return out, nil
}
