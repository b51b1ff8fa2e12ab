package jobs

import (
	"context"
	"log/slog"
	"time"

	"dozor/storage"
)

const fanoutBatch = 500

// Fanout is the fan-out stage: it turns each summarised alert into one
// outbox message per subscriber of its topics, a batch of alerts per
// transaction.
type Fanout struct {
	Store *storage.Store
	// Wake is notified when alerts were summarised.
	Wake Signal
	// Next is notified when messages were queued, for the deliver stage.
	Next    Signal
	Now     func() time.Time
	Log     *slog.Logger
	Observe Observer
}

// Run fans out until ctx ends.
func (f *Fanout) Run(ctx context.Context) error {
	return loop(ctx, f.Wake, logOr(f.Log), f.Observe, "fanout", func(context.Context) (int, bool, error) {
		n, err := f.Step()
		return n, n == fanoutBatch, err
	})
}

// Step fans out one batch of alerts and returns how many it took.
func (f *Fanout) Step() (int, error) {
	now := nowOr(f.Now)
	n, queued, err := f.Store.FanOutBatch(fanoutBatch, now, func(users []storage.User) func(storage.Alert) []storage.Recipient {
		return recipients(users, now)
	})
	if queued > 0 {
		f.Next.Notify()
	}
	return n, err
}

// recipients decides who an alert goes to: approved subscribers who have
// not blocked the bot, each with those of the alert's topics they follow
// and have not muted at now; a digest reader's copy is held for the
// digest. It indexes the users by topic once per batch.
func recipients(users []storage.User, now time.Time) func(storage.Alert) []storage.Recipient {
	byTopic := map[string][]int{}
	for i, u := range users {
		if u.Status != storage.StatusApproved || u.Inactive {
			continue
		}
		for _, t := range u.Topics {
			if !u.Muted(t, now) {
				byTopic[t] = append(byTopic[t], i)
			}
		}
	}
	return func(a storage.Alert) []storage.Recipient {
		var out []storage.Recipient
		at := map[int]int{} // user index → position in out
		for _, t := range a.Topics {
			for _, i := range byTopic[t] {
				if k, ok := at[i]; ok {
					out[k].Topics = append(out[k].Topics, t)
					continue
				}
				at[i] = len(out)
				out = append(out, storage.Recipient{UserID: users[i].ID, Topics: []string{t}, Hold: users[i].Mode == storage.ModeDigest})
			}
		}
		return out
	}
}
