package pubsub

import (
	"bytes"
	"context"
	"fmt"
)

// Memory is a Broker within one process: the default when chatty runs as a
// single instance. It starts no goroutines; Publish delivers to every
// subscriber's queue before it returns.
type Memory struct {
	hub *hub
}

var (
	_ Broker   = (*Memory)(nil)
	_ Audience = (*Memory)(nil)
)

// NewMemory returns an empty in-memory broker.
func NewMemory() *Memory { return &Memory{hub: newHub()} }

// Publish hands a copy of payload to every current subscriber of topic.
func (m *Memory) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pubsub: publish %q: %w", topic, err)
	}
	return m.hub.publish(topic, bytes.Clone(payload))
}

// Listened implements Audience.
func (m *Memory) Listened(topic string) bool { return m.hub.listened(topic) }

// Subscribe returns a live subscription to topic with room for buffer payloads.
func (m *Memory) Subscribe(ctx context.Context, topic string, buffer int) (*Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pubsub: subscribe %q: %w", topic, err)
	}
	return m.hub.subscribe(topic, buffer, nil)
}

// Close ends every subscription with ErrClosed. Later calls do nothing.
func (m *Memory) Close() error {
	m.hub.close()
	return nil
}
