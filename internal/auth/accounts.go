package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/friendship"
	"github.com/chatty/chatty/ent/identity"
	"github.com/chatty/chatty/ent/session"
	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/viewer"
)

// SignUpInput is a new email account.
type SignUpInput struct {
	Email, Password, Nickname string
	Bio                       *string
}

// SignUp creates an email account and signs it in.
func (s *Service) SignUp(ctx context.Context, in SignUpInput) (*Payload, error) {
	email, err := normalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if err := checkPasswordRules("password", in.Password); err != nil {
		return nil, err
	}
	nickname, err := normalizeNickname(in.Nickname)
	if err != nil {
		return nil, err
	}
	var bio *string
	if in.Bio != nil {
		if bio, err = normalizeBio(*in.Bio); err != nil {
			return nil, err
		}
	}
	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	var out *Payload
	err = database.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		now := s.now()
		u, err := tx.User.Create().
			SetEmail(email).
			SetPasswordHash(hash).
			SetNickname(nickname).
			SetNillableBio(bio).
			SetCreatedAt(now).
			SetUpdatedAt(now).
			Save(ctx)
		if ent.IsConstraintError(err) {
			return ErrEmailTaken
		}
		if err != nil {
			return fmt.Errorf("create user: %w", err)
		}
		out, err = s.startSession(ctx, tx, u)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "account created", "user_id", out.User.ID)
	return signedIn(ctx, out), nil
}

// SignIn checks an email and password and opens a session. Attempts are
// limited per client address, per account and address, and per account
// over all addresses (but from an address the account signed in from in
// the last 30 days): a client that exhausts its own limit for an account
// does not lock the owner out from elsewhere.
func (s *Service) SignIn(ctx context.Context, emailIn, password string) (*Payload, error) {
	now := s.now()
	ip := limitKey(viewer.ClientFromContext(ctx).IP)
	if ip != "" {
		if ok, wait := s.byClient.allow(ctx, ip, now); !ok {
			return nil, errSignInLimited(wait)
		}
	}
	email, err := normalizeEmail(emailIn)
	if err != nil {
		return nil, err
	}
	// The pair first: a refused attempt does not draw on the account's
	// ceiling, which is shared with the owner's other addresses.
	pair := email + "\x00" + ip
	if ok, wait := s.byAccountClient.allow(ctx, pair, now); !ok {
		return nil, errSignInLimited(wait)
	}
	// An address the account signed in from lately skips the account's
	// ceiling: guesses from many other addresses can exhaust that, and
	// would otherwise keep the owner out everywhere.
	if !s.knownClients.has(ctx, pair, now) {
		if ok, wait := s.byAccount.allow(ctx, email, now); !ok {
			return nil, errSignInLimited(wait)
		}
	}
	u, err := s.db.User.Query().Where(user.Email(email), user.DeletedAtIsNil()).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return nil, fmt.Errorf("find user: %w", err)
	}
	if u == nil || u.PasswordHash == nil {
		if _, err := s.check(ctx, password, s.dummyHash); err != nil { // same time as a wrong password
			return nil, err
		}
		return nil, ErrInvalidCredentials
	}
	ok, err := s.check(ctx, password, *u.PasswordHash)
	if err != nil {
		if apperr.KindOf(err) != "" {
			return nil, err
		}
		return nil, fmt.Errorf("check password of user %d: %w", u.ID, err)
	}
	if !ok {
		return nil, ErrInvalidCredentials
	}
	var out *Payload
	err = database.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		out, err = s.startSession(ctx, tx, u)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.knownClients.add(ctx, pair, now)
	return signedIn(ctx, out), nil
}

// User returns the live (not deleted) account with id, or nil.
func (s *Service) User(ctx context.Context, id int) (*ent.User, error) {
	u, err := s.db.User.Query().Where(user.ID(id), user.DeletedAtIsNil()).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load user %d: %w", id, err)
	}
	return u, nil
}

// viewerUser loads the viewer's account; ErrSessionEnded once it is deleted.
func viewerUser(ctx context.Context, c *ent.Client, v viewer.Viewer) (*ent.User, error) {
	u, err := c.User.Query().Where(user.ID(v.UserID), user.DeletedAtIsNil()).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrSessionEnded
	}
	if err != nil {
		return nil, fmt.Errorf("load user %d: %w", v.UserID, err)
	}
	return u, nil
}

// ProfileInput changes a profile; nil fields stay as they are. An empty
// bio clears it.
type ProfileInput struct {
	Nickname, Bio, Password, CurrentPassword *string
}

