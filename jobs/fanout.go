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
	Next Signal
	Now  func() time.Time
	Log  *slog.Logger
}

// Run fans out until ctx ends.
func (f *Fanout) Run(ctx context.Context) error {
	return loop(ctx, f.Wake, logOr(f.Log), "fan-out", func(context.Context) (bool, error) {
		n, queued, err := f.Store.FanOutBatch(fanoutBatch, nowOr(f.Now), recipients)
		if queued > 0 {
			f.Next.Notify()
		}
		return n == fanoutBatch, err
	})
}

// recipients decides who an alert goes to: approved subscribers who have
// not blocked the bot, each with those of the alert's topics they follow.
// It indexes the users by topic once per batch.
func recipients(users []storage.User) func(storage.Alert) []storage.Recipient {
	byTopic := map[string][]int{}
	for i, u := range users {
		if u.Status != storage.StatusApproved || u.Inactive {
			continue
		}
		for _, t := range u.Topics {
			byTopic[t] = append(byTopic[t], i)
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
				out = append(out, storage.Recipient{UserID: users[i].ID, Topics: []string{t}})
			}
		}
		return out
	}
}
