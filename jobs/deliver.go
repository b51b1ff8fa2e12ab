package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"dozor/internal/backoff"
	"dozor/internal/pacer"
	"dozor/storage"
)

// Telegram is what the deliver stage needs of the bot: laying out queued
// stories as one message, and sending it. The bot implements it, and
// classifies Telegram's refusals as a *SendError.
type Telegram interface {
	// RenderAlert lays out stories queued for u as one message; more is
	// the number of further stories queued for u, not among them.
	RenderAlert(u storage.User, stories []AlertStory, more int) Rendered
	// RenderDigest lays out one message of u's digest that was due at due:
	// as many of stories as fit, in their order (grouped by topic, newest
	// first), never cutting one. size is how many stories the digest has
	// in all, so its first message can say so and later ones that they
	// continue it. No stories is the "nothing new" note.
	RenderDigest(u storage.User, due time.Time, size int, stories []AlertStory) Rendered
	// SendAlert sends a rendered message to a chat, in its HTML form or,
	// with plain, as plain text, and returns the message's id.
	SendAlert(ctx context.Context, chatID int64, m *Rendered, plain bool) (int, error)
	// EditAlert replaces the text and buttons of a sent alert.
	EditAlert(ctx context.Context, chatID int64, msgID int, m *Rendered) error
}

// AlertStory is everything an alert shows about one story.
type AlertStory struct {
	Article storage.Article
	Story   storage.Story
	Summary *storage.Summary // nil if none
	Topics  []string         // the subscriber's topics the story matched
	AlsoIn  []string         // other outlets carrying the story, with their language when there are several
	// Outlets and Languages say how widely the story was reported.
	Outlets   int
	Languages []string
}

// StoryID is the story the alert is about, even when Story was not loaded.
func (v *AlertStory) StoryID() uint64 {
	if v.Story.ID != 0 {
		return v.Story.ID
	}
	return v.Article.StoryID
}

// Rendered is an alert message in both forms. A grouped message may not
// fit every story queued; Shown says how many of them each form holds.
type Rendered struct {
	HTML, Plain           string
	HTMLShown, PlainShown int
	Buttons               [][]Button
	// Group lists several stories: link previews would show only the first.
	Group bool
	// Silent sends without a notification sound.
	Silent bool
}

// Button is an inline keyboard button.
type Button struct{ Text, Data string }

// SendFailure sorts Telegram's answers to a failed send by what delivery
// does about them.
type SendFailure int

// Send failures.
const (
	SendRetry   SendFailure = iota // network trouble, 5xx: retry later with backoff
	SendFlood                      // 429: everything waits RetryAfter, then the message is retried
	SendBlocked                    // 403: the user blocked the bot; they get nothing more
	SendMoved                      // the group became a supergroup at MigrateTo
	SendBadHTML                    // Telegram cannot parse the HTML: send the plain form
	SendRefused                    // any other refusal: the message is dropped for good
)

// SendError is a send that failed, as the bot classified it. Its message is
// safe to log and store: it carries no request URL.
type SendError struct {
	Kind       SendFailure
	RetryAfter time.Duration
	MigrateTo  int64
	Msg        string
}

func (e *SendError) Error() string { return e.Msg }

// Delivery defaults: Telegram's published limit of about 30 messages a
// second overall (the pacer keeps one a second per chat).
const (
	defaultGlobalRate = 30
	defaultWorkers    = 4
	defaultMaxGroup   = 5
	quietGroup        = 20 // stories one message may list when quiet hours end

	deliverPoll      = time.Second      // rescan the outbox this often without a wake-up
	deliverBatch     = 1000             // outbox messages read per round
	sendTimeout      = 30 * time.Second // one sendMessage call, even while shutting down
	maxMigrations    = 3                // chat moves followed for one message
	maxAlsoInLookups = 12               // reprints looked at to name other outlets
	floodPauseCap    = 24 * time.Hour
)

// sendBackoff spaces the retries of a message after server or network
// errors: 5s doubled per attempt, ±20% so chats that failed together do
// not retry together, at most 10 minutes.
var sendBackoff = backoff.Policy{Base: 5 * time.Second, Max: 10 * time.Minute, Jitter: 0.2}

