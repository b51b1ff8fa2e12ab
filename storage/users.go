package storage

import (
	"fmt"
	"slices"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// UserStatus is where a Telegram user stands with dozor.
type UserStatus string

// User statuses.
const (
	StatusPending  UserStatus = "pending"  // asked to join, waiting for an admin
	StatusApproved UserStatus = "approved" // may subscribe
	StatusBanned   UserStatus = "banned"   // denied or banned: gets nothing back
)

// Delivery modes.
const (
	ModeInstant = "instant"
	ModeDigest  = "digest"
)

// User is a Telegram user who started the bot.
type User struct {
	ID       int64      `json:"id"`      // Telegram user id
	ChatID   int64      `json:"chat_id"` // where alerts go; moves when a group migrates
	Name     string     `json:"name"`
	Username string     `json:"username,omitempty"`
	Lang     string     `json:"lang"` // interface language: ru or en
	Status   UserStatus `json:"status"`
	Inactive bool       `json:"inactive,omitempty"` // blocked the bot: stop sending
	Mode     string     `json:"mode"`
	TZ       string     `json:"tz"`
	Topics   []string   `json:"topics,omitempty"`
	Created  time.Time  `json:"created"`
	Updated  time.Time  `json:"updated"`
	// AddedBy names who started the bot in a group, for the admins.
	AddedBy string `json:"added_by,omitempty"`
	// Asked is when the admins were told the user waits for approval;
	// zero while they have not been yet.
	Asked time.Time `json:"asked,omitzero"`

	// The digest (Mode ModeDigest): DigestEvery is DigestDaily or
	// DigestWeekly, at DigestAt in TZ, weekly on DigestDay (a
	// time.Weekday). DigestLast is the scheduled time of the last digest
	// sent, so a restart neither skips nor repeats one. DigestNotes sends
	// "nothing new" for an empty period.
	DigestEvery string    `json:"digest_every,omitempty"`
	DigestAt    Clock     `json:"digest_at,omitempty"`
	DigestDay   int       `json:"digest_day,omitempty"`
	DigestLast  time.Time `json:"digest_last,omitzero"`
	DigestNotes bool      `json:"digest_notes,omitempty"`
	// Quiet hours, in TZ: alerts that arrive in them wait for their end.
	QuietFrom Clock `json:"quiet_from,omitempty"`
	QuietTo   Clock `json:"quiet_to,omitempty"`
	// Mutes: topic → until when (zero: for ever).
	Mutes map[string]time.Time `json:"mutes,omitempty"`
}

// Location is the user's time zone, UTC if unknown.
func (u *User) Location() *time.Location {
	if loc, err := time.LoadLocation(u.TZ); err == nil && u.TZ != "" {
		return loc
	}
	return time.UTC
}

// Subscribed reports whether the user follows a topic.
func (u *User) Subscribed(topic string) bool { return slices.Contains(u.Topics, topic) }

func userKey(id int64) []byte { return itob(uint64(id)) }

// User returns a user by Telegram id.
func (s *Store) User(id int64) (User, error) {
	var u User
	err := s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketUsers), userKey(id), &u) })
	if err != nil {
		return User{}, fmt.Errorf("storage: user %d: %w", id, err)
	}
	return u, nil
}

// CreateUser stores u unless the user exists; it returns the stored user
// and whether it was created.
func (s *Store) CreateUser(u User) (User, bool, error) {
	created := false
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		var old User
		if err := getJSON(b, userKey(u.ID), &old); err == nil {
			u = old
			return nil
		}
		created = true
		return putJSON(b, userKey(u.ID), &u)
	})
	if err != nil {
		return User{}, false, fmt.Errorf("storage: create user %d: %w", u.ID, err)
	}
	return u, created, nil
}

// UpdateUser applies fn to a stored user and returns the result.
func (s *Store) UpdateUser(id int64, fn func(*User)) (User, error) {
	var u User
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		if err := getJSON(b, userKey(id), &u); err != nil {
			return err
		}
		fn(&u)
		return putJSON(b, userKey(id), &u)
	})
	if err != nil {
		return User{}, fmt.Errorf("storage: update user %d: %w", id, err)
	}
	return u, nil
}

// MarkAsked records that the admins were told about these waiting users.
func (s *Store) MarkAsked(ids []int64, now time.Time) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		for _, id := range ids {
			var u User
			if err := getJSON(b, userKey(id), &u); err != nil {
				continue // gone meanwhile
			}
			u.Asked = now
			if err := putJSON(b, userKey(id), &u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: mark users asked: %w", err)
	}
	return nil
}

// Users lists all users by id.
func (s *Store) Users() ([]User, error) {
	var out []User
	err := s.db.View(func(tx *bolt.Tx) error {
		return forEachJSON(tx.Bucket(bucketUsers), func(_ []byte, u *User) error {
			out = append(out, *u)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("storage: list users: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// SubscriberCounts returns, per topic, how many active approved users
// follow it.
func (s *Store) SubscriberCounts() (map[string]int, error) {
	users, err := s.Users()
	if err != nil {
		return nil, err
	}
	n := map[string]int{}
	for _, u := range users {
		if u.Status == StatusApproved && !u.Inactive {
			for _, t := range u.Topics {
				n[t]++
			}
		}
	}
	return n, nil
}

// DeleteTopic removes a topic and every subscription to it; ErrNotFound if
// there is none.
func (s *Store) DeleteTopic(name string) error {
	err := s.update(func(tx *bolt.Tx) error {
		tb := tx.Bucket(bucketTopics)
		if tb.Get([]byte(name)) == nil {
			return ErrNotFound
		}
		if err := tb.Delete([]byte(name)); err != nil {
			return err
		}
		ub := tx.Bucket(bucketUsers)
		var changed []User
		err := forEachJSON(ub, func(_ []byte, u *User) error {
			if i := slices.Index(u.Topics, name); i >= 0 {
				u.Topics = slices.Delete(u.Topics, i, i+1)
				changed = append(changed, *u)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := range changed {
			if err := putJSON(ub, userKey(changed[i].ID), &changed[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: delete topic %s: %w", name, err)
	}
	s.topicsVersion.Add(1)
	return nil
}
