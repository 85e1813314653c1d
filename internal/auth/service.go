// Package auth owns accounts and sessions: passwords, access tokens (JWT),
// rotating refresh tokens, and the one function that turns a bearer token
// into a viewer for both HTTP and WebSocket.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/predicate"
	"github.com/chatty/chatty/ent/refreshtoken"
	"github.com/chatty/chatty/ent/session"
	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/ratelimit"
	"github.com/chatty/chatty/internal/viewer"
)

// Options configure a Service. Zero values take the defaults.
type Options struct {
	// Secret is the HMAC key of access tokens (at least 32 bytes).
	Secret []byte
	// Issuer goes into the iss claim and is required back.
	Issuer string
	// AccessTTL is how long an access token lives (15 minutes).
	AccessTTL time.Duration
	// SessionTTL is how long a session lives unused (30 days); each refresh extends it.
	SessionTTL time.Duration
	// Password is the argon2id cost (DefaultPasswordParams).
	Password PasswordParams
	// Sign-in attempts are limited, each a burst then one more each Every:
	// SignInPerAccountClient per account and client address (10, then one
	// a minute), so one address cannot lock an account's owner out from
	// another; SignInPerAccount per account over all addresses (100, then
	// one a minute); SignInPerClient per client address over all accounts
	// (30, then one every 2 s).
	SignInPerAccountClient, SignInPerAccount, SignInPerClient Limit
	// SearchPerUser limits searchUsers per viewer (30, then one every 2 s).
	SearchPerUser Limit
	// MessageSearchPerUser limits searchMessages per viewer (30, then one
	// a second): each search reads the index and checks its candidates.
	MessageSearchPerUser Limit
	// HashConcurrency bounds the password hashes (argon2id, Password.Memory
	// each) that run at once (2×GOMAXPROCS); a request waits at most
	// HashWait (2 s) for a turn, then is answered RATE_LIMITED.
	HashConcurrency int
	HashWait        time.Duration
	// OnPasswordHash, when set, is called as each password hash starts in
	// its slot; the function it returns, as it ends.
	OnPasswordHash func() (done func())
	Logger         *slog.Logger
	Now            func() time.Time
	// Providers are the OAuth providers users may sign in with.
	Providers []Provider
	// RedirectAllowed says whether an OAuth redirect may go to an origin
	// ("https://app.example.com"); nil allows any.
	RedirectAllowed func(origin string) bool
	// SessionsEnded hears, after commit, that sessions of a user ended
	// (sign-out, a reused refresh token, a password change, account
	// deletion): open WebSockets check theirs and close.
	SessionsEnded func(ctx context.Context, userID int)
	// AccountDeleted hears, after commit, that an account was deleted:
	// its avatar's row and file go.
	AccountDeleted func(ctx context.Context, userID int)
	// Shared, when the deployment has Redis, counts the sign-in and search
	// limits there, so they hold across instances (nil: per instance).
	Shared *ratelimit.Redis
}

// Limit is a burst of attempts refilled one per Every.
type Limit struct {
	Burst int
	Every time.Duration
}

// Service is chatty's accounts and sessions.
type Service struct {
	db              *ent.Client
	tokens          *tokenIssuer
	opts            Options
	byAccountClient *keyedLimiter
	// knownClients are (account, address) pairs that signed in lately:
	// they skip the account's ceiling, which strangers can exhaust.
	knownClients *recentSet
	byAccount    *keyedLimiter
	byClient     *keyedLimiter
	searches     *keyedLimiter
	// messageSearches: MessageSearchPerUser, counted by AllowMessageSearch.
	messageSearches *keyedLimiter
	hashes          *hashGate
	sessions        sessionCache
	log             *slog.Logger
	// dummyHash is checked against when no account matches, so that a
	// wrong email takes as long as a wrong password.
	dummyHash string
}

