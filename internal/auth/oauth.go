package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/identity"
	"github.com/chatty/chatty/ent/oauthstate"
	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/database"
)

// OAuth errors.
var (
	ErrOAuthState    = apperr.Input("state", "this sign-in is unknown, used or expired: start it again")
	ErrOAuthRefused  = apperr.New(apperr.Unauthenticated, "the provider did not accept the sign-in")
	ErrOAuthProvider = apperr.New(apperr.Unauthenticated, "the provider could not be reached or answered unexpectedly; try again")
)

// oauthStateTTL is how long a started sign-in may take at the provider.
const oauthStateTTL = 10 * time.Minute

// Provider is an OAuth 2.0 provider users sign in with.
type Provider struct {
	Name                           identity.Provider
	ClientID, ClientSecret         string
	AuthURL, TokenURL, UserInfoURL string
	Scopes                         []string
	AuthStyle                      oauth2.AuthStyle
	// profile reads the provider's user-info answer.
	profile func([]byte) (oauthProfile, error)
}

// oauthProfile is what chatty takes from a provider's user info.
type oauthProfile struct {
	Subject       string
	Email         string
	EmailVerified bool
	Nickname      string
}

// Google signs users in with their Google account (OpenID Connect user info).
func Google(clientID, secret string) Provider {
	return Provider{
		Name: identity.ProviderGOOGLE, ClientID: clientID, ClientSecret: secret,
		AuthURL:     "https://accounts.google.com/o/oauth2/v2/auth",
		TokenURL:    "https://oauth2.googleapis.com/token",
		UserInfoURL: "https://openidconnect.googleapis.com/v1/userinfo",
		Scopes:      []string{"openid", "email", "profile"},
		AuthStyle:   oauth2.AuthStyleInParams,
		profile: func(b []byte) (oauthProfile, error) {
			var v struct {
				Sub           string `json:"sub"`
				Email         string `json:"email"`
				EmailVerified bool   `json:"email_verified"`
				Name          string `json:"name"`
			}
			err := json.Unmarshal(b, &v)
			return oauthProfile{Subject: v.Sub, Email: v.Email, EmailVerified: v.EmailVerified, Nickname: v.Name}, err
		},
	}
}

// Naver signs users in with their Naver account (네이버 로그인).
func Naver(clientID, secret string) Provider {
	return Provider{
		Name: identity.ProviderNAVER, ClientID: clientID, ClientSecret: secret,
		AuthURL:     "https://nid.naver.com/oauth2.0/authorize",
		TokenURL:    "https://nid.naver.com/oauth2.0/token",
		UserInfoURL: "https://openapi.naver.com/v1/nid/me",
		AuthStyle:   oauth2.AuthStyleInParams,
		profile: func(b []byte) (oauthProfile, error) {
			var v struct {
				ResultCode string `json:"resultcode"`
				Response   struct {
					ID       string `json:"id"`
					Email    string `json:"email"`
					Nickname string `json:"nickname"`
					Name     string `json:"name"`
				} `json:"response"`
			}
			if err := json.Unmarshal(b, &v); err != nil {
				return oauthProfile{}, err
			}
			if v.ResultCode != "00" {
				return oauthProfile{}, fmt.Errorf("naver resultcode %q", v.ResultCode)
			}
			nick := v.Response.Nickname
			if nick == "" {
				nick = v.Response.Name
			}
			// Naver hands out the account's own (verified) address.
			return oauthProfile{Subject: v.Response.ID, Email: v.Response.Email, EmailVerified: v.Response.Email != "", Nickname: nick}, nil
		},
	}
}

// Kakao signs users in with their Kakao account (카카오 로그인).
func Kakao(clientID, secret string) Provider {
	return Provider{
		Name: identity.ProviderKAKAO, ClientID: clientID, ClientSecret: secret,
		AuthURL:     "https://kauth.kakao.com/oauth/authorize",
		TokenURL:    "https://kauth.kakao.com/oauth/token",
		UserInfoURL: "https://kapi.kakao.com/v2/user/me",
		AuthStyle:   oauth2.AuthStyleInParams,
		profile: func(b []byte) (oauthProfile, error) {
			var v struct {
				ID      json.Number `json:"id"`
				Account struct {
					Email         string `json:"email"`
					EmailValid    bool   `json:"is_email_valid"`
					EmailVerified bool   `json:"is_email_verified"`
					Profile       struct {
						Nickname string `json:"nickname"`
					} `json:"profile"`
				} `json:"kakao_account"`
			}
			err := json.Unmarshal(b, &v)
			a := v.Account
			return oauthProfile{Subject: v.ID.String(), Email: a.Email, EmailVerified: a.EmailValid && a.EmailVerified, Nickname: a.Profile.Nickname}, err
		},
	}
}