// Deliverer is the deliver stage: it sends the durable outbox to
// Telegram. A message leaves the outbox only after Telegram accepted it,
// so a crash re-sends at most the messages that were in flight (Workers of
// them) and loses none.
type Deliverer struct {
	Store *storage.Store
	API   Telegram
	Log   *slog.Logger
	// Wake is notified when messages were queued.
	Wake Signal
	// Now is the clock for due times and what is recorded; pacing uses
	// real time. Defaults to time.Now.
	Now func() time.Time
	// Global is messages per second over all chats (default 30) when the
	// Deliverer makes its own pacer.
	Global float64
	// Workers is how many sends may be in flight (default 4).
	Workers int
	// MaxGroup is how many queued stories one message may list (default 5).
	MaxGroup int
	// SummaryLang is the language summaries are stored in.
	SummaryLang string
	// Pacer is the one pacer of everything the bot sends; alerts go at
	// bulk priority, after replies. Nil makes one of Global per second,
	// run by Run.
	Pacer *pacer.Pacer
	// Observe is told about each message sent or failed.
	Observe Observer
}

// Run delivers until ctx ends, then waits for the sends in flight to be
// answered and recorded. It returns nil on a normal shutdown.
func (d *Deliverer) Run(ctx context.Context) error {
	if d.Store == nil || d.API == nil {
		return errors.New("jobs: deliverer needs a store and a Telegram API")
	}
	r := newDeliveryRun(d)
	if d.Pacer == nil {
		// Our own pacer outlives the workers: a send in flight at shutdown
		// still ends through it.
		pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		var pg errgroup.Group
		pg.Go(func() error { return r.pace.Run(pctx) })
		defer func() { stop(); _ = pg.Wait() }()
	}
	jobs := make(chan sendJob)
	var g errgroup.Group
	for range r.workers {
		g.Go(func() error {
			for j := range jobs {
				r.deliver(ctx, j)
			}
			return nil
		})
	}
	r.dispatch(ctx, jobs)
	close(jobs)
	_ = g.Wait() // workers never fail: outcomes are recorded per message
	r.flushUsage()
	return nil
}

// sendJob is one Telegram message to be: the oldest queued stories of one
// user, at most MaxGroup of them, or the next part of a digest.
type sendJob struct {
	userID int64
	chatID int64
	msgs   []storage.OutMsg
	extra  int // further stories queued for the user, not in msgs
	digest bool
}

// deliveryRun is the state of one Run: pacing, chats in flight, counters.
type deliveryRun struct {
	d        *Deliverer
	log      *slog.Logger
	now      func() time.Time
	workers  int
	maxGroup int
	pace     *pacer.Pacer
	wake     Signal

	mu       sync.Mutex
	busyUser map[int64]bool
	busyChat map[int64]bool
	settled  map[int64]time.Time // real time each user's last job ended
	sent     int                 // usage counters not yet written
	failed   int
}

func newDeliveryRun(d *Deliverer) *deliveryRun {
	r := &deliveryRun{
		d:        d,
		log:      logOr(d.Log),
		now:      d.Now,
		workers:  d.Workers,
		maxGroup: d.MaxGroup,
		pace:     d.Pacer,
		wake:     d.Wake,
		busyUser: map[int64]bool{},
		busyChat: map[int64]bool{},
		settled:  map[int64]time.Time{},
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.wake == nil {
		r.wake = NewSignal()
	}
	if r.workers <= 0 {
		r.workers = defaultWorkers
	}
	if r.maxGroup <= 0 {
		r.maxGroup = defaultMaxGroup
	}
	if r.pace == nil {
		global := d.Global
		if !(global > 0 && global < 1e6) { // also NaN
			global = defaultGlobalRate
		}
		r.pace = pacer.New(global)
	}
	return r
}

// dispatch hands chats with due messages to the workers until ctx ends.
func (r *deliveryRun) dispatch(ctx context.Context, jobs chan<- sendJob) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		wait := r.round(ctx, jobs)
		r.flushUsage()
		if ctx.Err() != nil {
			return
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-timer.C:
		}
	}
}