// NewService returns the accounts service over db.
func NewService(db *ent.Client, o Options) (*Service, error) {
	if len(o.Secret) < 32 {
		return nil, errors.New("auth: the token secret must be at least 32 bytes")
	}
	if o.Issuer == "" {
		o.Issuer = "chatty"
	}
	if o.AccessTTL == 0 {
		o.AccessTTL = 15 * time.Minute
	}
	if o.SessionTTL == 0 {
		o.SessionTTL = 30 * 24 * time.Hour
	}
	if o.Password == (PasswordParams{}) {
		o.Password = DefaultPasswordParams
	}
	defaultLimit(&o.SignInPerAccountClient, Limit{Burst: 10, Every: time.Minute})
	defaultLimit(&o.SignInPerAccount, Limit{Burst: 100, Every: time.Minute})
	defaultLimit(&o.SignInPerClient, Limit{Burst: 30, Every: 2 * time.Second})
	defaultLimit(&o.SearchPerUser, Limit{Burst: 30, Every: 2 * time.Second})
	defaultLimit(&o.MessageSearchPerUser, Limit{Burst: 30, Every: time.Second})
	if o.HashConcurrency <= 0 {
		o.HashConcurrency = 2 * runtime.GOMAXPROCS(0)
	}
	if o.HashWait <= 0 {
		o.HashWait = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{
		db:              db,
		tokens:          newTokenIssuer(o.Secret, o.Issuer, o.AccessTTL),
		opts:            o,
		byAccountClient: newKeyedLimiter(o.SignInPerAccountClient).sharedBy(o.Shared, "signin-pair", o.Logger),
		knownClients:    &recentSet{keep: knownClientFor, seen: map[string]time.Time{}, shared: o.Shared, log: o.Logger},
		byAccount:       newKeyedLimiter(o.SignInPerAccount).sharedBy(o.Shared, "signin-account", o.Logger),
		byClient:        newKeyedLimiter(o.SignInPerClient).sharedBy(o.Shared, "signin-client", o.Logger),
		searches:        newKeyedLimiter(o.SearchPerUser).sharedBy(o.Shared, "search-users", o.Logger),
		messageSearches: newKeyedLimiter(o.MessageSearchPerUser).sharedBy(o.Shared, "search-messages", o.Logger),
		hashes:          newHashGate(o.HashConcurrency, o.HashWait, o.OnPasswordHash),
		log:             o.Logger,
		dummyHash:       hashPassword("not a password of anyone", o.Password),
	}, nil
}

func defaultLimit(l *Limit, def Limit) {
	if l.Burst <= 0 || l.Every <= 0 {
		*l = def
	}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// Payload is what signing in hands back: an access token, a refresh token
// and the user.
type Payload struct {
	AccessToken          string
	AccessTokenExpiresAt time.Time
	RefreshToken         string
	User                 *ent.User
	SessionID            int
}

// signedIn makes the payload's user the viewer for the rest of the
// request, once its session is committed.
func signedIn(ctx context.Context, p *Payload) *Payload {
	viewer.SignIn(ctx, viewer.Viewer{UserID: p.User.ID, SessionID: p.SessionID})
	return p
}

// Authenticate turns a bearer access token into a viewer: the signature,
// algorithm, issuer and expiry are checked, then that the session is still
// open and the account not deleted (read again at most every
// SessionCheckTTL: see sessionCache). It also returns when the token
// expires.
func (s *Service) Authenticate(ctx context.Context, token string) (viewer.Viewer, time.Time, error) {
	v, exp, err := s.tokens.verify(token)
	if err != nil {
		return viewer.Viewer{}, time.Time{}, err
	}
	now := s.now()
	ok, epoch := s.sessions.lookup(v.SessionID, v.UserID, now)
	if ok {
		return v, exp, nil
	}
	if err := s.checkSession(ctx, v, now, epoch); err != nil {
		return viewer.Viewer{}, time.Time{}, err
	}
	return v, exp, nil
}

// RecheckSession reads from the database whether the session of v, a
// viewer Authenticate returned, still holds: for when sessions of the
// viewer have just ended, possibly through another instance. It needs
// no token (a WebSocket keeps the viewer for its rechecks, not its
// token, and closes itself when the token expires).
func (s *Service) RecheckSession(ctx context.Context, v viewer.Viewer) error {
	now := s.now()
	_, epoch := s.sessions.lookup(v.SessionID, v.UserID, now)
	return s.checkSession(ctx, v, now, epoch)
}

// checkSession reads v's session from the database and remembers it
// (sessions.store, with the epoch lookup returned).
func (s *Service) checkSession(ctx context.Context, v viewer.Viewer, now time.Time, epoch uint64) error {
	sess, err := s.db.Session.Query().
		Where(
			session.ID(v.SessionID),
			session.RevokedAtIsNil(),
			session.ExpiresAtGT(now),
			session.HasUserWith(user.ID(v.UserID), user.DeletedAtIsNil()),
		).
		Select(session.FieldExpiresAt).
		Only(ctx)
	if ent.IsNotFound(err) {
		s.sessions.forget(v.SessionID) // it may have ended through another instance
		return ErrSessionEnded
	}
	if err != nil {
		return fmt.Errorf("check session %d: %w", v.SessionID, err)
	}
	s.sessions.store(v.SessionID, v.UserID, now, sess.ExpiresAt, epoch)
	return nil
}

// BearerToken extracts the token of an "Authorization: Bearer <token>"
// header value; "" when there is none.
func BearerToken(header string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// startSession opens a session for u inside tx and issues its first tokens.
func (s *Service) startSession(ctx context.Context, tx *ent.Tx, u *ent.User) (*Payload, error) {
	client := viewer.ClientFromContext(ctx)
	now := s.now()
	sess, err := tx.Session.Create().
		SetUserID(u.ID).
		SetCreatedAt(now).
		SetExpiresAt(now.Add(s.opts.SessionTTL)).
		SetUserAgent(truncate(client.UserAgent, 255)).
		SetClientIP(truncate(client.IP, 64)).
		Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("create session for user %d: %w", u.ID, err)
	}
	return s.issue(ctx, tx, u, sess.ID, now)
}

// issue creates the next refresh token of session and an access token.
func (s *Service) issue(ctx context.Context, tx *ent.Tx, u *ent.User, sessionID int, now time.Time) (*Payload, error) {
	refresh, hash := newRefreshToken()
	if err := tx.RefreshToken.Create().SetSessionID(sessionID).SetTokenHash(hash).SetCreatedAt(now).Exec(ctx); err != nil {
		return nil, fmt.Errorf("create refresh token for session %d: %w", sessionID, err)
	}
	access, exp, err := s.tokens.issue(u.ID, sessionID, now)
	if err != nil {
		return nil, err
	}
	return &Payload{AccessToken: access, AccessTokenExpiresAt: exp, RefreshToken: refresh, User: u, SessionID: sessionID}, nil
}

// newRefreshToken returns an opaque token (256 random bits) and the hash
// that is stored in its place.
func newRefreshToken() (token, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashRefreshToken(token)
}

func hashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Refresh exchanges a refresh token for a new pair. Each token works once:
// presenting a spent one ends its whole session (someone else has a copy).
func (s *Service) Refresh(ctx context.Context, token string) (*Payload, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, ErrInvalidRefreshToken
	}
	var (
		out      *Payload
		reused   bool
		reusedBy int
	)
	err := database.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		now := s.now()
		rt, err := tx.RefreshToken.Query().
			Where(refreshtoken.TokenHash(hashRefreshToken(token))).
			WithSession(func(q *ent.SessionQuery) { q.WithUser() }).
			Only(ctx)
		if ent.IsNotFound(err) {
			return ErrInvalidRefreshToken
		}
		if err != nil {
			return fmt.Errorf("find refresh token: %w", err)
		}
		sess := rt.Edges.Session
		if sess.RevokedAt != nil || !sess.ExpiresAt.After(now) || sess.Edges.User.DeletedAt != nil {
			return ErrInvalidRefreshToken
		}
		// Spend the token; the condition makes two concurrent refreshes with
		// the same token see each other: only one wins.
		n, err := tx.RefreshToken.Update().
			Where(refreshtoken.ID(rt.ID), refreshtoken.UsedAtIsNil()).
			SetUsedAt(now).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("spend refresh token: %w", err)
		}
		if n == 0 {
			reused, reusedBy = true, sess.Edges.User.ID
			return s.revokeSessions(ctx, tx, now, session.ID(sess.ID))
		}
		if err := tx.Session.UpdateOneID(sess.ID).SetLastUsedAt(now).SetExpiresAt(now.Add(s.opts.SessionTTL)).Exec(ctx); err != nil {
			return fmt.Errorf("extend session %d: %w", sess.ID, err)
		}
		out, err = s.issue(ctx, tx, sess.Edges.User, sess.ID, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if reused {
		s.log.WarnContext(ctx, "refresh token reused; session revoked", "client_ip", viewer.ClientFromContext(ctx).IP)
		s.sessionsEnded(ctx, reusedBy)
		return nil, ErrRefreshTokenReused
	}
	return signedIn(ctx, out), nil
}

// SignOut ends the session the refresh token belongs to. It reports
// whether there was an open session to end.
func (s *Service) SignOut(ctx context.Context, token string) (bool, error) {
	rt, err := s.db.RefreshToken.Query().
		Where(refreshtoken.TokenHash(hashRefreshToken(strings.TrimSpace(token)))).
		WithSession(func(q *ent.SessionQuery) { q.WithUser() }).
		Only(ctx)
	if ent.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find refresh token: %w", err)
	}
	n, err := s.db.Session.Update().
		Where(session.HasTokensWith(refreshtoken.ID(rt.ID)), session.RevokedAtIsNil()).
		SetRevokedAt(s.now()).
		Save(ctx)
	if err != nil {
		return false, fmt.Errorf("revoke session: %w", err)
	}
	if n > 0 {
		s.sessionsEnded(ctx, rt.Edges.Session.Edges.User.ID)
	}
	return n > 0, nil
}

func (s *Service) sessionsEnded(ctx context.Context, userID int) {
	s.sessions.forgetUser(userID)
	if s.opts.SessionsEnded != nil {
		s.opts.SessionsEnded(ctx, userID)
	}
}

// revokeSessions ends the sessions matching where.
func (s *Service) revokeSessions(ctx context.Context, tx *ent.Tx, now time.Time, where ...predicate.Session) error {
	_, err := tx.Session.Update().Where(append(where, session.RevokedAtIsNil())...).SetRevokedAt(now).Save(ctx)
	if err != nil {
		return fmt.Errorf("revoke sessions: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut at a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
