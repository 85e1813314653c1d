// Package chat is the domain of conversations: friends, rooms, messages,
// read state and notifications. It owns its transactions and hands events
// to a publisher after commit. It never imports gqlgen.
package chat

import (
	"log/slog"

	"github.com/chatty/chatty/ent"
)

// Service is the chat domain over a database.
type Service struct {
	db  *ent.Client
	log *slog.Logger
}

// NewService returns the chat domain over db.
func NewService(db *ent.Client, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{db: db, log: log}
}
