package auth

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/viewer"
)

const maxSearchLen = 100

// SearchUsers returns the query of live users other than the viewer whose
// nickname or email contains text, ignoring case. The caller pages it.
func (s *Service) SearchUsers(_ context.Context, v viewer.Viewer, text string) (*ent.UserQuery, error) {
	q := strings.TrimSpace(text)
	if q == "" {
		return nil, apperr.Input("query", "the search query must not be empty")
	}
	if utf8.RuneCountInString(q) > maxSearchLen {
		return nil, apperr.Input("query", "the search query must be at most %d characters", maxSearchLen)
	}
	return s.db.User.Query().Where(
		user.DeletedAtIsNil(),
		user.IDNEQ(v.UserID),
		user.Or(user.NicknameContainsFold(q), user.EmailContainsFold(q)),
	), nil
}
