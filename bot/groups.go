package bot

import (
	"context"
	"sync"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// rightsTTL is how long a group member's rights are taken as Telegram last
// said: admins change seldom, and asking on every button press would cost
// a Bot API call each.
const rightsTTL = 5 * time.Minute

// rights caches who administers which group.
type rights struct {
	mu sync.Mutex
	m  map[[2]int64]rightsEntry
}

type rightsEntry struct {
	admin bool
	at    time.Time
}

func newRights() *rights { return &rights{m: map[[2]int64]rightsEntry{}} }

// isGroup reports a chat that is not a private one: a group, a supergroup
// or a channel, whose settings only its administrators may change.
func isGroup(chatType models.ChatType) bool {
	return chatType != "" && chatType != models.ChatTypePrivate
}

// mayManage reports whether a user may change a chat's subscriptions,
// mutes and settings: anyone in their own private chat; in a group, its
// creator and administrators (as getChatMember says, cached), and dozor's
// own admins.
func (b *Bot) mayManage(ctx context.Context, chatID int64, chatType models.ChatType, userID int64) bool {
	if !isGroup(chatType) || b.admins[userID] {
		return true
	}
	key := [2]int64{chatID, userID}
	now := time.Now()
	b.rights.mu.Lock()
	e, ok := b.rights.m[key]
	b.rights.mu.Unlock()
	if ok && now.Sub(e.at) < rightsTTL {
		return e.admin
	}
	m, err := b.api.GetChatMember(ctx, &tgbot.GetChatMemberParams{ChatID: chatID, UserID: userID})
	if err != nil {
		b.log.Warn("bot: cannot tell whether a user administers a group; taking no", "chat_id", chatID, "user_id", userID, "err", err)
		return false
	}
	admin := m.Type == models.ChatMemberTypeOwner || m.Type == models.ChatMemberTypeAdministrator
	b.rights.mu.Lock()
	if len(b.rights.m) > 10_000 {
		for k, x := range b.rights.m {
			if now.Sub(x.at) >= rightsTTL {
				delete(b.rights.m, k)
			}
		}
	}
	b.rights.m[key] = rightsEntry{admin: admin, at: now}
	b.rights.mu.Unlock()
	return admin
}