// round reads the due messages once and dispatches every chat that may
// get a message now. It returns how long to wait before the next round.
func (r *deliveryRun) round(ctx context.Context, jobs chan<- sendJob) time.Duration {
	r.forget()
	readAt := time.Now()
	msgs, err := r.d.Store.Outbox(r.now(), deliverBatch)
	if err != nil {
		r.log.Error("read outbox", "err", err)
		return deliverPoll
	}
	var order []int64
	byUser := map[int64][]storage.OutMsg{}
	for _, m := range msgs {
		if _, ok := byUser[m.UserID]; !ok {
			order = append(order, m.UserID)
		}
		byUser[m.UserID] = append(byUser[m.UserID], m)
	}
	wait, dispatched := deliverPoll, 0
	for _, uid := range order {
		if ctx.Err() != nil {
			return 0
		}
		u, ok := r.recipient(uid)
		if !ok {
			continue
		}
		chat := chatOf(u)
		r.mu.Lock()
		if r.busyUser[uid] || r.busyChat[chat] || r.settled[uid].After(readAt) {
			// In flight, or its job ended after the read: what was read
			// may already be sent. The job's end wakes us if needed.
			r.mu.Unlock()
			continue
		}
		if gap, free := r.pace.Free(chat); !free || gap > 0 {
			// A reply or another send to the chat is in flight, or went
			// out less than a gap ago: not yet.
			r.mu.Unlock()
			if gap > 0 {
				wait = min(wait, gap)
			}
			continue
		}
		r.mu.Unlock()
		// Only this loop marks users busy, so the user stays free while
		// sendable writes.
		queued := r.sendable(u, byUser[uid])
		if len(queued) == 0 {
			continue
		}
		r.mu.Lock()
		r.busyUser[uid], r.busyChat[chat] = true, true
		r.mu.Unlock()

		j := r.job(uid, chat, queued)
		select {
		case jobs <- j:
			dispatched++
		case <-ctx.Done():
			r.release(j, false)
			return 0
		}
	}
	if dispatched > 0 && len(msgs) == deliverBatch {
		return 0 // more may be due beyond this batch
	}
	return wait
}

// sendable is what of a user's due messages may go now. The rest is put
// where it belongs: a digest reader's alerts (queued before they switched)
// are held for the digest, alerts on topics muted since are dropped, and
// alerts in the user's quiet hours wait for their end. A digest goes at
// the time the user chose for it, quiet hours or not (silently then).
func (r *deliveryRun) sendable(u storage.User, msgs []storage.OutMsg) []storage.OutMsg {
	now := r.now()
	quietEnd, quiet := u.QuietUntil(now)
	var keep []storage.OutMsg
	var hold, muted, wait []uint64
	for _, m := range msgs {
		switch {
		case !m.Digest.IsZero():
			keep = append(keep, m)
		case !slices.ContainsFunc(m.Topics, func(t string) bool { return !u.Muted(t, now) }):
			muted = append(muted, m.ID)
		case u.Mode == storage.ModeDigest:
			hold = append(hold, m.ID)
		case quiet:
			wait = append(wait, m.ID)
		default:
			keep = append(keep, m)
		}
	}
	if len(hold) > 0 {
		if err := r.d.Store.HoldMessages(hold); err != nil {
			r.log.Error("hold alerts for the digest", "user_id", u.ID, "err", err)
		}
	}
	if len(muted) > 0 {
		if _, err := r.d.Store.DropMessages(muted, now); err != nil {
			r.log.Error("drop alerts on muted topics", "user_id", u.ID, "err", err)
		}
	}
	if len(wait) > 0 {
		if err := r.d.Store.Postpone(wait, quietEnd); err != nil {
			r.log.Error("hold alerts for the end of quiet hours", "user_id", u.ID, "err", err)
		}
	}
	return keep
}

// job is the next message for a user: the rest of a digest begun, or the
// oldest alerts, more of them in one message when quiet hours end.
func (r *deliveryRun) job(uid, chat int64, queued []storage.OutMsg) sendJob {
	j := sendJob{userID: uid, chatID: chat}
	if due := queued[0].Digest; !due.IsZero() {
		j.digest = true
		for _, m := range queued {
			if m.Digest.Equal(due) {
				j.msgs = append(j.msgs, m)
			}
		}
		j.extra = len(queued) - len(j.msgs)
		return j
	}
	var alerts []storage.OutMsg
	for _, m := range queued {
		if m.Digest.IsZero() {
			alerts = append(alerts, m)
		}
	}
	limit := r.maxGroup
	if alerts[0].Quiet {
		limit = max(limit, quietGroup)
	}
	j.msgs = alerts[:min(len(alerts), limit)]
	j.extra = len(queued) - len(j.msgs)
	return j
}

