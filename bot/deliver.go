package bot

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"time"

	tg "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"golang.org/x/time/rate"

	"dozor/storage"
)

// Sender sends one Telegram message; *bot.Bot satisfies it.
type Sender interface {
	SendMessage(ctx context.Context, params *tg.SendMessageParams) (*models.Message, error)
}

// Defaults for the Deliverer's pacing, from Telegram's published limits:
// about 30 messages a second overall and one a second per chat.
const (
	defaultGlobalRate = 30
	defaultPerChatGap = time.Second
	defaultWorkers    = 4
	defaultMaxGroup   = 5

	deliverPoll      = time.Second      // rescan the outbox this often without a Kick
	deliverBatch     = 1000             // outbox messages read per round
	sendTimeout      = 30 * time.Second // one sendMessage call, even while shutting down
	retryBase        = 5 * time.Second  // first backoff after a server or network error
	retryCap         = 10 * time.Minute
	maxMigrations    = 3  // chat moves followed for one message
	maxAlsoInLookups = 12 // reprints looked at to name other outlets
	floodPauseCap    = 24 * time.Hour
)

// Deliverer sends the durable outbox to Telegram. A message leaves the
// outbox only after Telegram accepted it, so a crash re-sends at most the
// messages that were in flight (Workers of them) and loses none.
type Deliverer struct {
	Store *storage.Store
	API   Sender
	Log   *slog.Logger
	// Now is the clock for due times and what is recorded; pacing uses
	// real time. Defaults to time.Now.
	Now func() time.Time
	// Global is messages per second over all chats (default 30), sent
	// evenly, not in bursts.
	Global float64
	// PerChat is the minimum gap between two messages to one chat,
	// measured from Telegram's answer to the first (default 1s).
	PerChat time.Duration
	// Workers is how many sends may be in flight (default 4).
	Workers int
	// MaxGroup is how many queued stories one message may list (default 5).
	MaxGroup int
	// SummaryLang is the language summaries are stored in.
	SummaryLang string

	once sync.Once
	kick chan struct{}
}

func (d *Deliverer) init() {
	d.once.Do(func() { d.kick = make(chan struct{}, 1) })
}

// Kick wakes the Deliverer after messages were queued; it never blocks.
func (d *Deliverer) Kick() {
	d.init()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the sends in flight to be
// answered and recorded. It returns nil on a normal shutdown.
func (d *Deliverer) Run(ctx context.Context) error {
	if d.Store == nil || d.API == nil {
		return errors.New("bot: deliverer needs a store and a Telegram API")
	}
	d.init()
	r := newDeliveryRun(d)
	jobs := make(chan sendJob)
	var wg sync.WaitGroup
	for range r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				r.deliver(ctx, j)
			}
		}()
	}
	r.dispatch(ctx, jobs)
	close(jobs)
	wg.Wait()
	r.flushUsage()
	return nil
}

// sendJob is one Telegram message to be: the oldest queued stories of one
// user, at most MaxGroup of them.
type sendJob struct {
	userID int64
	chatID int64
	msgs   []storage.OutMsg
	extra  int // further stories queued for the user, not in msgs
}

// deliveryRun is the state of one Run: pacing, chats in flight, counters.
type deliveryRun struct {
	d        *Deliverer
	log      *slog.Logger
	now      func() time.Time
	workers  int
	maxGroup int
	perChat  time.Duration
	pace     *pacer

	mu       sync.Mutex
	busyUser map[int64]bool
	busyChat map[int64]bool
	lastSend map[int64]time.Time // real time of Telegram's last answer per chat
	settled  map[int64]time.Time // real time each user's last job ended
	sent     int                 // usage counters not yet written
	failed   int
}

