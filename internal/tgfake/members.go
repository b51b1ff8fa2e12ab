package tgfake

import "net/http"

// Chat member statuses, as getChatMember reports them.
const (
	StatusCreator       = "creator"
	StatusAdministrator = "administrator"
	StatusMember        = "member"
	StatusLeft          = "left"
)

// SetMember sets a user's status in a group, as its admins would by
// promoting or removing them. A user who writes in a group is a member
// unless set otherwise.
func (s *Server) SetMember(chatID, userID int64, status string) {
	s.t.Helper()
	if chatID >= 0 {
		s.t.Errorf("tgfake: SetMember: chat %d is not a group", chatID)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chat(chatID)
	if c.members == nil {
		c.members = map[int64]string{}
	}
	c.members[userID] = status
}

// getChatMember answers with the user's status in the chat: "left" for a
// user never seen there, 400 for a chat the bot is not in.
func (s *Server) getChatMember(_ *http.Request, p params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, aerr := s.resolveChat(p["chat_id"])
	if aerr != nil {
		return nil, aerr
	}
	user := p.int64("user_id")
	if user <= 0 {
		return nil, badRequest("invalid user_id specified")
	}
	status := StatusLeft
	switch {
	case c.typ == "private" && c.id == user:
		status = StatusMember
	case c.members[user] != "":
		status = c.members[user]
	}
	return map[string]any{
		"status": status,
		"user":   wireUser{ID: user, FirstName: "Test"},
	}, nil
}