// forget drops pacing state older than any gap it could still impose.
func (r *deliveryRun) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.settled) < 4096 {
		return
	}
	for uid, t := range r.settled {
		if time.Since(t) > time.Minute {
			delete(r.settled, uid)
		}
	}
}

// recipient loads the user a message is for, dropping the messages of
// users who may no longer receive any.
func (r *deliveryRun) recipient(uid int64) (storage.User, bool) {
	u, err := r.d.Store.User(uid)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		r.log.Error("load subscriber", "user_id", uid, "err", err)
		return storage.User{}, false
	case u.Status == storage.StatusApproved && !u.Inactive:
		return u, true
	}
	n, err := r.d.Store.DropUserMessages(uid, nil)
	if err != nil {
		r.log.Error("drop messages of former subscriber", "user_id", uid, "err", err)
		return storage.User{}, false
	}
	r.log.Info("dropped messages of former subscriber", "user_id", uid, "messages", n)
	return storage.User{}, false
}

// chatOf is where a user's alerts go: their private chat unless a chat
// was recorded.
func chatOf(u storage.User) int64 {
	if u.ChatID != 0 {
		return u.ChatID
	}
	return u.ID
}

// release ends a job. Its outcome is in the store by now; again wakes the
// dispatcher because the user still has messages due.
func (r *deliveryRun) release(j sendJob, again bool) {
	r.mu.Lock()
	delete(r.busyUser, j.userID)
	delete(r.busyChat, j.chatID)
	r.settled[j.userID] = time.Now()
	r.mu.Unlock()
	if again {
		r.wake.Notify()
	}
}

// deliver sends one job's message and records the outcome.
func (r *deliveryRun) deliver(ctx context.Context, j sendJob) {
	again := j.extra > 0
	defer func() { r.release(j, again) }()

	// The subscriber may have left, blocked the bot or moved while the job
	// waited; read them again.
	u, ok := r.recipient(j.userID)
	if !ok {
		return
	}
	chat := chatOf(u)
	msg, ids, err := r.render(j, u)
	if err != nil {
		r.log.Error("render alert", "user_id", u.ID, "err", err)
		return
	}
	if msg == nil {
		return
	}
	if _, quiet := u.QuietUntil(r.now()); quiet && j.digest {
		msg.Silent = true // a digest the user scheduled in their quiet hours
	}
	plain := false
	shown := ids[:msg.HTMLShown]
	for migrations := 0; ; {
		done, err := r.pace.Wait(ctx, chat, pacer.Bulk)
		if err != nil {
			return // shutting down before sending: the messages stay queued
		}
		var msgID int
		msgID, err = r.send(ctx, chat, msg, plain)
		done()
		if err == nil {
			r.sentOK(u, shown, chat, msgID, msg, plain)
			again = again || len(shown) < len(j.msgs) // a group left some out
			return
		}
		var se *SendError
		if !errors.As(err, &se) {
			se = &SendError{Kind: SendRetry, Msg: err.Error()}
		}
		switch {
		case se.Kind == SendFlood:
			wait := max(se.RetryAfter, time.Second)
			r.pace.Pause(min(wait, floodPauseCap))
			r.log.Warn("telegram flood control: pausing all sends", "retry_after", wait, "chat_id", chat)
			again = true // still queued: sent after the pause
			return
		case se.Kind == SendMoved && migrations < maxMigrations:
			migrations++
			newChat := se.MigrateTo
			if _, err := r.d.Store.UpdateUser(u.ID, func(x *storage.User) { x.ChatID = newChat }); err != nil {
				r.log.Error("record migrated chat", "user_id", u.ID, "err", err)
				return
			}
			r.log.Info("chat migrated", "user_id", u.ID, "from_chat_id", chat, "to_chat_id", newChat)
			chat = newChat
			continue
		case se.Kind == SendBlocked:
			r.count(0, 1)
			n, derr := r.d.Store.DropUserMessages(u.ID, func(x *storage.User) { x.Inactive = true })
			if derr != nil {
				r.log.Error("mark subscriber inactive", "user_id", u.ID, "err", derr)
				return
			}
			r.log.Info("subscriber blocked the bot: marked inactive", "user_id", u.ID, "dropped", n, "err", se)
			return
		case se.Kind == SendBadHTML && !plain:
			// Our HTML should always parse; if Telegram disagrees, the
			// reader still gets the news, without formatting.
			r.log.Warn("telegram refused the alert's HTML: sending plain text", "user_id", u.ID, "err", se)
			plain, shown = true, ids[:msg.PlainShown]
			continue
		case se.Kind == SendRefused || se.Kind == SendBadHTML || se.Kind == SendMoved:
			r.count(0, 1)
			r.log.Error("telegram refused the alert: dropping it", "user_id", u.ID, "chat_id", chat, "messages", len(shown), "err", se)
			if _, derr := r.d.Store.DropMessages(shown, r.now()); derr != nil {
				r.log.Error("drop refused messages", "user_id", u.ID, "err", derr)
			}
			return
		default:
			r.count(0, 1)
			r.retryLater(j, shown, se)
			return
		}
	}
}