func newDeliveryRun(d *Deliverer) *deliveryRun {
	r := &deliveryRun{
		d:        d,
		log:      d.Log,
		now:      d.Now,
		workers:  d.Workers,
		maxGroup: d.MaxGroup,
		perChat:  d.PerChat,
		busyUser: map[int64]bool{},
		busyChat: map[int64]bool{},
		lastSend: map[int64]time.Time{},
		settled:  map[int64]time.Time{},
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.workers <= 0 {
		r.workers = defaultWorkers
	}
	if r.maxGroup <= 0 {
		r.maxGroup = defaultMaxGroup
	}
	if r.perChat <= 0 {
		r.perChat = defaultPerChatGap
	}
	global := d.Global
	if global <= 0 || math.IsNaN(global) || math.IsInf(global, 0) {
		global = defaultGlobalRate
	}
	r.pace = newPacer(global)
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
		case <-r.d.kick:
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
		r.log.Error("read outbox", "err", scrub(err))
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
		if gap := r.perChat - time.Since(r.lastSend[chat]); gap > 0 {
			r.mu.Unlock()
			wait = min(wait, gap)
			continue
		}
		r.busyUser[uid], r.busyChat[chat] = true, true
		r.mu.Unlock()

		queued := byUser[uid]
		j := sendJob{userID: uid, chatID: chat, msgs: queued[:min(len(queued), r.maxGroup)]}
		j.extra = len(queued) - len(j.msgs)
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

// forget drops pacing state older than any gap it could still impose.
func (r *deliveryRun) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lastSend)+len(r.settled) < 4096 {
		return
	}
	for chat, t := range r.lastSend {
		if time.Since(t) > r.perChat {
			delete(r.lastSend, chat)
		}
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
		r.log.Error("load subscriber", "user_id", uid, "err", scrub(err))
		return storage.User{}, false
	case u.Status == storage.StatusApproved && !u.Inactive:
		return u, true
	}
	n, err := r.d.Store.DropUserMessages(uid, nil)
	if err != nil {
		r.log.Error("drop messages of former subscriber", "user_id", uid, "err", scrub(err))
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
		r.d.Kick()
	}
}

// rendered is one job's message in both forms, with the outbox messages
// each form shows.
type rendered struct {
	html, plain       string
	htmlIDs, plainIDs []uint64
	kb                *models.InlineKeyboardMarkup
	group             bool
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
	msg, err := r.render(j, u)
	if err != nil {
		r.log.Error("render alert", "user_id", u.ID, "err", scrub(err))
		return
	}
	if msg == nil {
		return
	}
	params := &tg.SendMessageParams{ChatID: chat, Text: msg.html, ParseMode: models.ParseModeHTML}
	if msg.kb != nil {
		params.ReplyMarkup = msg.kb
	}
	if msg.group {
		off := true
		params.LinkPreviewOptions = &models.LinkPreviewOptions{IsDisabled: &off}
	}
	ids := msg.htmlIDs
	for migrations := 0; ; {
		if err := r.pace.wait(ctx); err != nil {
			return // shutting down before sending: the messages stay queued
		}
		err := r.send(ctx, params)
		r.pace.done()
		r.mu.Lock()
		r.lastSend[chat] = time.Now()
		r.mu.Unlock()
		if err == nil {
			r.sentOK(u, ids)
			again = again || len(ids) < len(j.msgs) // a group left some out
			return
		}

		var flood *tg.TooManyRequestsError
		var moved *tg.MigrateError
		switch {
		case errors.As(err, &flood):
			wait := time.Duration(max(flood.RetryAfter, 1)) * time.Second
			r.pace.pause(min(wait, floodPauseCap))
			r.log.Warn("telegram flood control: pausing all sends", "retry_after_s", flood.RetryAfter, "chat_id", chat)
			again = true // still queued: sent after the pause
			return
		case errors.As(err, &moved) && migrations < maxMigrations:
			migrations++
			newChat := int64(moved.MigrateToChatID)
			if _, err := r.d.Store.UpdateUser(u.ID, func(x *storage.User) { x.ChatID = newChat }); err != nil {
				r.log.Error("record migrated chat", "user_id", u.ID, "err", scrub(err))
				return
			}
			r.log.Info("chat migrated", "user_id", u.ID, "from_chat_id", chat, "to_chat_id", newChat)
			chat, params.ChatID = newChat, newChat
			continue
		case errors.Is(err, tg.ErrorForbidden):
			r.count(0, 1)
			n, derr := r.d.Store.DropUserMessages(u.ID, func(x *storage.User) { x.Inactive = true })
			if derr != nil {
				r.log.Error("mark subscriber inactive", "user_id", u.ID, "err", scrub(derr))
				return
			}
			r.log.Info("subscriber blocked the bot: marked inactive", "user_id", u.ID, "dropped", n, "err", scrub(err))
			return
		case errors.Is(err, tg.ErrorBadRequest) && params.ParseMode != "" && isEntityError(err):
			// Our HTML should always parse; if Telegram disagrees, the
			// reader still gets the news, without formatting.
			r.log.Warn("telegram refused the alert's HTML: sending plain text", "user_id", u.ID, "err", scrub(err))
			params.Text, params.ParseMode, ids = msg.plain, "", msg.plainIDs
			continue
		case errors.Is(err, tg.ErrorBadRequest):
			r.count(0, 1)
			r.log.Error("telegram refused the alert: dropping it", "user_id", u.ID, "chat_id", chat, "messages", len(ids), "err", scrub(err))
			if _, derr := r.d.Store.DropMessages(ids, r.now()); derr != nil {
				r.log.Error("drop refused messages", "user_id", u.ID, "err", scrub(derr))
			}
			return
		default:
			r.count(0, 1)
			r.retryLater(j, ids, err)
			return
		}
	}
}

