// Package chat is the domain of conversations: friends, rooms, messages,
// read state and notifications. It owns its transactions and hands events
// to a publisher after commit. It never imports gqlgen.
package chat

import (
	"log/slog"
	"sync"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/pubsub"
	"github.com/chatty/chatty/internal/ratelimit"
	"github.com/chatty/chatty/internal/upload"
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
	db       *ent.Client
	log      *slog.Logger
	pub      Publisher
	broker   pubsub.Broker
	presence Presence
	extra    []Publisher
	subs     activeSubs
	sessions sessionWatch
	turns    roomTurns
	sendTxs  sendTxs      // send transactions of several rooms (sendrooms.go)
	senders  knownSenders // who may skip the membership read before a send
	typing   typingGate
	// republish holds notifications to publish again after a broker outage.
	republish republish
	// typingTimeout: TypingTimeout unless set.
	typingTimeout time.Duration
	queue         int
	uploads       *upload.Service
	quota         int64 // bytes of files a user may keep; 0: DefaultUploadQuota
	now           func() time.Time

	// scripts: several statements a round trip (MySQL), for sends
	// (sendscript.go); nil: sends go through ent.
	scripts *database.Scripts

	dialect     string // dialect.MySQL or dialect.SQLite; see sqlDialect
	dialectOnce sync.Once
}

// Option configures a Service.
type Option func(*Service)

// WithPublisher hands committed events to p as well as to the broker.
func WithPublisher(p Publisher) Option { return func(s *Service) { s.extra = append(s.extra, p) } }

// WithSharedLimits counts the per-user subscription cap and the typing
// relay limit in Redis, across the instances of a deployment (default: on
// this instance).
func WithSharedLimits(r *ratelimit.Redis) Option {
	return func(s *Service) {
		s.subs.shared, s.typing.shared = r, r
		r.Holding(subsLimit+":", s.subs.refresh)
	}
}

// WithBroker carries live events between instances through b (default:
// an in-memory broker, for a single instance).
func WithBroker(b pubsub.Broker) Option { return func(s *Service) { s.broker = b } }

// WithSubscriberQueue sets how many events a live subscriber may fall
// behind before it is dropped (256).
func WithSubscriberQueue(n int) Option { return func(s *Service) { s.queue = n } }

// WithUploads stores files (sendFile, avatars) with u.
func WithUploads(u *upload.Service) Option { return func(s *Service) { s.uploads = u } }

// WithDialect tells the service its database's dialect (database.DB's
// Dialect); without it, the service asks the database once.
func WithDialect(d string) Option { return func(s *Service) { s.dialect = d } }

// WithScripts stores sends with sc (database.DB's Scripts, on MySQL): two
// round trips a transaction of sends instead of eight. Nil: through ent.
func WithScripts(sc *database.Scripts) Option { return func(s *Service) { s.scripts = sc } }

// WithPresence tracks live connections in p (default: in memory).
func WithPresence(p Presence) Option { return func(s *Service) { s.presence = p } }

// NewService returns the chat domain over db.
func NewService(db *ent.Client, log *slog.Logger, opts ...Option) *Service {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{db: db, log: log, now: func() time.Time { return time.Now().UTC() }, queue: defaultQueue}
	s.subs.log, s.typing.log = log, log
	for _, o := range opts {
		o(s)
	}
	if s.broker == nil {
		s.broker = pubsub.NewMemory()
	}
	if s.presence == nil {
		s.presence = NewMemoryPresence()
	}
	s.pub = multiPublisher(append([]Publisher{livePublisher{s}}, s.extra...))
	return s
}