func (p Provider) config(redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: p.ClientID, ClientSecret: p.ClientSecret, Scopes: p.Scopes, RedirectURL: redirectURI,
		Endpoint: oauth2.Endpoint{AuthURL: p.AuthURL, TokenURL: p.TokenURL, AuthStyle: p.AuthStyle},
	}
}

// Providers returns the names of the providers users may sign in with on
// this server, in the order the API declares them (GOOGLE, NAVER, KAKAO).
func (s *Service) Providers() []identity.Provider {
	out := []identity.Provider{}
	for _, name := range []identity.Provider{identity.ProviderGOOGLE, identity.ProviderNAVER, identity.ProviderKAKAO} {
		if _, err := s.provider(name); err == nil {
			out = append(out, name)
		}
	}
	return out
}

// provider returns the configured provider called name.
func (s *Service) provider(name identity.Provider) (Provider, error) {
	for _, p := range s.opts.Providers {
		if p.Name == name {
			return p, nil
		}
	}
	return Provider{}, apperr.Input("provider", "%s sign-in is not set up on this server", name)
}

// StartOAuth begins a sign-in at provider: it returns where to send the
// browser and the state the provider will echo back to redirectURI (which
// must be on an allowed origin). The state works once, for 10 minutes.
func (s *Service) StartOAuth(ctx context.Context, name identity.Provider, redirectURI string) (authURL, state string, err error) {
	p, err := s.provider(name)
	if err != nil {
		return "", "", err
	}
	u, err := url.Parse(redirectURI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return "", "", apperr.Input("redirectURI", "redirectURI must be an absolute http(s) URL")
	}
	if s.opts.RedirectAllowed != nil && !s.opts.RedirectAllowed(u.Scheme+"://"+u.Host) {
		return "", "", apperr.Input("redirectURI", "redirectURI %q is not on an origin this server allows", u.Scheme+"://"+u.Host)
	}
	state, hash := newRefreshToken() // 256 random bits, stored hashed: the same shape as a refresh token
	verifier := oauth2.GenerateVerifier()
	now := s.now()
	if _, err := s.db.OAuthState.Delete().Where(oauthstate.ExpiresAtLT(now)).Exec(ctx); err != nil {
		return "", "", fmt.Errorf("purge expired oauth states: %w", err)
	}
	err = s.db.OAuthState.Create().
		SetStateHash(hash).
		SetProvider(oauthstate.Provider(name)).
		SetRedirectURI(redirectURI).
		SetCodeVerifier(verifier).
		SetCreatedAt(now).
		SetExpiresAt(now.Add(oauthStateTTL)).
		Exec(ctx)
	if err != nil {
		return "", "", fmt.Errorf("store oauth state: %w", err)
	}
	return p.config(redirectURI).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), state, nil
}

// CompleteOAuth finishes a sign-in: it spends the state, exchanges the code
// (with the PKCE verifier), reads who the user is at the provider and signs
// them in: the account linked to that provider identity, else the account
// with the same verified email, else a new account.
func (s *Service) CompleteOAuth(ctx context.Context, name identity.Provider, code, state string) (*Payload, error) {
	p, err := s.provider(name)
	if err != nil {
		return nil, err
	}
	st, err := s.spendState(ctx, name, state)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cfg := p.config(st.RedirectURI)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(st.CodeVerifier))
	if err != nil {
		s.log.WarnContext(ctx, "oauth code exchange failed", "provider", name, "err", err)
		return nil, ErrOAuthRefused
	}
	prof, err := s.fetchProfile(ctx, p, cfg.Client(ctx, tok))
	if err != nil {
		s.log.WarnContext(ctx, "oauth user info failed", "provider", name, "err", err)
		return nil, ErrOAuthProvider
	}
	var out *Payload
	err = database.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		u, err := s.oauthUser(ctx, tx, name, prof)
		if err != nil {
			return err
		}
		out, err = s.startSession(ctx, tx, u)
		return err
	})
	if err != nil {
		return nil, err
	}
	return signedIn(ctx, out), nil
}

