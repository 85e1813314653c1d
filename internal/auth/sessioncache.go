package auth

import (
	"sync"
	"time"
)

// SessionCheckTTL is how long a session found open stays trusted without
// reading it again. This instance forgets a user's sessions at once when
// it ends any of them (sign-out, a reused refresh token, a password change,
// account deletion); a session ended through another instance is refused
// here at most this long after, and open WebSockets check theirs from the
// database when told (Recheck), never from here.
const SessionCheckTTL = time.Second

// sessionCache remembers the sessions recently found open, so that a
// client's requests in a burst (a send costs a handful of statements)
// don't each read its session.
type sessionCache struct {
	mu sync.Mutex
	// epoch moves with every forget: a check that read the database
	// before a session ended must not store what it read after.
	epoch uint64
	open  map[int]cachedSession // by session id
}

type cachedSession struct {
	userID int
	until  time.Time
}

// lookup reports whether session sessionID of userID was found open
// lately, and the epoch to store a new finding with.
func (c *sessionCache) lookup(sessionID, userID int, now time.Time) (ok bool, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.open[sessionID]
	return found && e.userID == userID && now.Before(e.until), c.epoch
}

// store remembers that the session was open at now (until expires at the
// latest), unless something was forgotten since epoch.
func (c *sessionCache) store(sessionID, userID int, now, expires time.Time, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	if c.open == nil {
		c.open = map[int]cachedSession{}
	}
	if len(c.open) >= 4096 { // sweep what has expired
		for id, e := range c.open {
			if !now.Before(e.until) {
				delete(c.open, id)
			}
		}
	}
	until := now.Add(SessionCheckTTL)
	if expires.Before(until) {
		until = expires
	}
	c.open[sessionID] = cachedSession{userID: userID, until: until}
}

// forgetUser drops every remembered session of userID (0: of everyone).
func (c *sessionCache) forgetUser(userID int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for id, e := range c.open {
		if userID == 0 || e.userID == userID {
			delete(c.open, id)
		}
	}
}

// forget drops session sessionID.
func (c *sessionCache) forget(sessionID int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	delete(c.open, sessionID)
}