// UpdateProfile changes the viewer's profile. A new password needs the
// current one, and ends the viewer's other sessions.
func (s *Service) UpdateProfile(ctx context.Context, v viewer.Viewer, in ProfileInput) (*ent.User, error) {
	// A new password is checked and hashed before the transaction, so no
	// transaction waits for a hashing slot; the transaction then makes
	// sure the password checked is still the one stored.
	var checked, newHash string
	if in.Password != nil {
		u, err := viewerUser(ctx, s.db, v)
		if err != nil {
			return nil, err
		}
		if u.PasswordHash == nil {
			return nil, ErrNoPassword
		}
		if err := checkPasswordRules("password", *in.Password); err != nil {
			return nil, err
		}
		if in.CurrentPassword == nil || *in.CurrentPassword == "" {
			return nil, apperr.Input("currentPassword", "changing the password needs the current password")
		}
		if err := s.checkCurrent(ctx, u, *in.CurrentPassword, ErrWrongCurrentPassword); err != nil {
			return nil, err
		}
		if newHash, err = s.hash(ctx, *in.Password); err != nil {
			return nil, err
		}
		checked = *u.PasswordHash
	}
	var out *ent.User
	err := database.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		u, err := viewerUser(ctx, tx.Client(), v)
		if err != nil {
			return err
		}
		upd := tx.User.UpdateOne(u).SetUpdatedAt(s.now())
		if in.Nickname != nil {
			n, err := normalizeNickname(*in.Nickname)
			if err != nil {
				return err
			}
			upd.SetNickname(n)
		}
		if in.Bio != nil {
			b, err := normalizeBio(*in.Bio)
			if err != nil {
				return err
			}
			if b == nil {
				upd.ClearBio()
			} else {
				upd.SetBio(*b)
			}
		}
		if in.Password != nil {
			if u.PasswordHash == nil || *u.PasswordHash != checked {
				return ErrWrongCurrentPassword // changed meanwhile
			}
			upd.SetPasswordHash(newHash)
			if err := s.revokeSessions(ctx, tx, s.now(), session.HasUserWith(user.ID(u.ID)), session.IDNEQ(v.SessionID)); err != nil {
				return err
			}
		}
		out, err = upd.Save(ctx)
		if err != nil {
			return fmt.Errorf("update user %d: %w", u.ID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if in.Password != nil {
		s.sessionsEnded(ctx, v.UserID)
	}
	return out, nil
}

// DeletedNickname is what a deleted account is called from then on.
const DeletedNickname = "Deleted account"

// DeleteAccount soft-deletes the viewer's account: it can no longer sign
// in, its sessions end, its friendships end and its personal data (email,
// password, bio, avatar, provider links) is cleared; its messages stay. An
// email account must confirm with its password.
func (s *Service) DeleteAccount(ctx context.Context, v viewer.Viewer, password *string) error {
	// The password is checked before the transaction (no transaction waits
	// for a hashing slot), the transaction makes sure it is still the one.
	u, err := viewerUser(ctx, s.db, v)
	if err != nil {
		return err
	}
	var checked string
	if u.PasswordHash != nil {
		if password == nil || *password == "" {
			return apperr.Input("password", "deleting an email account needs its password")
		}
		if err := s.checkCurrent(ctx, u, *password, ErrWrongPassword); err != nil {
			return err
		}
		checked = *u.PasswordHash
	}
	err = database.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		u, err := viewerUser(ctx, tx.Client(), v)
		if err != nil {
			return err
		}
		if u.PasswordHash != nil && *u.PasswordHash != checked {
			return ErrWrongPassword // set or changed meanwhile
		}
		now := s.now()
		err = tx.User.UpdateOne(u).
			SetDeletedAt(now).
			SetUpdatedAt(now).
			SetNickname(DeletedNickname).
			ClearEmail().
			ClearPasswordHash().
			ClearBio().
			ClearAvatar().
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("delete user %d: %w", u.ID, err)
		}
		if _, err := tx.Identity.Delete().Where(identity.HasUserWith(user.ID(u.ID))).Exec(ctx); err != nil {
			return fmt.Errorf("unlink identities of user %d: %w", u.ID, err)
		}
		if _, err := tx.Friendship.Delete().Where(friendship.Or(friendship.RequesterID(u.ID), friendship.AddresseeID(u.ID))).Exec(ctx); err != nil {
			return fmt.Errorf("end friendships of user %d: %w", u.ID, err)
		}
		return s.revokeSessions(ctx, tx, now, session.HasUserWith(user.ID(u.ID)))
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "account deleted", "user_id", v.UserID)
	s.sessionsEnded(ctx, v.UserID)
	if s.opts.AccountDeleted != nil {
		// The account is gone: its files go too, even when the client has
		// hung up or the request's deadline has passed.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		s.opts.AccountDeleted(cctx, v.UserID)
	}
	return nil
}

// checkCurrent checks password against u's, answering wrong when it does not match.
func (s *Service) checkCurrent(ctx context.Context, u *ent.User, password string, wrong error) error {
	ok, err := s.check(ctx, password, *u.PasswordHash)
	if apperr.KindOf(err) != "" {
		return err
	}
	if err != nil {
		return fmt.Errorf("check password of user %d: %w", u.ID, err)
	}
	if !ok {
		return wrong
	}
	return nil
}
