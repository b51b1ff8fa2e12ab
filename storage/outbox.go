package storage

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	// Quiet marks a message that waited out the user's quiet hours: those
	// go out together, as one grouped message where they fit.
	Quiet bool `json:"quiet,omitempty"`
	// Digest is the due time of the digest the message belongs to, zero
	// for an alert; DigestSize is how many stories that digest has. Note
	// marks a digest's "nothing new" note, which has no story.
	Digest     time.Time `json:"digest,omitzero"`
	DigestSize int       `json:"digest_size,omitempty"`
	Note       bool      `json:"note,omitempty"`
}

// Delivery states in the delivered bucket, keyed by user and story: one
// message per story per subscriber, however many topics or reprints.
const (
	deliveryQueued  = 'q' // in the outbox
	deliveryHeld    = 'h' // held for the user's digest
	deliverySent    = 's'
	deliveryDropped = 'x' // refused for good: neither sent nor queued again
)

func deliveryKey(user int64, story uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(user))
	binary.BigEndian.PutUint64(k[8:], story)
	return k
}

// Recipient is a subscriber an alert is for, with the topics it shows them.
type Recipient struct {
	UserID int64
	Topics []string
	// Hold keeps the story for the recipient's digest instead of the
	// outbox.
	Hold bool
}

// FanOutBatch takes up to limit alerts from the fan-out queue and, in one
// transaction, queues an outbox message for each recipient the fan-out
// stage picks: plan is given the users once per batch and returns who
// each alert is for. A recipient who already
// has the story queued gets the new topics added to that message; one who
// was sent the story, or refused it, gets nothing: one message per story
// per subscriber. It returns the alerts taken and the messages queued.
func (s *Store) FanOutBatch(limit int, now time.Time, plan func([]User) func(Alert) []Recipient) (alerts, queued int, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		alerts, queued = 0, 0
		fan := tx.Bucket(bucketFanoutQueue)
		var users []User
		err := forEachJSON(tx.Bucket(bucketUsers), func(_ []byte, u *User) error {
			users = append(users, *u)
			return nil
		})
		if err != nil {
			return err
		}
		choose := plan(users)
		var done [][]byte
		c := fan.Cursor()
		for k, v := c.First(); k != nil && len(done) < limit; k, v = c.Next() {
			done = append(done, append([]byte(nil), k...))
			var a Alert
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("decode alert %x: %w", k, err)
			}
			for _, r := range choose(a) {
				n, err := queueMessage(tx, a, r, now)
				if err != nil {
					return err
				}
				queued += n
			}
		}
		for _, k := range done {
			if err := fan.Delete(k); err != nil {
				return err
			}
		}
		alerts = len(done)
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("storage: fan out: %w", err)
	}
	return alerts, queued, nil
}

// queueMessage queues a story for one recipient unless they have it
// already; it returns 1 for a new message.
func queueMessage(tx *bolt.Tx, a Alert, r Recipient, now time.Time) (int, error) {
	out, held, del := tx.Bucket(bucketOutbox), tx.Bucket(bucketHeld), tx.Bucket(bucketDelivered)
	dk := deliveryKey(r.UserID, a.StoryID)
	if st := del.Get(dk); st != nil {
		var b *bolt.Bucket
		var key []byte
		switch st[0] {
		case deliveryQueued:
			b, key = out, st[1:9]
		case deliveryHeld:
			b, key = held, heldKey(r.UserID, btoi(st[1:9]))
		default:
			return 0, nil // sent or refused: never again
		}
		var m OutMsg
		if err := getJSON(b, key, &m); err != nil {
			return 0, nil // sent meanwhile
		}
		m.Topics = append(m.Topics, missing(r.Topics, m.Topics)...)
		return 0, putJSON(b, key, &m)
	}
	id, err := out.NextSequence()
	if err != nil {
		return 0, err
	}
	m := OutMsg{ID: id, UserID: r.UserID, StoryID: a.StoryID, ArticleID: a.ArticleID, Topics: r.Topics, Created: now}
	if r.Hold {
		if err := putJSON(held, heldKey(r.UserID, id), &m); err != nil {
			return 0, err
		}
		return 1, del.Put(dk, append([]byte{deliveryHeld}, itob(id)...))
	}
	if err := putJSON(out, itob(id), &m); err != nil {
		return 0, err
	}
	return 1, del.Put(dk, append([]byte{deliveryQueued}, itob(id)...))
}

// missing returns the items of want that are not in have.
func missing(want, have []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
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

// OldestQueued is when the oldest message in the outbox that should have
// gone by now was queued, zero if none: messages waiting out quiet hours
// are not late. Message ids grow, so the first such message is the oldest.
func (s *Store) OldestQueued(now time.Time) (time.Time, error) {
	var oldest time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		return forEachJSON(tx.Bucket(bucketOutbox), func(_ []byte, m *OutMsg) error {
			if m.Quiet && m.NextTry.After(now) {
				return nil
			}
			oldest = m.Created
			return errStop
		})
	})
	if err != nil && !errors.Is(err, errStop) {
		return time.Time{}, fmt.Errorf("storage: oldest queued: %w", err)
	}
	return oldest, nil
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
	err := s.update(func(tx *bolt.Tx) error {
		var err error
		n, err = finishTx(tx, ids, state, now)
		return err
	})
	return n, err
}

func finishTx(tx *bolt.Tx, ids []uint64, state byte, now time.Time) (int, error) {
	n := 0
	out, del := tx.Bucket(bucketOutbox), tx.Bucket(bucketDelivered)
	for _, id := range ids {
		var m OutMsg
		if err := getJSON(out, itob(id), &m); err != nil {
			continue // finished already
		}
		if !m.Note { // a note is about no story
			if err := del.Put(deliveryKey(m.UserID, m.StoryID), finishedRecord(state, now)); err != nil {
				return 0, err
			}
		}
		if err := out.Delete(itob(id)); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// finishedRecord is the delivered record of a story sent or refused at now.
func finishedRecord(state byte, now time.Time) []byte {
	v := make([]byte, 9)
	v[0] = state
	binary.BigEndian.PutUint64(v[1:], uint64(now.Unix()))
	return v
}

// Retry postpones messages after a temporary failure.
func (s *Store) Retry(ids []uint64, next time.Time, reason string) error {
	err := s.update(func(tx *bolt.Tx) error {
		return updateMessages(tx, ids, func(m *OutMsg) {
			m.Attempts++
			m.NextTry, m.LastError = next, reason
		})
	})
	if err != nil {
		return fmt.Errorf("storage: retry: %w", err)
	}
	return nil
}

// updateMessages changes the outbox messages still there with fn.
func updateMessages(tx *bolt.Tx, ids []uint64, fn func(*OutMsg)) error {
	out := tx.Bucket(bucketOutbox)
	for _, id := range ids {
		var m OutMsg
		if err := getJSON(out, itob(id), &m); err != nil {
			continue // sent or dropped meanwhile
		}
		fn(&m)
		if err := putJSON(out, itob(id), &m); err != nil {
			return err
		}
	}
	return nil
}

// DropUserMessages deletes every queued message of a user (who blocked the
// bot, or was banned) and marks the user with fn.
func (s *Store) DropUserMessages(userID int64, fn func(*User)) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
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
		held, err := takeHeld(tx, userID)
		if err != nil {
			return err
		}
		for _, m := range held {
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
