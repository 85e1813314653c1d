package auth

import (
	"context"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/predicate"
	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/viewer"
)

const maxSearchLen = 100

// AllowMessageSearch counts one searchMessages of the viewer against their
// limit (MessageSearchPerUser): RATE_LIMITED with a retry hint beyond it.
// Each page counts; with Options.Shared the limit holds across instances.
func (s *Service) AllowMessageSearch(ctx context.Context, v viewer.Viewer) error {
	if ok, wait := s.messageSearches.allow(ctx, strconv.Itoa(v.UserID), s.now()); !ok {
		return apperr.Retry(wait, "too many searches; try again in %d seconds", seconds(wait))
	}
	return nil
}

// SearchUsers returns the query of live users other than the viewer whose
// nickname contains text, or whose email is exactly text, ignoring case and
// surrounding space. A part of an email finds nobody, so hidden emails
// cannot be recovered a letter at a time; searches are limited per viewer
// (RATE_LIMITED with a retry hint). The caller pages the query.
func (s *Service) SearchUsers(ctx context.Context, v viewer.Viewer, text string) (*ent.UserQuery, error) {
	q := strings.TrimSpace(text)
	if q == "" {
		return nil, apperr.Input("query", "the search query must not be empty")
	}
	if utf8.RuneCountInString(q) > maxSearchLen {
		return nil, apperr.Input("query", "the search query must be at most %d characters", maxSearchLen)
	}
	if ok, wait := s.searches.allow(ctx, strconv.Itoa(v.UserID), s.now()); !ok {
		return nil, apperr.Retry(wait, "too many searches; try again in %d seconds", seconds(wait))
	}
	// ContainsFold escapes LIKE's wildcards (%, _ and \): they match literally.
	match := []predicate.User{user.NicknameContainsFold(q)}
	if email, err := normalizeEmail(q); err == nil {
		match = append(match, user.Email(email)) // stored normalised: the unique index answers
	}
	return s.db.User.Query().Where(
		user.DeletedAtIsNil(),
		user.IDNEQ(v.UserID),
		user.Or(match...),
	), nil
}
