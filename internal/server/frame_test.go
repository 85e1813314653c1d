package server

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The frames the WebSocket transport puts together read, to a JSON
// reader, as json.Marshal's of the same message.
func TestFramesReadAsJSONMarshal(t *testing.T) {
	type message struct {
		Payload json.RawMessage `json:"payload,omitempty"`
		ID      string          `json:"id,omitempty"`
		Type    string          `json:"type"`
	}
	data, _ := json.Marshal(map[string]any{"messageAdded": map[string]any{"body": "<b>&\u2028 \"quoted\" é 😀"}})
	yes := true
	for _, resp := range []*graphql.Response{
		{Data: data},
		{},
		{Data: data, Errors: gqlerror.List{{Message: "half <wrong>", Extensions: map[string]any{"code": "X"}}}},
		{Data: data, HasNext: &yes},
		{Errors: gqlerror.List{{Message: "all wrong"}}},
	} {
		payload, err := encodeResponse(resp)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(resp)
		sameJSON(t, payload, want)
		for _, id := range []string{"op-1", "with \"quotes\" <and> \u2028", ""} {
			want, _ := json.Marshal(message{Payload: want, ID: id, Type: "next"})
			sameJSON(t, appendFrame(nil, "next", id, payload), want)
		}
	}
	want, _ := json.Marshal(message{Type: "connection_ack"})
	sameJSON(t, appendFrame(nil, "connection_ack", "", nil), want)
}

func sameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s is not JSON: %v", got, err)
	}
	_ = json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got %s, want %s", got, want)
	}
}

// BenchmarkNextFrame: one subscriber's next frame, put together by the
// transport and by json.Marshal as gqlgen's transport did.
func BenchmarkNextFrame(b *testing.B) {
	data, _ := json.Marshal(map[string]any{"messageAdded": map[string]any{"id": "12884901889", "seq": 42, "body": "hello there, how are you?"}})
	resp := &graphql.Response{Data: data}
	b.Run("transport", func(b *testing.B) {
		for b.Loop() {
			p, _ := encodeResponse(resp)
			_ = appendFrame(make([]byte, 0, len(p)+40), "next", "1", p)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			p, _ := json.Marshal(resp)
			_, _ = json.Marshal(struct {
				Payload json.RawMessage `json:"payload,omitempty"`
				ID      string          `json:"id,omitempty"`
				Type    string          `json:"type"`
			}{p, "1", "next"})
		}
	})
}
