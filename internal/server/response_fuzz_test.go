package server

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// A response's data, as gqlgen writes it, goes out byte for byte as
// json.Marshal would write it (compact, <, >, &, U+2028 and U+2029
// escaped).
func FuzzResponseBytes(f *testing.F) {
	for _, s := range []string{"", "plain", "<b>&</b>", "\u2028\u2029", "… € ’", "한국어 😀", "\\\"", "\x00\x1f", "\xe2\x80", "\xe2\x80\xa8\xe2", "bad \xff utf-8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var field bytes.Buffer
		graphql.MarshalString(s).MarshalGQL(&field)
		data := []byte(`{"body":` + field.String() + `,"n":[1,2.5,null,true]}`)
		want, err := json.Marshal(json.RawMessage(data))
		if err != nil {
			t.Skip("not JSON: gqlgen would not write it")
		}
		got := data
		if htmlEscaped(data) {
			got = appendEscaped(nil, data)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%q: wrote %s, json.Marshal %s", s, got, want)
		}
	})
}