// send makes one call with its own deadline. It is not cancelled by a
// shutdown: a message Telegram accepted must be recorded as sent, or the
// next start sends it twice.
func (r *deliveryRun) send(ctx context.Context, chat int64, m *Rendered, plain bool) (int, error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	start := time.Now()
	id, err := r.d.API.SendAlert(sctx, chat, m, plain)
	sent := 0
	if err == nil {
		sent = m.HTMLShown
		if plain {
			sent = m.PlainShown
		}
	}
	observerOr(r.d.Observe).StageDone("deliver", sent, time.Since(start), err)
	return id, err
}

func (r *deliveryRun) sentOK(u storage.User, ids []uint64, chat int64, msgID int, m *Rendered, plain bool) {
	r.count(1, 0)
	var err error
	if len(ids) == 1 && !m.Group && !plain {
		// One story's alert: keep its id, to name outlets that join later.
		err = r.d.Store.MarkSentMessage(ids[0], r.now(), chat, msgID, TextHash(m))
	} else {
		err = r.d.Store.MarkSent(ids, r.now())
	}
	if err != nil {
		// Telegram has the message; it will be sent again.
		r.log.Error("record sent alert", "user_id", u.ID, "err", err)
	}
}

// TextHash identifies a rendered message's text and buttons, so an edit
// that would change nothing is not made.
func TextHash(m *Rendered) uint64 {
	h := fnv.New64a()
	h.Write([]byte(m.HTML))
	for _, row := range m.Buttons {
		for _, b := range row {
			h.Write([]byte{0})
			h.Write([]byte(b.Text + "\x00" + b.Data))
		}
	}
	return h.Sum64()
}

// retryLater postpones the job's messages after a server or network
// error, backing off with their attempts.
func (r *deliveryRun) retryLater(j sendJob, ids []uint64, err error) {
	attempts := 0
	for _, m := range j.msgs {
		attempts = max(attempts, m.Attempts)
	}
	wait := sendBackoff.Delay(attempts + 1)
	r.log.Warn("send failed: will retry", "user_id", j.userID, "attempt", attempts+1, "retry_in", wait.Round(time.Second).String(), "err", err)
	if rerr := r.d.Store.Retry(ids, r.now().Add(wait), err.Error()); rerr != nil {
		r.log.Error("postpone messages", "user_id", j.userID, "err", rerr)
	}
}

// count adds to the usage counters written once per round.
func (r *deliveryRun) count(sent, failed int) {
	r.mu.Lock()
	r.sent += sent
	r.failed += failed
	r.mu.Unlock()
}

// flushUsage writes the counters: one write per round instead of one per
// message keeps bbolt's single writer free for MarkSent.
func (r *deliveryRun) flushUsage() {
	r.mu.Lock()
	add := storage.Usage{Sent: r.sent, SendErrors: r.failed}
	r.sent, r.failed = 0, 0
	r.mu.Unlock()
	if add.Sent == 0 && add.SendErrors == 0 {
		return
	}
	if err := r.d.Store.AddUsage(r.now(), add); err != nil {
		r.log.Error("record usage", "err", err)
	}
}