// send makes one call with its own deadline. It is not cancelled by a
// shutdown: a message Telegram accepted must be recorded as sent, or the
// next start sends it twice.
func (r *deliveryRun) send(ctx context.Context, params *tg.SendMessageParams) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	_, err := r.d.API.SendMessage(sctx, params)
	return err
}

func (r *deliveryRun) sentOK(u storage.User, ids []uint64) {
	r.count(1, 0)
	if err := r.d.Store.MarkSent(ids, r.now()); err != nil {
		// Telegram has the message; it will be sent again.
		r.log.Error("record sent alert", "user_id", u.ID, "err", scrub(err))
	}
}

// retryLater postpones the job's messages after a server or network
// error, backing off with their attempts.
func (r *deliveryRun) retryLater(j sendJob, ids []uint64, err error) {
	attempts := 0
	for _, m := range j.msgs {
		attempts = max(attempts, m.Attempts)
	}
	wait := backoff(attempts)
	r.log.Warn("send failed: will retry", "user_id", j.userID, "attempt", attempts+1, "retry_in", wait.Round(time.Second).String(), "err", scrub(err))
	if rerr := r.d.Store.Retry(ids, r.now().Add(wait), scrub(err)); rerr != nil {
		r.log.Error("postpone messages", "user_id", j.userID, "err", scrub(rerr))
	}
}

// backoff is retryBase doubled per earlier attempt, ±20% jitter so chats
// that failed together do not retry together, capped at retryCap.
func backoff(attempts int) time.Duration {
	d := retryBase << min(attempts, 16)
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return min(d, retryCap)
}

func isEntityError(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "can't parse entities")
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
		r.log.Error("record usage", "err", scrub(err))
	}
}

// render builds the job's message from the store. Messages whose article
// is gone are dropped; nil means nothing is left to send.
func (r *deliveryRun) render(j sendJob, u storage.User) (*rendered, error) {
	var views []AlertView
	var ids, broken []uint64
	for _, m := range j.msgs {
		v, err := r.view(m)
		if errors.Is(err, storage.ErrNotFound) {
			broken = append(broken, m.ID)
			continue
		}
		if err != nil {
			return nil, err
		}
		views = append(views, v)
		ids = append(ids, m.ID)
	}
	if len(broken) > 0 {
		r.log.Error("queued alert lost its article: dropping it", "user_id", u.ID, "messages", len(broken))
		r.count(0, len(broken))
		if _, err := r.d.Store.DropMessages(broken, r.now()); err != nil {
			return nil, err
		}
	}
	if len(views) == 0 {
		return nil, nil
	}
	lang, loc := userLang(u), u.Location()
	if len(views) == 1 && j.extra == 0 {
		return &rendered{
			html: FormatAlert(views[0], lang, loc), plain: FormatPlain(views[0], lang, loc),
			htmlIDs: ids, plainIDs: ids,
			kb: AlertKeyboard(views[0], lang),
		}, nil
	}
	html, n := formatGroup(views, lang, loc, true, j.extra)
	plain, np := formatGroup(views, lang, loc, false, j.extra)
	return &rendered{html: html, plain: plain, htmlIDs: ids[:n], plainIDs: ids[:np], group: true}, nil
}

