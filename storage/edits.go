package storage

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Edits of sent alerts. When another outlet or a translation joins a story
// that has alerted, the alerts already sent are edited to name it, not
// followed by a new message. The deliver stage records the message id of
// each single-story alert it sends; the fold stage queues the story for an
// edit; the edit stage edits the messages sent within EditWindow, at most
// once per story every EditEvery.

const (
	// EditWindow is how long after sending an alert is still edited.
	EditWindow = 48 * time.Hour
	// EditEvery spaces two edits of one story's alerts.
	EditEvery = 10 * time.Minute
)

// SentMessage is one alert message that may be edited.
type SentMessage struct {
	StoryID uint64
	UserID  int64
	ChatID  int64
	MsgID   int
	Sent    time.Time
	// Hash is of the text as last sent or edited, so an edit that would
	// change nothing is not made.
	Hash uint64
}

const sentLen = 32

func encodeSent(m SentMessage) []byte {
	v := make([]byte, sentLen)
	binary.BigEndian.PutUint64(v, uint64(m.ChatID))
	binary.BigEndian.PutUint64(v[8:], uint64(m.MsgID))
	binary.BigEndian.PutUint64(v[16:], uint64(m.Sent.Unix()))
	binary.BigEndian.PutUint64(v[24:], m.Hash)
	return v
}

func sentKey(story uint64, user int64) []byte {
	return append(itob(story), itob(uint64(user))...)
}

// MarkSentMessage is MarkSent for a message that shows one story: it also
// keeps the message's id and the hash of its text, so the alert can be
// edited later.
func (s *Store) MarkSentMessage(id uint64, now time.Time, chatID int64, msgID int, hash uint64) error {
	err := s.update(func(tx *bolt.Tx) error {
		var m OutMsg
		if err := getJSON(tx.Bucket(bucketOutbox), itob(id), &m); err != nil {
			return nil // finished already
		}
		if _, err := finishTx(tx, []uint64{id}, deliverySent, now); err != nil {
			return err
		}
		if m.Note || msgID == 0 {
			return nil
		}
		return tx.Bucket(bucketSentMsgs).Put(sentKey(m.StoryID, m.UserID),
			encodeSent(SentMessage{ChatID: chatID, MsgID: msgID, Sent: now, Hash: hash}))
	})
	if err != nil {
		return fmt.Errorf("storage: mark sent: %w", err)
	}
	return nil
}

// SentMessages returns the messages of a story's alerts sent since since.
func (s *Store) SentMessages(storyID uint64, since time.Time) ([]SentMessage, error) {
	var out []SentMessage
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSentMsgs).Cursor()
		prefix := itob(storyID)
		for k, v := c.Seek(prefix); k != nil && len(k) == 16 && btoi(k[:8]) == storyID; k, v = c.Next() {
			if len(v) != sentLen {
				continue
			}
			m := SentMessage{StoryID: storyID, UserID: int64(btoi(k[8:])), ChatID: int64(btoi(v[:8])),
				MsgID: int(btoi(v[8:16])), Sent: time.Unix(int64(btoi(v[16:24])), 0), Hash: btoi(v[24:])}
			if !m.Sent.Before(since) {
				out = append(out, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: sent messages of %d: %w", storyID, err)
	}
	return out, nil
}

// Edited records the hash of a sent message's new text.
func (s *Store) Edited(m SentMessage, hash uint64) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSentMsgs)
		if b.Get(sentKey(m.StoryID, m.UserID)) == nil {
			return nil
		}
		m.Hash = hash
		return b.Put(sentKey(m.StoryID, m.UserID), encodeSent(m))
	})
}

// ForgetMessage drops a sent message that can no longer be edited
// (deleted, or the chat is gone).
func (s *Store) ForgetMessage(storyID uint64, userID int64) error {
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSentMsgs).Delete(sentKey(storyID, userID))
	})
}

// PruneSentMessages drops the records of messages sent before before:
// they are past editing.
func (s *Store) PruneSentMessages(before time.Time) (int, error) {
	var old [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSentMsgs).ForEach(func(k, v []byte) error {
			if len(v) != sentLen || time.Unix(int64(btoi(v[16:24])), 0).Before(before) {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		})
	})
	if err != nil || len(old) == 0 {
		return 0, err
	}
	err = s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSentMsgs)
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("storage: prune sent messages: %w", err)
	}
	return len(old), nil
}

// QueueEdit queues the edit of a story's sent alerts: now, or EditEvery
// after its last edit. An edit already queued keeps its time.
func (ft *FoldTx) QueueEdit(st *Story) error {
	q := ft.tx.Bucket(bucketEditQueue)
	if q.Get(itob(st.ID)) != nil {
		return nil
	}
	due := ft.now
	if next := st.Edited.Add(EditEvery); next.After(due) {
		due = next
	}
	return q.Put(itob(st.ID), itob(uint64(due.Unix())))
}

// EditsDue returns up to limit stories whose edit is due at now.
func (s *Store) EditsDue(now time.Time, limit int) ([]uint64, time.Time, error) {
	var out []uint64
	var next time.Time // the earliest edit not due yet
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEditQueue).ForEach(func(k, v []byte) error {
			due := time.Unix(int64(btoi(v)), 0)
			if due.After(now) {
				if next.IsZero() || due.Before(next) {
					next = due
				}
				return nil
			}
			if len(out) < limit {
				out = append(out, btoi(k))
			}
			return nil
		})
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("storage: edits due: %w", err)
	}
	return out, next, nil
}

// EditDone takes a story's edit off the queue and records when it was
// made; with retry non-zero it is queued again for then instead.
func (s *Store) EditDone(storyID uint64, now, retry time.Time) error {
	err := s.update(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketEditQueue)
		if !retry.IsZero() {
			return q.Put(itob(storyID), itob(uint64(retry.Unix())))
		}
		if err := q.Delete(itob(storyID)); err != nil {
			return err
		}
		stories := tx.Bucket(bucketStories)
		var st Story
		if err := getJSON(stories, itob(storyID), &st); err != nil {
			return nil // gone
		}
		st.Edited = now
		return putJSON(stories, itob(storyID), &st)
	})
	if err != nil {
		return fmt.Errorf("storage: edit done: %w", err)
	}
	return nil
}
