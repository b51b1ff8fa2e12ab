package jobs

import (
	"context"
	"log/slog"
	"time"

	"dozor/storage"
)

// Digests is the digest stage. Alerts for a subscriber who reads digests
// are held (the fan-out stage holds them); when the subscriber's digest is
// due, this stage moves them to the outbox as that digest and the deliver
// stage sends it, paced and retried like any alert.
//
// It looks at every subscriber's schedule whenever it wakes (at least
// every few seconds) rather than keeping a cron entry per subscriber:
// schedules are in each user's time zone and change from the chat, and
// computing "the last time this user's digest was due" from the schedule
// handles a restart (a digest missed while down is due once) and DST
// (storage.User.LastDigest works in local dates) without any state but
// the time of the last digest, which is kept with the user.
type Digests struct {
	Store *storage.Store
	// Wake is notified when a schedule changed.
	Wake Signal
	// Next is notified when a digest was queued, for the deliver stage.
	Next    Signal
	Now     func() time.Time
	Log     *slog.Logger
	Observe Observer
}

// Run starts digests as they fall due, until ctx ends.
func (d *Digests) Run(ctx context.Context) error {
	return loop(ctx, d.Wake, logOr(d.Log), d.Observe, "digest", func(context.Context) (int, bool, error) {
		n, err := d.Step()
		return n, false, err
	})
}

// Step starts every digest due now and returns how many messages it
// queued.
func (d *Digests) Step() (int, error) {
	now := nowOr(d.Now)
	users, err := d.Store.Users()
	if err != nil {
		return 0, err
	}
	queued := 0
	for _, u := range users {
		if u.Status != storage.StatusApproved || u.Inactive {
			continue
		}
		due, ok := u.DigestDue(now)
		if !ok {
			continue
		}
		n, err := d.Store.StartDigest(u.ID, due, now, u.DigestNotes)
		if err != nil {
			return queued, err
		}
		queued += n
	}
	if queued > 0 {
		d.Next.Notify()
	}
	return queued, nil
}
