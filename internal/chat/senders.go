package chat

import (
	"sync"
	"time"
)

// knownSenders remembers, for a while, who sent a message to a room
// lately: they need no membership read before the room's turn. The check
// that counts is made under the room's lock (claimSeq); the read before it
// only spares someone who is not a member (any more) a wait for the lock.
// So only success is remembered, and a stale entry (a member who left
// through another instance) costs that user a wait for the lock, then the
// same refusal. This instance forgets a room's senders when its members or
// blocks change.
type knownSenders struct {
	mu sync.Mutex
	m  map[[2]int]time.Time // (room, user) → until
}

// knownSenderTTL is how long a sender stays remembered.
const knownSenderTTL = time.Minute

func (k *knownSenders) known(roomID, userID int, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	until, ok := k.m[[2]int{roomID, userID}]
	return ok && now.Before(until)
}

func (k *knownSenders) remember(roomID, userID int, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[[2]int]time.Time{}
	}
	if len(k.m) >= 16384 { // sweep what has expired, or everything
		for key, until := range k.m {
			if !now.Before(until) {
				delete(k.m, key)
			}
		}
		if len(k.m) >= 16384 {
			clear(k.m)
		}
	}
	k.m[[2]int{roomID, userID}] = now.Add(knownSenderTTL)
}

// forgetRoom forgets the senders of room roomID.
func (k *knownSenders) forgetRoom(roomID int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for key := range k.m {
		if key[0] == roomID {
			delete(k.m, key)
		}
	}
}
