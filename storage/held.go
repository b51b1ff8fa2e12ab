package storage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Stories for a user who reads digests are held by user, not queued in
// the outbox, until the digest stage sends them together.

func heldKey(user int64, id uint64) []byte {
	return append(userKey(user), itob(id)...)
}

// takeHeld removes every story held for a user and returns them, oldest
// first. A record that does not decode could never be sent; it goes too,
// rather than blocking the user's digest for ever.
func takeHeld(tx *bolt.Tx, userID int64) ([]OutMsg, error) {
	held := tx.Bucket(bucketHeld)
	prefix := userKey(userID)
	var out []OutMsg
	c := held.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Seek(prefix) {
		var m OutMsg
		if err := json.Unmarshal(v, &m); err == nil {
			out = append(out, m)
		}
		if err := held.Delete(k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Held returns the stories held for a user's digest, oldest first.
func (s *Store) Held(userID int64) ([]OutMsg, error) {
	var out []OutMsg
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := userKey(userID)
		c := tx.Bucket(bucketHeld).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var m OutMsg
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode held %x: %w", k, err)
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: held for %d: %w", userID, err)
	}
	return out, nil
}

// FinishHeld takes held stories of a user out, recording them as sent
// (sent true) or as refused for good.
func (s *Store) FinishHeld(userID int64, ids []uint64, sent bool, now time.Time) error {
	state := byte(deliveryDropped)
	if sent {
		state = deliverySent
	}
	err := s.update(func(tx *bolt.Tx) error {
		held, del := tx.Bucket(bucketHeld), tx.Bucket(bucketDelivered)
		for _, id := range ids {
			k := heldKey(userID, id)
			var m OutMsg
			if err := getJSON(held, k, &m); err != nil {
				continue
			}
			if err := del.Put(deliveryKey(m.UserID, m.StoryID), finishedRecord(state, now)); err != nil {
				return err
			}
			if err := held.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: finish held for %d: %w", userID, err)
	}
	return nil
}

// HoldMessages moves outbox messages to their users' digests: the user
// switched to a digest after they were queued.
func (s *Store) HoldMessages(ids []uint64) error {
	err := s.update(func(tx *bolt.Tx) error {
		out, held, del := tx.Bucket(bucketOutbox), tx.Bucket(bucketHeld), tx.Bucket(bucketDelivered)
		for _, id := range ids {
			var m OutMsg
			if err := getJSON(out, itob(id), &m); err != nil {
				continue
			}
			m.NextTry, m.Attempts, m.LastError = time.Time{}, 0, ""
			if err := putJSON(held, heldKey(m.UserID, id), &m); err != nil {
				return err
			}
			if err := del.Put(deliveryKey(m.UserID, m.StoryID), append([]byte{deliveryHeld}, itob(id)...)); err != nil {
				return err
			}
			if err := out.Delete(itob(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: hold messages: %w", err)
	}
	return nil
}

// ReleaseHeld moves a user's held stories to the outbox: the user went
// back to instant alerts. It returns how many.
func (s *Store) ReleaseHeld(userID int64) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		out, del := tx.Bucket(bucketOutbox), tx.Bucket(bucketDelivered)
		msgs, err := takeHeld(tx, userID)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if err := putJSON(out, itob(m.ID), &m); err != nil {
				return err
			}
			if err := del.Put(deliveryKey(m.UserID, m.StoryID), append([]byte{deliveryQueued}, itob(m.ID)...)); err != nil {
				return err
			}
		}
		n = len(msgs)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("storage: release held for %d: %w", userID, err)
	}
	return n, nil
}

// Postpone puts messages off until a time without counting an attempt:
// the user's quiet hours.
func (s *Store) Postpone(ids []uint64, until time.Time) error {
	err := s.update(func(tx *bolt.Tx) error {
		return updateMessages(tx, ids, func(m *OutMsg) { m.NextTry, m.Quiet = until, true })
	})
	if err != nil {
		return fmt.Errorf("storage: postpone: %w", err)
	}
	return nil
}

// StartDigest begins the digest of a user's schedule that was due at due:
// in one transaction it moves the stories held for the user to the outbox,
// stamped with due so the deliver stage sends them as that digest, and
// records due as the user's last digest, so neither a restart nor a
// second call sends it twice. Stories whose every topic the user has muted
// are dropped instead. With nothing held and note set, a "nothing new"
// note is queued. It returns how many messages were queued; 0 also when
// the digest was begun already.
func (s *Store) StartDigest(userID int64, due, now time.Time, note bool) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		var u User
		if err := getJSON(users, userKey(userID), &u); err != nil {
			return err
		}
		if !due.After(u.DigestLast) {
			return nil
		}
		u.DigestLast = due
		if err := putJSON(users, userKey(userID), &u); err != nil {
			return err
		}
		out, del := tx.Bucket(bucketOutbox), tx.Bucket(bucketDelivered)
		msgs, err := takeHeld(tx, userID)
		if err != nil {
			return err
		}
		var keep []OutMsg
		for _, m := range msgs {
			m.Topics = slices.DeleteFunc(m.Topics, func(t string) bool { return u.Muted(t, now) })
			if len(m.Topics) == 0 {
				if err := del.Put(deliveryKey(m.UserID, m.StoryID), finishedRecord(deliveryDropped, now)); err != nil {
					return err
				}
				continue
			}
			keep = append(keep, m)
		}
		if len(keep) == 0 && note {
			id, err := out.NextSequence()
			if err != nil {
				return err
			}
			n = 1
			return putJSON(out, itob(id), &OutMsg{ID: id, UserID: userID, Created: now, Digest: due, Note: true})
		}
		for _, m := range keep {
			m.Digest, m.DigestSize = due, len(keep)
			if err := putJSON(out, itob(m.ID), &m); err != nil {
				return err
			}
			if err := del.Put(deliveryKey(m.UserID, m.StoryID), append([]byte{deliveryQueued}, itob(m.ID)...)); err != nil {
				return err
			}
		}
		n = len(keep)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("storage: start digest for %d: %w", userID, err)
	}
	return n, nil
}
