package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// OutMsg is one story waiting to be sent to one user. It is written when
// the story's alert fans out and removed only after Telegram accepted the
// message, so a crash loses nothing.
type OutMsg struct {
	ID        uint64    `json:"id"`
	UserID    int64     `json:"user_id"`
	StoryID   uint64    `json:"story_id"`
	ArticleID uint64    `json:"article_id"`
	Topics    []string  `json:"topics"`
	Created   time.Time `json:"created"`
	Attempts  int       `json:"attempts,omitempty"`
	NextTry   time.Time `json:"next_try,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

// Delivery states in the delivered bucket, keyed by user and story: one
// message per story per subscriber, however many topics or reprints.
const (
	deliveryQueued  = 'q'
	deliverySent    = 's'
	deliveryDropped = 'x' // refused for good: neither sent nor queued again
)

func deliveryKey(user int64, story uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(user))
	binary.BigEndian.PutUint64(k[8:], story)
	return k
}

// FanOut turns an alert into one outbox message per subscriber of its
// topics and deletes the alert, in one transaction. A subscriber who
// already has the story queued gets the new topics added to that message;
// one who already received it gets nothing. It returns the number of
// messages queued.
func (s *Store) FanOut(alertID uint64, now time.Time) (int, error) {
	queued := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		alerts := tx.Bucket(bucketAlerts)
		var a Alert
		if err := getJSON(alerts, itob(alertID), &a); err != nil {
			return err
		}
		out, del := tx.Bucket(bucketOutbox), tx.Bucket(bucketDelivered)
		err := forEachJSON(tx.Bucket(bucketUsers), func(_ []byte, u *User) error {
			if u.Status != StatusApproved || u.Inactive {
				return nil
			}
			var topics []string
			for _, t := range a.Topics {
				if u.Subscribed(t) {
					topics = append(topics, t)
				}
			}
			if len(topics) == 0 {
				return nil
			}
			dk := deliveryKey(u.ID, a.StoryID)
			if st := del.Get(dk); st != nil {
				if st[0] != deliveryQueued {
					return nil
				}
				id := st[1:9]
				var m OutMsg
				if err := getJSON(out, id, &m); err != nil {
					return nil // sent meanwhile
				}
				m.Topics = append(m.Topics, missing(topics, m.Topics)...)
				return putJSON(out, id, &m)
			}
			id, err := out.NextSequence()
			if err != nil {
				return err
			}
			m := OutMsg{ID: id, UserID: u.ID, StoryID: a.StoryID, ArticleID: a.ArticleID, Topics: topics, Created: now}
			if err := putJSON(out, itob(id), &m); err != nil {
				return err
			}
			queued++
			return del.Put(dk, append([]byte{deliveryQueued}, itob(id)...))
		})
		if err != nil {
			return err
		}
		return alerts.Delete(itob(alertID))
	})
	if err != nil {
		return 0, fmt.Errorf("storage: fan out alert %d: %w", alertID, err)
	}
	return queued, nil
}

// Outbox returns up to limit messages due at now, oldest first.
func (s *Store) Outbox(now time.Time, limit int) ([]OutMsg, error) {
	var out []OutMsg
	err := s.db.View(func(tx *bolt.Tx) error {
		return forEachJSON(tx.Bucket(bucketOutbox), func(_ []byte, m *OutMsg) error {
			if limit > 0 && len(out) >= limit {
				return errStop
			}
			if !m.NextTry.After(now) {
				out = append(out, *m)
			}
			return nil
		})
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, fmt.Errorf("storage: outbox: %w", err)
	}
	return out, nil
}

// OutboxLen is the number of messages waiting.
func (s *Store) OutboxLen() int {
	n := 0
	_ = s.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucketOutbox).Stats().KeyN; return nil })
	return n
}

// errStop ends a ForEach early.
var errStop = errors.New("stop")

// MarkSent removes delivered messages and records them as sent.
func (s *Store) MarkSent(ids []uint64, now time.Time) error {
	if _, err := s.finish(ids, deliverySent, now); err != nil {
		return fmt.Errorf("storage: mark sent: %w", err)
	}
	return nil
}

// DropMessages removes messages Telegram refused for good (message too
// long, chat not found), without recording them as sent; a later alert on
// the story does not queue them again. It returns how many were queued.
func (s *Store) DropMessages(ids []uint64, now time.Time) (int, error) {
	n, err := s.finish(ids, deliveryDropped, now)
	if err != nil {
		return 0, fmt.Errorf("storage: drop messages: %w", err)
	}
	return n, nil
}

// finish takes messages out of the outbox and records their final state
// for the (user, story) pair.
func (s *Store) finish(ids []uint64, state byte, now time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		out, del := tx.Bucket(bucketOutbox), tx.Bucket(bucketDelivered)
		for _, id := range ids {
			var m OutMsg
			if err := getJSON(out, itob(id), &m); err != nil {
				continue // finished already
			}
			v := make([]byte, 9)
			v[0] = state
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
	return n, err
}

// Retry postpones messages after a temporary failure.
func (s *Store) Retry(ids []uint64, next time.Time, reason string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		out := tx.Bucket(bucketOutbox)
		for _, id := range ids {
			var m OutMsg
			if err := getJSON(out, itob(id), &m); err != nil {
				continue
			}
			m.Attempts++
			m.NextTry, m.LastError = next, reason
			if err := putJSON(out, itob(id), &m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: retry: %w", err)
	}
	return nil
}

// DropUserMessages deletes every queued message of a user (who blocked the
// bot, or was banned) and marks the user with fn.
func (s *Store) DropUserMessages(userID int64, fn func(*User)) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		out, del := tx.Bucket(bucketOutbox), tx.Bucket(bucketDelivered)
		var drop []OutMsg
		err := forEachJSON(out, func(_ []byte, m *OutMsg) error {
			if m.UserID == userID {
				drop = append(drop, *m)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, m := range drop {
			if err := out.Delete(itob(m.ID)); err != nil {
				return err
			}
			if err := del.Delete(deliveryKey(m.UserID, m.StoryID)); err != nil {
				return err
			}
			n++
		}
		if fn == nil {
			return nil
		}
		ub := tx.Bucket(bucketUsers)
		var u User
		if err := getJSON(ub, userKey(userID), &u); err != nil {
			return err
		}
		fn(&u)
		return putJSON(ub, userKey(userID), &u)
	})
	if err != nil {
		return 0, fmt.Errorf("storage: drop messages of user %d: %w", userID, err)
	}
	return n, nil
}

// Delivered reports whether a user was sent a story.
func (s *Store) Delivered(userID int64, storyID uint64) bool {
	sent := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketDelivered).Get(deliveryKey(userID, storyID))
		sent = v != nil && v[0] == deliverySent
		return nil
	})
	return sent
}
