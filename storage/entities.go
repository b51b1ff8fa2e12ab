package storage

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// metaEntities is the meta key of the team's own entity groups.
var metaEntities = []byte("entities")

// Entities returns the team's own groups of names that are one entity
// across languages (the watchlist's entities:).
func (s *Store) Entities() ([][]string, error) {
	var out [][]string
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta).Get(metaEntities) == nil {
			return nil
		}
		return getJSON(tx.Bucket(bucketMeta), metaEntities, &out)
	})
	if err != nil {
		return nil, fmt.Errorf("storage: entities: %w", err)
	}
	return out, nil
}

// SetEntities replaces the team's entity groups.
func (s *Store) SetEntities(groups [][]string) error {
	err := s.update(func(tx *bolt.Tx) error {
		if len(groups) == 0 {
			return tx.Bucket(bucketMeta).Delete(metaEntities)
		}
		return putJSON(tx.Bucket(bucketMeta), metaEntities, groups)
	})
	if err != nil {
		return fmt.Errorf("storage: set entities: %w", err)
	}
	return nil
}
