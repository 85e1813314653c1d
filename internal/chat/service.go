// Package chat is the domain of conversations: friends, rooms, messages,
// read state and notifications. It owns its transactions and hands events
// to a publisher after commit. It never imports gqlgen.
package chat

import (
	"log/slog"
	"time"

	"github.com/chatty/chatty/ent"
)

// Limits of the chat domain.
const (
	MaxBodyLen      = 4000 // characters of a message
	MaxClientIDLen  = 64
	MaxRoomNameLen  = 100
	MaxRoomMembers  = 500
	MaxAddAtOnce    = 100
	defaultNameList = 3 // members named in an unnamed group's name
)

// Service is the chat domain over a database.
type Service struct {
	db  *ent.Client
	log *slog.Logger
	pub Publisher
	now func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithPublisher hands committed events to p.
func WithPublisher(p Publisher) Option { return func(s *Service) { s.pub = p } }

// NewService returns the chat domain over db.
func NewService(db *ent.Client, log *slog.Logger, opts ...Option) *Service {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{db: db, log: log, pub: discard{}, now: func() time.Time { return time.Now().UTC() }}
	for _, o := range opts {
		o(s)
	}
	return s
}
