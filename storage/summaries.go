package storage

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Summary is a story's summary in one language. It is stored once and
// reused for every reprint, topic and subscriber: one model call per story
// and language, ever.
type Summary struct {
	StoryID    uint64    `json:"story_id"`
	Lang       string    `json:"lang"`
	Text       string    `json:"text"`
	KeyPoints  []string  `json:"key_points,omitempty"`
	Extractive bool      `json:"extractive,omitempty"`
	Model      string    `json:"model,omitempty"`
	Created    time.Time `json:"created"`
}

func summaryKey(storyID uint64, lang string) []byte {
	return append(itob(storyID), lang...)
}

// Summary returns the stored summary of a story in lang.
func (s *Store) Summary(storyID uint64, lang string) (Summary, error) {
	var sum Summary
	err := s.db.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketSummaries), summaryKey(storyID, lang), &sum)
	})
	if err != nil {
		return Summary{}, fmt.Errorf("storage: summary of story %d (%s): %w", storyID, lang, err)
	}
	return sum, nil
}

// PutSummary stores a summary unless one exists already, and returns the
// stored one: the first summary of a story wins.
func (s *Store) PutSummary(sum Summary) (Summary, error) {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSummaries)
		k := summaryKey(sum.StoryID, sum.Lang)
		var old Summary
		if err := getJSON(b, k, &old); err == nil {
			sum = old
			return nil
		}
		return putJSON(b, k, &sum)
	})
	if err != nil {
		return Summary{}, fmt.Errorf("storage: put summary of story %d: %w", sum.StoryID, err)
	}
	return sum, nil
}

// Usage holds one day's counters (UTC) for the admins' /stats.
type Usage struct {
	Day              string `json:"day"`       // 2006-01-02
	Calls            int    `json:"calls"`     // model calls that produced a summary
	Fallbacks        int    `json:"fallbacks"` // extractive summaries used instead
	PromptTokens     int    `json:"prompt_tokens"`
	CompletionTokens int    `json:"completion_tokens"`
	Sent             int    `json:"sent"`        // messages Telegram accepted
	SendErrors       int    `json:"send_errors"` // messages refused or failed
}

// AddUsage adds to the day's counters.
func (s *Store) AddUsage(day time.Time, add Usage) error {
	if err := s.update(func(tx *bolt.Tx) error { return addUsage(tx, day, add) }); err != nil {
		return fmt.Errorf("storage: add usage: %w", err)
	}
	return nil
}

func addUsage(tx *bolt.Tx, day time.Time, add Usage) error {
	if add == (Usage{}) {
		return nil
	}
	key := []byte(day.UTC().Format("2006-01-02"))
	b := tx.Bucket(bucketUsage)
	var u Usage
	_ = getJSON(b, key, &u)
	u.Day = string(key)
	u.Calls += add.Calls
	u.Sent += add.Sent
	u.SendErrors += add.SendErrors
	u.Fallbacks += add.Fallbacks
	u.PromptTokens += add.PromptTokens
	u.CompletionTokens += add.CompletionTokens
	return putJSON(b, key, &u)
}

// Usage returns the counters of one day (UTC); zero if none.
func (s *Store) Usage(day time.Time) (Usage, error) {
	key := []byte(day.UTC().Format("2006-01-02"))
	u := Usage{Day: string(key)}
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := getJSON(tx.Bucket(bucketUsage), key, &u); err != nil && err != ErrNotFound {
			return err
		}
		return nil
	})
	if err != nil {
		return Usage{}, fmt.Errorf("storage: usage: %w", err)
	}
	return u, nil
}
