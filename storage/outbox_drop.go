package storage

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// deliveryDropped marks a story Telegram refused for good for one user
// (message too long, chat not found): it is neither sent nor queued, and a
// later reprint of the story does not queue it again.
const deliveryDropped = 'x'

// DropMessages removes messages that can never be delivered, without
// recording them as sent. It returns how many were still queued.
func (s *Store) DropMessages(ids []uint64, now time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		out, del := tx.Bucket(bucketOutbox), tx.Bucket(bucketDelivered)
		for _, id := range ids {
			var m OutMsg
			if err := getJSON(out, itob(id), &m); err != nil {
				continue
			}
			v := make([]byte, 9)
			v[0] = deliveryDropped
			binary.BigEndian.PutUint64(v[1:], uint64(now.Unix()))
			if err := del.Put(deliveryKey(m.UserID, m.StoryID), v); err != nil {
				return err
			}
			if err := out.Delete(itob(id)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("storage: drop messages: %w", err)
	}
	return n, nil
}
