// Package bot is dozor's Telegram side: the commands subscribers and admins
// type, the approval of new users, and the connection to the Bot API (long
// polling or a webhook), and the layout of alerts, which the deliver stage
// (jobs.Deliverer) sends through Alerts.
package bot

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"golang.org/x/sync/errgroup"

	"dozor/internal/backoff"
	"dozor/internal/fetch"
	"dozor/internal/pacer"
	"dozor/storage"
)

// Access modes (ACCESS).
const (
	AccessApproval = "approval"
	AccessOpen     = "open"
)

// offsetKey is the storage meta key of the next update id to ask for.
const offsetKey = "telegram_offset"

const (
	// chatSlots bounds the chats whose updates are handled at once. A
	// handler spends most of its time waiting for the pacer to send its
	// answer, and the pacer is fair among chats; so the bound is for
	// memory, and must be well above the chats that can keep the bot busy
	// at once (with fewer, a new chat would queue behind them for a slot).
	chatSlots = 256
	// defaultGrace is how long running handlers may finish their replies
	// after Run's context ends before their own context is cancelled.
	defaultGrace = 10 * time.Second
	// webhookMaxBody caps one webhook request; updates are a few KB.
	webhookMaxBody = 1 << 20
)

// allowedUpdates are the update kinds the bot handles; asking for only
// these keeps Telegram from sending (and us from storing offsets for)
// reactions, polls and the like.
var allowedUpdates = []string{models.AllowedUpdateMessage, models.AllowedUpdateCallbackQuery, models.AllowedUpdateMyChatMember}

// ErrNoToken is returned by New when there is no bot token.
var ErrNoToken = errors.New("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather in Telegram (/newbot) and put its token in .env")

// Options are what a Bot needs; Store and Token are required.
//
// The bot does not scrub what it logs or returns: failed requests' errors
// carry their URL, which holds the token. Log must be a scrubbing logger
// (internal/logging), and callers print returned errors through the same
// Scrubber.
type Options struct {
	Token         string
	APIURL        string // Bot API server; "" means api.telegram.org
	WebhookURL    string // public HTTPS URL; "" means long polling
	WebhookListen string // address the webhook server listens on
	WebhookSecret string // required with WebhookURL
	AdminIDs      []int64
	Access        string // AccessApproval (default) or AccessOpen
	SummaryLang   string // language summaries are made in, for /latest
	Store         *storage.Store
	Fetcher       *fetch.Fetcher // for /addsource; nil disables it
	// Pacer is the one pacer of everything the bot sends, shared with the
	// deliver stage; replies go at reply priority, before alerts. Nil makes
	// one for the bot alone, run by Run.
	Pacer *pacer.Pacer
	// ShutdownGrace is how long handlers may finish after Run's context
	// ends (SHUTDOWN_TIMEOUT; default 10 s).
	ShutdownGrace time.Duration
	// Search is the search index for /search, /test and 🔎; nil leaves
	// them unavailable.
	Search Searcher
	// Observe is told about every Bot API call (nil: nobody).
	Observe Observer
	// NoticeEvery is how often at most admins are told about new users
	// (default a minute).
	NoticeEvery time.Duration
	Log         *slog.Logger
	Now         func() time.Time
}

// Bot is dozor's Telegram bot.
type Bot struct {
	api         *tgbot.Bot
	store       *storage.Store
	fetcher     *fetch.Fetcher
	log         *slog.Logger
	now         func() time.Time
	webhookURL  string
	listen      string
	secret      string
	admins      map[int64]bool
	adminIDs    []int64
	open        bool
	summaryLang string

	// username is the bot's @username from getMe, for /cmd@username. It is
	// written by Run before any update is handled.
	username string
	// hctx is the context handlers run in: it outlives Run's context by
	// grace so replies in progress are not cut off.
	hctx  context.Context
	grace time.Duration

	inbox    *inbox
	budget   *budget
	rights   *rights
	search   Searcher
	heavy    *heavy
	searches *searches

	noticeEvery time.Duration
	noticeWake  chan struct{}
	pace        *pacer.Pacer
	ownPace     bool // made by New: Run runs it

	offWrite  sync.Mutex // one offset write at a time
	offMu     sync.Mutex
	inflight  map[int64]int
	doneNext  int64 // highest handled update id + 1
	committed int64 // offset stored in bbolt
	pending   int64 // offset known but not stored yet (quiet updates)

	handled atomic.Int64  // updates handled, for tests and the shutdown log
	ready   chan struct{} // closed once Run receives updates (for tests)
	addr    net.Addr      // the webhook listener's address (for tests)
}

