package server

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A frame of gqlgen's shape, put together by encodeFrame, is byte for
// byte what json.Marshal makes of it; other values go through json.Marshal.
func TestEncodeFrameAsJSONMarshal(t *testing.T) {
	type kind string
	type frame struct {
		Payload json.RawMessage `json:"payload,omitempty"`
		ID      string          `json:"id,omitempty"`
		Type    kind            `json:"type"`
		noOp    bool
	}
	type other struct {
		Payload json.RawMessage `json:"data"`
		ID      string          `json:"id,omitempty"`
		Type    string          `json:"type"`
	}
	payload, _ := json.Marshal(map[string]any{"data": map[string]any{"body": "<b>&\u2028 \"quoted\" é 😀"}})
	for _, v := range []any{
		&frame{Payload: payload, ID: "op-1", Type: "next"},
		&frame{Payload: payload, ID: "with \"quotes\" <and> \u2028", Type: "next"},
		&frame{Type: "connection_ack"},
		&frame{Payload: json.RawMessage{}, ID: "", Type: "pong"},
		&frame{ID: "1", Type: "complete"},
		// gqlgen's pong echoes the client's ping payload as it came.
		&frame{Payload: json.RawMessage(`{ "a" : "<b>& " }`), Type: "pong"},
		&other{Payload: payload, ID: "1", Type: "next"},
		map[string]any{"type": "error", "id": "1", "payload": []any{map[string]any{"message": "x"}}},
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeFrame(v)
		if err != nil || string(got) != string(want) {
			t.Errorf("encodeFrame(%#v) = %s, %v; json.Marshal: %s", v, got, err, want)
		}
	}
	if !isGQLFrame(reflect.TypeFor[frame]()) || isGQLFrame(reflect.TypeFor[other]()) {
		t.Fatal("shape check wrong")
	}
}

// BenchmarkEncodeFrame: one subscriber's next frame, by encodeFrame and
// by json.Marshal (what WriteJSON did before).
func BenchmarkEncodeFrame(b *testing.B) {
	type kind string
	type frame struct {
		Payload json.RawMessage `json:"payload,omitempty"`
		ID      string          `json:"id,omitempty"`
		Type    kind            `json:"type"`
		noOp    bool
	}
	payload, _ := json.Marshal(map[string]any{"data": map[string]any{"messageAdded": map[string]any{
		"id": "17179869186", "seq": 1234, "body": "a message of a few words, as people send them", "createdAt": "2026-11-30T09:31:30.123456Z",
		"sender": map[string]any{"id": "4294967297", "nickname": "someone"}, "room": map[string]any{"id": "8589934593", "name": "the room"}}}})
	f := &frame{Payload: payload, ID: "1", Type: "next"}
	b.Run("encodeFrame", func(b *testing.B) {
		for b.Loop() {
			_, _ = encodeFrame(f)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(f)
		}
	})
}
