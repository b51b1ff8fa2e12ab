package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"dozor/internal/pacer"
	"dozor/storage"
)

// editBatch is how many stories one step edits the alerts of.
const editBatch = 20

// Editor is the edit stage: when another outlet or a translation joins a
// story whose alerts are out, it edits those alerts (sent within
// storage.EditWindow) to name it, rather than sending a new message; at
// most once per story every storage.EditEvery, through the one pacer at
// bulk priority. An edit Telegram refuses (the message was deleted, is too
// old) is dropped quietly.
type Editor struct {
	Store *storage.Store
	API   Telegram
	// Pacer is the one pacer of everything the bot sends.
	Pacer       *pacer.Pacer
	SummaryLang string
	// Wake is notified when edits were queued.
	Wake    Signal
	Now     func() time.Time
	Log     *slog.Logger
	Observe Observer
}

// Run edits until ctx ends.
func (e *Editor) Run(ctx context.Context) error {
	pruned := time.Time{}
	return loop(ctx, e.Wake, logOr(e.Log), e.Observe, "edit", func(ctx context.Context) (int, bool, error) {
		now := nowOr(e.Now)
		if now.Sub(pruned) > time.Hour {
			pruned = now
			if _, err := e.Store.PruneSentMessages(now.Add(-storage.EditWindow)); err != nil {
				return 0, false, err
			}
		}
		n, err := e.Step(ctx)
		return n, n == editBatch, err
	})
}

// Step edits the alerts of the stories whose edit is due and returns how
// many messages it edited.
func (e *Editor) Step(ctx context.Context) (int, error) {
	now := nowOr(e.Now)
	due, _, err := e.Store.EditsDue(now, editBatch)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	edited := 0
	for _, story := range due {
		n, retry, err := e.story(ctx, story, now)
		if err != nil {
			return edited, err
		}
		edited += n
		if err := e.Store.EditDone(story, now, retry); err != nil {
			return edited, err
		}
		if ctx.Err() != nil {
			return edited, nil
		}
	}
	return edited, nil
}

// story edits one story's sent alerts; retry is when to try again (zero:
// done).
func (e *Editor) story(ctx context.Context, storyID uint64, now time.Time) (int, time.Time, error) {
	msgs, err := e.Store.SentMessages(storyID, now.Add(-storage.EditWindow))
	if err != nil || len(msgs) == 0 {
		return 0, time.Time{}, err
	}
	st, err := e.Store.Story(storyID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && len(st.Articles) == 0) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, err
	}
	// One view of the story for all its messages; only the topics shown
	// are each subscriber's own.
	view, err := loadView(e.Store, storyID, st.Articles[0], nil, e.SummaryLang)
	if err != nil {
		return 0, time.Time{}, nil
	}
	edited := 0
	for _, m := range msgs {
		u, err := e.Store.User(m.UserID)
		if err != nil || u.Inactive {
			continue
		}
		v := view
		v.Topics = nil
		for _, t := range st.Topics {
			if u.Subscribed(t) {
				v.Topics = append(v.Topics, t)
			}
		}
		r := e.API.RenderAlert(u, []AlertStory{v}, 0)
		hash := TextHash(&r)
		if hash == m.Hash {
			continue // nothing new to say
		}
		done, err := e.Pacer.Wait(ctx, m.ChatID, pacer.Bulk)
		if err != nil {
			return edited, now.Add(time.Minute), nil // shutting down: later
		}
		err = e.API.EditAlert(context.WithoutCancel(ctx), m.ChatID, m.MsgID, &r)
		done()
		var se *SendError
		switch {
		case err == nil:
			edited++
			if err := e.Store.Edited(m, hash); err != nil {
				return edited, time.Time{}, err
			}
		case errors.As(err, &se) && se.Kind == SendFlood:
			e.Pacer.Pause(min(max(se.RetryAfter, time.Second), floodPauseCap))
			return edited, now.Add(max(se.RetryAfter, time.Second)), nil
		case errors.As(err, &se) && se.Kind == SendRetry:
			return edited, now.Add(time.Minute), nil
		default:
			// Deleted, too old to edit, the chat gone: nothing to do.
			logOr(e.Log).Debug("edit of a sent alert refused: dropped", "story_id", storyID, "chat_id", m.ChatID, "err", err)
			if err := e.Store.ForgetMessage(storyID, m.UserID); err != nil {
				return edited, time.Time{}, err
			}
		}
	}
	return edited, time.Time{}, nil
}
