package store

import (
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
)

// unmarshalMap decodes a nullable JSON object column; NULL stays nil (the
// client did not send it).
//
// Label and annotation columns hold flat objects of plain strings, and a list
// reads a hundred of them per request, so the common shape is parsed here
// without reflection: one string allocation for the column, keys and values
// sliced from it. Anything else (escapes, other value types, duplicate keys,
// invalid UTF-8) goes to the general decoder, which decides.
func unmarshalMap(raw []byte, m *map[string]string) error {
	if raw == nil || string(raw) == "null" {
		return nil
	}
	if out, ok := parseStringObject(raw); ok {
		*m = out
		return nil
	}
	return jsonv2.Unmarshal(raw, m)
}

// parseStringObject parses raw when it is a JSON object whose members are all
// strings without escape sequences; ok is false for anything else.
func parseStringObject(raw []byte) (out map[string]string, ok bool) {
	if !utf8.Valid(raw) {
		return nil, false
	}
	s := string(raw)
	i := skipSpace(s, 0)
	if i == len(s) || s[i] != '{' {
		return nil, false
	}
	members := 0
	for j := 0; j < len(s); j++ {
		if s[j] == ':' {
			members++
		}
	}
	out = make(map[string]string, members)
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return out, skipSpace(s, i+1) == len(s)
	}
	for {
		var k, v string
		if k, i, ok = plainString(s, i); !ok {
			return nil, false
		}
		if i = skipSpace(s, i); i == len(s) || s[i] != ':' {
			return nil, false
		}
		if v, i, ok = plainString(s, skipSpace(s, i+1)); !ok {
			return nil, false
		}
		if _, dup := out[k]; dup {
			return nil, false
		}
		out[k] = v
		if i = skipSpace(s, i); i == len(s) {
			return nil, false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			return out, skipSpace(s, i+1) == len(s)
		default:
			return nil, false
		}
	}
}

// plainString reads the JSON string starting at s[i] when it has no escape
// sequences, returning its contents and the index after the closing quote.
func plainString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", i, false
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return s[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return "", j, false
		}
	}
	return "", len(s), false
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}