// New checks the options and builds the bot without touching the network;
// Run connects.
func New(opts Options) (*Bot, error) {
	token := strings.TrimSpace(opts.Token)
	if token == "" {
		return nil, ErrNoToken
	}
	if opts.Store == nil {
		return nil, errors.New("bot: no store")
	}
	switch opts.Access {
	case "":
		opts.Access = AccessApproval
	case AccessApproval, AccessOpen:
	default:
		return nil, fmt.Errorf("bot: unknown access mode %q: use %q or %q", opts.Access, AccessApproval, AccessOpen)
	}
	if opts.WebhookURL != "" {
		if opts.WebhookSecret == "" {
			return nil, errors.New("bot: WEBHOOK_SECRET is required in webhook mode: Telegram sends it with every update so strangers cannot post fake ones")
		}
		if opts.WebhookListen == "" {
			return nil, errors.New("bot: WEBHOOK_LISTEN is required in webhook mode")
		}
	}
	b := &Bot{
		store:       opts.Store,
		fetcher:     opts.Fetcher,
		log:         opts.Log,
		now:         opts.Now,
		webhookURL:  opts.WebhookURL,
		listen:      opts.WebhookListen,
		secret:      opts.WebhookSecret,
		admins:      map[int64]bool{},
		open:        opts.Access == AccessOpen,
		summaryLang: opts.SummaryLang,
		inbox:       newInbox(chatSlots),
		budget:      newBudget(),
		rights:      newRights(),
		search:      opts.Search,
		heavy:       newHeavy(),
		searches:    newSearches(),
		noticeEvery: opts.NoticeEvery,
		grace:       cmp.Or(opts.ShutdownGrace, defaultGrace),
		noticeWake:  make(chan struct{}, 1),
		pace:        opts.Pacer,
		inflight:    map[int64]int{},
		ready:       make(chan struct{}),
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.pace == nil {
		b.pace, b.ownPace = pacer.New(30), true
	}
	for _, id := range opts.AdminIDs {
		if !b.admins[id] {
			b.admins[id] = true
			b.adminIDs = append(b.adminIDs, id)
		}
	}
	if !b.open && len(b.adminIDs) == 0 {
		b.log.Warn("bot: ACCESS=approval but ADMIN_IDS is empty: nobody can approve new users")
	}

	offset, err := b.loadOffset()
	if err != nil {
		return nil, err
	}
	b.committed, b.doneNext, b.pending = offset, offset, offset

	tgOpts := []tgbot.Option{
		tgbot.WithSkipGetMe(), // Run calls getMe itself and keeps the username
		// The library's one worker hands each update, in order, to track,
		// which queues it on its chat's inbox and returns at once.
		tgbot.WithNotAsyncHandlers(),
		tgbot.WithWorkers(1),
		tgbot.WithMiddlewares(b.track, b.recoverPanics),
		tgbot.WithDefaultHandler(b.onOther),
		tgbot.WithErrorsHandler(b.onLibraryError),
		tgbot.WithAllowedUpdates(allowedUpdates),
	}
	if opts.APIURL != "" {
		tgOpts = append(tgOpts, tgbot.WithServerURL(strings.TrimRight(opts.APIURL, "/")))
	}
	if opts.Observe != nil {
		tgOpts = append(tgOpts, tgbot.WithHTTPClient(pollTimeout, observedClient{c: &http.Client{Timeout: pollTimeout}, obs: opts.Observe}))
	}
	if offset > 0 {
		// The library asks for lastUpdateID+1; offset is the next id wanted.
		tgOpts = append(tgOpts, tgbot.WithInitialOffset(offset-1))
	}
	if b.secret != "" {
		tgOpts = append(tgOpts, tgbot.WithWebhookSecretToken(b.secret))
	}
	api, err := tgbot.New(token, tgOpts...)
	if err != nil {
		return nil, fmt.Errorf("bot: %w", err)
	}
	b.api = api
	b.registerHandlers()
	return b, nil
}

// API is the Bot API client, shared with the deliver stage.
func (b *Bot) API() *tgbot.Bot { return b.api }

// Run connects to Telegram and handles updates until ctx ends; call it
// once. It returns after the handlers still running have finished, so the
// caller may close the store right after. Errors are fatal ones: a
// rejected token, a webhook that cannot be set up.
func (b *Bot) Run(ctx context.Context) error {
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	b.hctx = hctx
	// What handlers need keeps running until they are done.
	var bg errgroup.Group
	if b.ownPace {
		bg.Go(func() error { return b.pace.Run(hctx) })
	}
	defer func() { hcancel(); _ = bg.Wait() }()

	me, err := b.getMe(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	b.username = me.Username
	b.log.Info("bot: connected", "username", me.Username, "mode", b.mode())
	b.setCommands(ctx)
	bg.Go(func() error { return b.notices(ctx) })

	if b.webhookURL != "" {
		err = b.runWebhook(ctx)
	} else {
		err = b.runPolling(ctx)
	}
	b.waitHandlers(hcancel)
	b.flushOffset()
	b.log.Info("bot: stopped", "updates_handled", b.handled.Load())
	return err
}

func (b *Bot) mode() string {
	if b.webhookURL != "" {
		return "webhook"
	}
	return "polling"
}

// getMe learns the bot's username, retrying while Telegram is unreachable;
// a rejected token is fatal.
func (b *Bot) getMe(ctx context.Context) (*models.User, error) {
	for failures := 1; ; failures++ {
		me, err := b.api.GetMe(ctx)
		if err == nil {
			return me, nil
		}
		if errors.Is(err, tgbot.ErrorUnauthorized) || errors.Is(err, tgbot.ErrorNotFound) {
			return nil, fmt.Errorf("bot: Telegram rejected TELEGRAM_BOT_TOKEN (check it with @BotFather): %w", err)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		wait := connectBackoff.Delay(failures)
		b.log.Warn("bot: cannot reach Telegram, retrying", "err", err, "retry_in", wait)
		if err := backoff.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// connectBackoff spaces the attempts to reach Telegram at start-up.
var connectBackoff = backoff.Policy{Base: time.Second, Max: 30 * time.Second}

func (b *Bot) runPolling(ctx context.Context) error {
	// getUpdates fails with 409 while a webhook is set, for example by an
	// earlier run in webhook mode.
	if _, err := b.api.DeleteWebhook(ctx, &tgbot.DeleteWebhookParams{}); err != nil && ctx.Err() == nil {
		b.log.Warn("bot: deleteWebhook failed", "err", err)
	}
	close(b.ready)
	b.api.Start(ctx)
	return nil
}

func (b *Bot) runWebhook(ctx context.Context) error {
	ln, err := net.Listen("tcp", b.listen)
	if err != nil {
		return fmt.Errorf("bot: webhook: listen on %s: %w", b.listen, err)
	}
	b.addr = ln.Addr()
	_, err = b.api.SetWebhook(ctx, &tgbot.SetWebhookParams{
		URL:            b.webhookURL,
		SecretToken:    b.secret,
		AllowedUpdates: allowedUpdates,
	})
	if err != nil {
		ln.Close()
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("bot: setWebhook %s: %w", b.webhookURL, err)
	}
	srv := &http.Server{
		Handler:           b.webhookHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(b.log.Handler(), slog.LevelWarn),
	}
	// The library's workers must outlive the server so that updates the
	// server accepted during shutdown are still handled.
	wctx, wcancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		b.api.StartWebhook(wctx)
	}()
	served := make(chan error, 1)
	go func() {
		defer wg.Done()
		served <- srv.Serve(ln)
	}()
	b.log.Info("bot: webhook server listening", "addr", ln.Addr().String())
	close(b.ready)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-served:
		runErr = fmt.Errorf("bot: webhook server: %w", err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), b.grace)
	if err := srv.Shutdown(sctx); err != nil {
		b.log.Warn("bot: webhook server shutdown", "err", err)
	}
	scancel()
	wcancel()
	wg.Wait()
	return runErr
}

// webhookHandler checks Telegram's secret header on every request before
// the library sees it: anyone who finds the URL could otherwise post fake
// updates, for example an admin's /ban.
func (b *Bot) webhookHandler() http.Handler {
	lib := b.api.WebhookHandler()
	secret := []byte(b.secret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("X-Telegram-Bot-Api-Secret-Token"))
		if subtle.ConstantTimeCompare(got, secret) != 1 {
			b.log.Warn("bot: webhook request with a wrong secret token", "remote", r.RemoteAddr)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, webhookMaxBody)
		lib(w, r)
	})
}

// waitHandlers waits for running handlers, cancelling their context if
// they take longer than the grace.
func (b *Bot) waitHandlers(cancel context.CancelFunc) {
	done := make(chan struct{})
	go func() {
		b.inbox.wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(b.grace):
		b.log.Warn("bot: handlers still running after shutdown grace; cancelling them")
		cancel()
	}
	<-done
}

// track is the outermost middleware. The library calls it for each update
// in order, from its one worker; it checks the sender's budget and queues
// the rest of the chain on the chat's inbox, so it returns at once.
func (b *Bot) track(next tgbot.HandlerFunc) tgbot.HandlerFunc {
	return func(_ context.Context, api *tgbot.Bot, upd *models.Update) {
		b.beginUpdate(upd.ID)
		chat := chatOf(upd)
		if from := senderOf(upd); from != 0 {
			if ok, note := b.budget.take(from, time.Now()); !ok {
				b.log.Debug("bot: over the update budget: dropped", "user_id", from, "update_id", upd.ID)
				if !note {
					b.endUpdate(upd.ID)
					return
				}
				b.inbox.push(chat, func() {
					b.slowDown(b.hctx, chat, upd)
					b.finishUpdate(upd.ID, false)
				})
				return
			}
		}
		b.inbox.push(chat, func() {
			st := &updateState{chat: chat}
			next(context.WithValue(b.hctx, updateStateKey{}, st), api, upd)
			b.finishUpdate(upd.ID, !st.quiet)
			b.handled.Add(1)
		})
	}
}

// updateState lets a handler tell track about the update.
type updateState struct {
	quiet bool  // nothing was written: the offset need not be stored now
	chat  int64 // the chat it came from: whom its replies are for
}

// chatOfCtx is the chat of the update a handler's ctx is for, 0 if none.
func chatOfCtx(ctx context.Context) int64 {
	if st, ok := ctx.Value(updateStateKey{}).(*updateState); ok {
		return st.chat
	}
	return 0
}

type updateStateKey struct{}

// quiet marks the update as one that changed nothing, so storing its offset
// can wait for the next update that does (or for shutdown): a banned user
// sending messages then costs no disk writes at all.
func quiet(ctx context.Context) {
	if st, ok := ctx.Value(updateStateKey{}).(*updateState); ok {
		st.quiet = true
	}
}

// recoverPanics keeps a bug in one handler from killing the process. The
// panic value and stack go to the log as attributes, where the logger's
// handler scrubs them like any other value.
func (b *Bot) recoverPanics(next tgbot.HandlerFunc) tgbot.HandlerFunc {
	return func(ctx context.Context, api *tgbot.Bot, upd *models.Update) {
		defer func() {
			if r := recover(); r != nil {
				b.log.Error("bot: handler panicked", "update_id", upd.ID,
					slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			}
		}()
		next(ctx, api, upd)
	}
}

func (b *Bot) loadOffset() (int64, error) {
	v, err := b.store.GetMeta(offsetKey)
	if err != nil {
		return 0, fmt.Errorf("bot: %w", err)
	}
	if len(v) == 0 {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n < 0 {
		b.log.Warn("bot: ignoring a corrupt stored update offset", "value", string(v))
		return 0, nil
	}
	return n, nil
}

func (b *Bot) beginUpdate(id int64) {
	b.offMu.Lock()
	b.inflight[id]++
	b.offMu.Unlock()
}

// endUpdate moves the stored offset past every update handled so far, but
// never past one still in flight: after a crash Telegram then resends the
// updates whose handling may not have finished, and none that had.
func (b *Bot) endUpdate(id int64) {
	b.offMu.Lock()
	defer b.offMu.Unlock()
	if b.inflight[id]--; b.inflight[id] <= 0 {
		delete(b.inflight, id)
	}
	b.doneNext = max(b.doneNext, id+1)
	next := b.doneNext
	for in := range b.inflight {
		next = min(next, in)
	}
	b.pending = max(b.pending, next)
}

// finishUpdate is endUpdate, then, when the update changed something,
// storing the offset before the handler's goroutine moves on.
func (b *Bot) finishUpdate(id int64, persist bool) {
	b.endUpdate(id)
	if persist {
		b.flushOffset()
	}
}

// flushOffset stores the offset. Writers take turns (offWrite), so offsets
// are stored in order, and one write serves every update that ended while
// the one before it ran; offMu is not held during the write, so taking in
// new updates (beginUpdate) never waits for the disk.
func (b *Bot) flushOffset() {
	b.offWrite.Lock()
	defer b.offWrite.Unlock()
	b.offMu.Lock()
	next, done := b.pending, b.committed
	b.offMu.Unlock()
	if next <= done {
		return
	}
	if err := b.store.SetMeta(offsetKey, []byte(strconv.FormatInt(next, 10))); err != nil {
		b.log.Error("bot: cannot store the update offset", "err", err)
		return
	}
	b.offMu.Lock()
	b.committed = next
	b.offMu.Unlock()
}

func (b *Bot) onLibraryError(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	b.log.Warn("bot: telegram", "err", err)
}
