package auth

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// hashGate bounds how many password hashes run at once. argon2id takes
// PasswordParams.Memory (19 MiB by default) for each hash, so a burst of
// sign-ups or sign-ins must queue for a slot rather than allocate; a
// request that cannot get one within wait is answered ErrPasswordBusy
// (RATE_LIMITED, retry in a second) instead of piling up.
type hashGate struct {
	slots   chan struct{}
	wait    time.Duration
	onHash  func() (done func())
	running atomic.Int64
	waiting atomic.Int64
}

func newHashGate(n int, wait time.Duration, onHash func() func()) *hashGate {
	return &hashGate{slots: make(chan struct{}, n), wait: wait, onHash: onHash}
}

// do runs fn in a slot, waiting for one at most g.wait or until ctx ends.
func (g *hashGate) do(ctx context.Context, fn func()) error {
	select {
	case g.slots <- struct{}{}:
	default:
		if err := g.queue(ctx); err != nil {
			return err
		}
	}
	defer func() { <-g.slots }()
	g.running.Add(1)
	defer g.running.Add(-1)
	if g.onHash != nil {
		defer g.onHash()()
	}
	fn()
	return nil
}

func (g *hashGate) queue(ctx context.Context) error {
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrPasswordBusy
	case <-ctx.Done():
		return fmt.Errorf("wait to hash a password: %w", ctx.Err())
	}
}

// hash returns the PHC string of password, computed in a slot.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	var h string
	if err := s.hashes.do(ctx, func() { h = hashPassword(password, s.opts.Password) }); err != nil {
		return "", err
	}
	return h, nil
}

// check reports whether password matches encoded, computed in a slot.
func (s *Service) check(ctx context.Context, password, encoded string) (bool, error) {
	var (
		ok  bool
		err error
	)
	if gerr := s.hashes.do(ctx, func() { ok, err = checkPassword(password, encoded) }); gerr != nil {
		return false, gerr
	}
	return ok, err
}

// PasswordHashes says how many password hashes are running now and how
// many requests wait for a slot (for metrics and tests).
func (s *Service) PasswordHashes() (running, waiting int) {
	return int(s.hashes.running.Load()), int(s.hashes.waiting.Load())
}