// render builds the job's message from the store, with the outbox ids of
// the stories it shows, in order. Messages whose article is gone are
// dropped; nil means nothing is left to send.
func (r *deliveryRun) render(j sendJob, u storage.User) (*Rendered, []uint64, error) {
	var views []AlertStory
	var ids, broken []uint64
	for _, m := range j.msgs {
		if m.Note {
			// The "nothing new" note of a digest is a message of its own.
			msg := r.d.API.RenderDigest(u, m.Digest, 0, nil)
			msg.HTMLShown, msg.PlainShown = 1, 1
			return &msg, []uint64{m.ID}, nil
		}
		v, err := r.view(m)
		if errors.Is(err, storage.ErrNotFound) {
			broken = append(broken, m.ID)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		views = append(views, v)
		ids = append(ids, m.ID)
	}
	if len(broken) > 0 {
		r.log.Error("queued alert lost its article: dropping it", "user_id", u.ID, "messages", len(broken))
		r.count(0, len(broken))
		if _, err := r.d.Store.DropMessages(broken, r.now()); err != nil {
			return nil, nil, err
		}
	}
	if len(views) == 0 {
		return nil, nil, nil
	}
	var m Rendered
	if j.digest {
		digestOrder(u, views, ids)
		m = r.d.API.RenderDigest(u, j.msgs[0].Digest, max(j.msgs[0].DigestSize, len(views)), views)
	} else {
		m = r.d.API.RenderAlert(u, views, j.extra)
	}
	if m.HTMLShown < 1 || m.HTMLShown > len(ids) || m.PlainShown < 1 || m.PlainShown > len(ids) {
		return nil, nil, fmt.Errorf("rendered %d/%d of %d stories", m.HTMLShown, m.PlainShown, len(ids))
	}
	return &m, ids, nil
}

// digestOrder sorts a digest's stories, and their outbox ids with them,
// by topic in the order the user follows them, newest first within one.
// A story on several topics is listed under the first.
func digestOrder(u storage.User, views []AlertStory, ids []uint64) {
	rank := func(v AlertStory) int {
		best := len(u.Topics)
		for _, t := range v.Topics {
			if i := slices.Index(u.Topics, t); i >= 0 && i < best {
				best = i
			}
		}
		return best
	}
	idx := make([]int, len(views))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if c := cmp.Compare(rank(views[a]), rank(views[b])); c != 0 {
			return c
		}
		return views[b].Article.Published.Compare(views[a].Article.Published)
	})
	sv, si := slices.Clone(views), slices.Clone(ids)
	for i, k := range idx {
		views[i], ids[i] = sv[k], si[k]
	}
	for i := range views {
		// The topic it is listed under first, so the layout can group.
		if r := rank(views[i]); r < len(u.Topics) {
			t := u.Topics[r]
			views[i].Topics = append([]string{t}, slices.DeleteFunc(slices.Clone(views[i].Topics), func(x string) bool { return x == t })...)
		}
	}
}

// view loads what an alert shows about one queued story.
func (r *deliveryRun) view(m storage.OutMsg) (AlertStory, error) {
	return loadView(r.d.Store, m.StoryID, m.ArticleID, m.Topics, r.d.SummaryLang)
}

// loadView loads what an alert shows about a story, through one of its
// articles, for a subscriber's topics.
func loadView(st *storage.Store, storyID, articleID uint64, topics []string, summaryLang string) (AlertStory, error) {
	a, err := st.ArticleHead(articleID)
	if err != nil {
		return AlertStory{}, err
	}
	v := AlertStory{Article: a, Topics: topics}
	v.Story, err = st.Story(storyID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		v.Story = storage.Story{ID: storyID, Title: a.Title}
	case err != nil:
		return AlertStory{}, err
	}
	if summaryLang != "" {
		sum, err := st.Summary(storyID, summaryLang)
		switch {
		case err == nil:
			v.Summary = &sum
		case !errors.Is(err, storage.ErrNotFound):
			return AlertStory{}, err
		}
	}
	type outlet struct{ source, lang string }
	var others []outlet
	langs := []string{a.Lang}
	looked := 0
	for _, id := range v.Story.Articles {
		if id == a.ID {
			continue
		}
		if looked++; looked > maxAlsoInLookups {
			break
		}
		other, err := st.ArticleHead(id)
		if err != nil || other.Source == "" || other.Source == a.Source || slices.ContainsFunc(others, func(o outlet) bool { return o.source == other.Source }) {
			continue
		}
		others = append(others, outlet{other.Source, other.Lang})
		if other.Lang != "" && !contains(langs, other.Lang) {
			langs = append(langs, other.Lang)
		}
	}
	for _, o := range others {
		name := o.source
		if len(langs) > 1 && o.lang != "" {
			name += " (" + o.lang + ")" // reported in more than one language: say which
		}
		v.AlsoIn = append(v.AlsoIn, name)
	}
	v.Outlets = len(others) + 1
	v.Languages = slices.DeleteFunc(langs, func(l string) bool { return l == "" })
	return v, nil
}
