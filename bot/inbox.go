package bot

import (
	"sync"
	"time"

	"github.com/go-telegram/bot/models"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// inbox runs the updates of one chat one at a time, in the order Telegram
// numbered them, and those of different chats at once, at most slots of
// them. A user's /start and /subscribe that arrive in one getUpdates answer
// (as they do after every restart) therefore run in that order, while
// nobody waits for another chat's handler.
//
// A chat gives its slot back after each update and queues for it again,
// so a chat with many updates takes turns with the others instead of
// keeping a slot.
type inbox struct {
	slots chan struct{}
	g     errgroup.Group // one goroutine per chat with updates queued

	mu    sync.Mutex
	chats map[int64][]func()
}

func newInbox(slots int) *inbox {
	return &inbox{slots: make(chan struct{}, slots), chats: map[int64][]func(){}}
}

// push queues job for chat. It never blocks.
func (in *inbox) push(chat int64, job func()) {
	in.mu.Lock()
	q, running := in.chats[chat]
	in.chats[chat] = append(q, job)
	in.mu.Unlock()
	if !running {
		in.g.Go(func() error { in.drain(chat); return nil })
	}
}

// drain runs chat's jobs until its queue is empty.
func (in *inbox) drain(chat int64) {
	for {
		in.slots <- struct{}{}
		in.mu.Lock()
		q := in.chats[chat]
		if len(q) == 0 {
			delete(in.chats, chat)
			in.mu.Unlock()
			<-in.slots
			return
		}
		job := q[0]
		q[0] = nil
		in.chats[chat] = q[1:]
		in.mu.Unlock()
		job()
		<-in.slots
	}
}

// wait returns once every queued job has run.
func (in *inbox) wait() { _ = in.g.Wait() }

// chatOf is the mailbox an update belongs to: its chat, else the person
// who sent it.
func chatOf(u *models.Update) int64 {
	switch {
	case u.Message != nil:
		return u.Message.Chat.ID
	case u.CallbackQuery != nil:
		q := u.CallbackQuery
		switch {
		case q.Message.Message != nil:
			return q.Message.Message.Chat.ID
		case q.Message.InaccessibleMessage != nil:
			return q.Message.InaccessibleMessage.Chat.ID
		}
		return q.From.ID
	case u.MyChatMember != nil:
		return u.MyChatMember.Chat.ID
	}
	return 0
}

// senderOf is the person an update comes from, 0 for none.
func senderOf(u *models.Update) int64 {
	switch {
	case u.Message != nil && u.Message.From != nil:
		return u.Message.From.ID
	case u.CallbackQuery != nil:
		return u.CallbackQuery.From.ID
	}
	return 0
}

// Every user may send budgetBurst updates at once and one more every
// budgetEvery: more than anyone types or taps, far less than a script
// floods.
const (
	budgetBurst = 20
	budgetEvery = time.Second
	// noteEvery spaces the "slow down" notes to one user.
	noteEvery = time.Minute
)

// budget is each user's allowance of updates, a token bucket per user, so
// that one user's flood costs the others nothing: past it, updates are
// dropped before they reach a handler or the database.
type budget struct {
	mu    sync.Mutex
	users map[int64]*allowance
}

type allowance struct {
	lim   *rate.Limiter
	noted time.Time // when the user was last told to slow down
}

func newBudget() *budget { return &budget{users: map[int64]*allowance{}} }

// take spends one update of user's allowance. When it is spent, note says
// whether to tell them so, once per noteEvery.
func (b *budget) take(user int64, now time.Time) (ok, note bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.users[user]
	if a == nil {
		if len(b.users) >= 10_000 {
			b.forget(now)
		}
		a = &allowance{lim: rate.NewLimiter(rate.Every(budgetEvery), budgetBurst)}
		b.users[user] = a
	}
	if a.lim.AllowN(now, 1) {
		return true, false
	}
	if now.Sub(a.noted) >= noteEvery {
		a.noted = now
		return false, true
	}
	return false, false
}

// forget drops the users whose allowance is whole again: they are as new.
func (b *budget) forget(now time.Time) {
	for id, a := range b.users {
		if a.lim.TokensAt(now) >= budgetBurst && now.Sub(a.noted) >= noteEvery {
			delete(b.users, id)
		}
	}
}