// spendState finds the stored state of a started sign-in and deletes it:
// of two concurrent completions, one wins.
func (s *Service) spendState(ctx context.Context, name identity.Provider, state string) (*ent.OAuthState, error) {
	st, err := s.db.OAuthState.Query().
		Where(oauthstate.StateHash(hashRefreshToken(strings.TrimSpace(state))), oauthstate.ProviderEQ(oauthstate.Provider(name))).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrOAuthState
	}
	if err != nil {
		return nil, fmt.Errorf("find oauth state: %w", err)
	}
	n, err := s.db.OAuthState.Delete().Where(oauthstate.ID(st.ID)).Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("spend oauth state: %w", err)
	}
	if n == 0 || !st.ExpiresAt.After(s.now()) {
		return nil, ErrOAuthState
	}
	return st, nil
}

func (s *Service) fetchProfile(ctx context.Context, p Provider, client *http.Client) (oauthProfile, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.UserInfoURL, nil)
	if err != nil {
		return oauthProfile{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return oauthProfile{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return oauthProfile{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return oauthProfile{}, fmt.Errorf("user info: status %d", resp.StatusCode)
	}
	prof, err := p.profile(body)
	if err != nil {
		return oauthProfile{}, fmt.Errorf("user info: %w", err)
	}
	if prof.Subject == "" {
		return oauthProfile{}, fmt.Errorf("user info without a subject")
	}
	return prof, nil
}

// oauthUser finds or makes the account of a provider identity.
func (s *Service) oauthUser(ctx context.Context, tx *ent.Tx, name identity.Provider, prof oauthProfile) (*ent.User, error) {
	id, err := tx.Identity.Query().
		Where(identity.ProviderEQ(name), identity.Subject(prof.Subject)).
		WithUser().
		Only(ctx)
	switch {
	case err == nil && id.Edges.User.DeletedAt == nil:
		return id.Edges.User, nil
	case err == nil:
		return nil, ErrSessionEnded // a deleted account's identities are removed; defensive
	case !ent.IsNotFound(err):
		return nil, fmt.Errorf("find identity: %w", err)
	}
	var email *string
	if e, err := normalizeEmail(prof.Email); err == nil && prof.EmailVerified {
		email = &e
	}
	var u *ent.User
	if email != nil { // the same verified address: the same person
		u, err = tx.User.Query().Where(user.Email(*email), user.DeletedAtIsNil()).Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return nil, fmt.Errorf("find user by email: %w", err)
		}
	}
	if u == nil {
		now := s.now()
		u, err = tx.User.Create().
			SetNillableEmail(email).
			SetNickname(oauthNickname(prof, name)).
			SetCreatedAt(now).
			SetUpdatedAt(now).
			Save(ctx)
		if ent.IsConstraintError(err) {
			return nil, ErrEmailTaken
		}
		if err != nil {
			return nil, fmt.Errorf("create user: %w", err)
		}
	}
	err = tx.Identity.Create().
		SetUserID(u.ID).
		SetProvider(name).
		SetSubject(prof.Subject).
		SetNillableEmail(email).
		SetCreatedAt(s.now()).
		Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("link identity: %w", err)
	}
	s.log.InfoContext(ctx, "provider identity linked", "user_id", u.ID, "provider", name)
	return u, nil
}

// oauthNickname is the provider's name for the user, fitted to chatty's
// rules, or a made-up one.
func oauthNickname(p oauthProfile, name identity.Provider) string {
	n := strings.TrimSpace(p.Nickname)
	if utf8.RuneCountInString(n) > MaxNicknameLen {
		n = string([]rune(n)[:MaxNicknameLen])
	}
	if nn, err := normalizeNickname(n); err == nil {
		return nn
	}
	sub := p.Subject
	if len(sub) > 8 {
		sub = sub[len(sub)-8:]
	}
	return strings.ToLower(string(name)) + "-" + sub // kakao-12345678
}