// view loads what an alert shows about one queued story.
func (r *deliveryRun) view(m storage.OutMsg) (AlertView, error) {
	st := r.d.Store
	a, err := st.Article(m.ArticleID)
	if err != nil {
		return AlertView{}, err
	}
	v := AlertView{Article: a, Topics: m.Topics}
	v.Story, err = st.Story(m.StoryID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		v.Story = storage.Story{ID: m.StoryID, Title: a.Title}
	case err != nil:
		return AlertView{}, err
	}
	if r.d.SummaryLang != "" {
		sum, err := st.Summary(m.StoryID, r.d.SummaryLang)
		switch {
		case err == nil:
			v.Summary = &sum
		case !errors.Is(err, storage.ErrNotFound):
			return AlertView{}, err
		}
	}
	looked := 0
	for _, id := range v.Story.Articles {
		if id == a.ID {
			continue
		}
		if looked++; looked > maxAlsoInLookups {
			break
		}
		other, err := st.Article(id)
		if err != nil || other.Source == "" || other.Source == a.Source {
			continue
		}
		v.AlsoIn = append(v.AlsoIn, other.Source)
	}
	return v, nil
}

// userLang is the user's interface language: the one they chose, English
// if unknown, as in the chat interface.
func userLang(u storage.User) string {
	if u.Lang == "ru" {
		return "ru"
	}
	return "en"
}

// pacer spaces sends evenly at the global rate, keeps any one second of
// arrivals at Telegram within that rate, and holds every send during a
// flood-control pause.
type pacer struct {
	limit *rate.Limiter
	// slots holds, for each of ceil(rate) send slots, when its last send
	// was answered. A send may start only a second after its slot's last
	// answer, so however requests are delayed on the way, no second of
	// arrivals at Telegram holds more than ceil(rate) of them; the
	// limiter alone spaces starts, not arrivals.
	slots chan time.Time

	mu         sync.Mutex
	pauseUntil time.Time
}

func newPacer(perSecond float64) *pacer {
	n := max(1, int(math.Ceil(perSecond)))
	p := &pacer{limit: rate.NewLimiter(rate.Limit(perSecond), 1), slots: make(chan time.Time, n)}
	for range n {
		p.slots <- time.Time{}
	}
	return p
}

// wait blocks until a send may start, taking a slot that done returns.
func (p *pacer) wait(ctx context.Context) error {
	var last time.Time
	select {
	case last = <-p.slots:
	case <-ctx.Done():
		return ctx.Err()
	}
	err := p.waitFree(ctx, last)
	if err != nil {
		p.slots <- last
	}
	return err
}

func (p *pacer) waitFree(ctx context.Context, last time.Time) error {
	if err := sleepCtx(ctx, time.Until(last.Add(time.Second))); err != nil {
		return err
	}
	for {
		if err := sleepCtx(ctx, p.paused()); err != nil {
			return err
		}
		if err := p.limit.Wait(ctx); err != nil {
			return err
		}
		if p.paused() <= 0 {
			return nil
		}
	}
}

// done returns the slot with the time the send was answered.
func (p *pacer) done() { p.slots <- time.Now() }

// pause holds all sends for d from now, or longer if already paused.
func (p *pacer) pause(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until := time.Now().Add(d); until.After(p.pauseUntil) {
		p.pauseUntil = until
	}
}

func (p *pacer) paused() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Until(p.pauseUntil)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tokenInURL matches a bot token as it appears in Bot API URLs;
// bareToken one quoted anywhere else (Telegram's secrets are 35 long).
var (
	tokenInURL = regexp.MustCompile(`bot\d+:[A-Za-z0-9_-]+`)
	bareToken  = regexp.MustCompile(`\d{5,}:[A-Za-z0-9_-]{30,}`)
)

// scrub is err's text with any bot token removed: the library's errors
// can carry the request URL, and the token is the bot's password.
func scrub(err error) string {
	if err == nil {
		return ""
	}
	s := tokenInURL.ReplaceAllString(err.Error(), "bot<redacted>")
	return bareToken.ReplaceAllString(s, "<redacted>")
}
