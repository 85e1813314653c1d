package auth

import (
	"context"
	"fmt"

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
	hash := hashPassword(in.Password, s.opts.Password)
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
// limited per account and per client address.
func (s *Service) SignIn(ctx context.Context, emailIn, password string) (*Payload, error) {
	now := s.now()
	if ip := viewer.ClientFromContext(ctx).IP; ip != "" && !s.byClient.allow(ip, now) {
		return nil, ErrRateLimited
	}
	email, err := normalizeEmail(emailIn)
	if err != nil {
		return nil, err
	}
	if !s.byAccount.allow(email, now) {
		return nil, ErrRateLimited
	}
	u, err := s.db.User.Query().Where(user.Email(email), user.DeletedAtIsNil()).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return nil, fmt.Errorf("find user: %w", err)
	}
	if u == nil || u.PasswordHash == nil {
		_, _ = checkPassword(password, s.dummyHash) // same time as a wrong password
		return nil, ErrInvalidCredentials
	}
	ok, err := checkPassword(password, *u.PasswordHash)
	if err != nil {
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
			if u.PasswordHash == nil {
				return ErrNoPassword
			}
			if err := checkPasswordRules("password", *in.Password); err != nil {
				return err
			}
			if in.CurrentPassword == nil || *in.CurrentPassword == "" {
				return apperr.Input("currentPassword", "changing the password needs the current password")
			}
			ok, err := checkPassword(*in.CurrentPassword, *u.PasswordHash)
			if err != nil {
				return fmt.Errorf("check password of user %d: %w", u.ID, err)
			}
			if !ok {
				return ErrWrongCurrentPassword
			}
			upd.SetPasswordHash(hashPassword(*in.Password, s.opts.Password))
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
	err := database.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		u, err := viewerUser(ctx, tx.Client(), v)
		if err != nil {
			return err
		}
		if u.PasswordHash != nil {
			if password == nil || *password == "" {
				return apperr.Input("password", "deleting an email account needs its password")
			}
			ok, err := checkPassword(*password, *u.PasswordHash)
			if err != nil {
				return fmt.Errorf("check password of user %d: %w", u.ID, err)
			}
			if !ok {
				return ErrWrongPassword
			}
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
		s.opts.AccountDeleted(ctx, v.UserID)
	}
	return nil
}
