package store

import (
	"encoding/json"
	"maps"
	"math/rand/v2"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
)

// The fast path must agree with the general decoder on every input: same map
// or an error from both.
func checkMapDecoding(t *testing.T, raw []byte) {
	t.Helper()
	var want map[string]string
	wantErr := jsonv2.Unmarshal(raw, &want)
	var got map[string]string
	gotErr := unmarshalMap(raw, &got)
	if (wantErr != nil) != (gotErr != nil) || wantErr == nil && (!maps.Equal(got, want) || (got == nil) != (want == nil)) {
		t.Fatalf("%q: got %v (%v), the general decoder %v (%v)", raw, got, gotErr, want, wantErr)
	}
}

func TestStringMapsDecodeLikeTheGeneralDecoder(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		`{}`, ` { } `, `{"a":"b"}`, `{"a": "b", "cc": "d"}`, "{\n\t\"k\" : \"v\" ,\"x\":\"\"}\n",
		`{"a":"b","a":"c"}`, `{"a":"\u00e9"}`, `{"a":"tab\there"}`, `{"a":1}`, `{"a":null}`, `{"a":"b",}`,
		`{"a":"b"`, `{"a" "b"}`, `{"a":"b"}x`, `[]`, `{"é":"ü"}`, "{\"a\":\"\xff\"}", `{"a":"b\"c"}`,
		`{"a":"b"} {}`, `{`, `{"a`, `{"a":`, `{"a":"`, `{"a":"b",`, `{"<&>":"\u2028"}`,
	} {
		checkMapDecoding(t, []byte(raw))
	}
	// What the stores hold: maps encoded by encoding/json, and PostgreSQL's
	// jsonb rendering of them (": " and ", " separators).
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("ab-_.:/<>&\"\\ é\t\u2028💶")
	word := func() string {
		rs := make([]rune, r.IntN(6))
		for i := range rs {
			rs[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(rs)
	}
	for range 2000 {
		m := map[string]string{}
		for range r.IntN(8) {
			m[word()] = word()
		}
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		checkMapDecoding(t, raw)
		var spaced []byte
		for _, c := range raw {
			spaced = append(spaced, c)
			if c == ',' || c == ':' {
				spaced = append(spaced, ' ')
			}
		}
		checkMapDecoding(t, spaced)
	}
}

func FuzzStringMapDecoding(f *testing.F) {
	f.Add([]byte(`{"a": "b", "cc": "d"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) { checkMapDecoding(t, raw) })
}

func BenchmarkStringMapDecoding(b *testing.B) {
	raw := []byte(`{"app": "shop", "env": "production", "team": "payments", "tier": "gold"}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]string
			_ = unmarshalMap(raw, &m)
		}
	})
	b.Run("general", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]string
			_ = jsonv2.Unmarshal(raw, &m)
		}
	})
}
