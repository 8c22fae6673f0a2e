package usage

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Series identifies one line of usage_details: a usage type on one object
// in one namespace of a tenant.
type Series struct {
	Namespace  string `json:"n"`
	UsageType  string `json:"u"`
	ObjectName string `json:"o"`
}

// BreakdownQuery is what an hourly_breakdown_query carries: the series and
// the window of the line it came with, signed together with the tenant it
// was issued to (the tenant is in the signature, not in the text, which
// keeps the query short). Clients pass it back unchanged; it can be neither
// forged, altered, nor used by another tenant.
type BreakdownQuery struct {
	Version int       `json:"v"`
	KeyID   int64     `json:"k"`
	Tenant  uuid.UUID `json:"-"`
	Series
	From int64 `json:"f"`
	To   int64 `json:"e"`
	// Offset is the first hour of the page, counted from From.
	Offset int `json:"p,omitempty"`
}

// Window is the query's window.
func (q BreakdownQuery) Window() Window {
	return Window{From: time.Unix(q.From, 0).UTC(), To: time.Unix(q.To, 0).UTC()}
}

// SigningKey is a server secret that signs breakdown queries.
type SigningKey struct {
	ID     int64
	Secret []byte
}

// b64 is strict: a query has exactly one spelling.
var b64 = base64.RawURLEncoding.Strict()

// macSize is how much of the HMAC-SHA256 a query carries: 128 bits, well
// above the 64 that truncated HMACs need to resist forgery.
const macSize = 16

// encode renders q as base64url(JSON) "." base64url(MAC), the MAC being
// HMAC-SHA256 over the tenant's 16 bytes and the JSON, truncated to macSize.
func (q BreakdownQuery) encode(k SigningKey) string {
	return newSigner(k)(q)
}

// newSigner returns a function encoding queries under k, with one HMAC
// state for all of them (a request signs a query per usage line).
func newSigner(k SigningKey) func(BreakdownQuery) string {
	mac := hmac.New(sha256.New, k.Secret)
	var sum [sha256.Size]byte
	return func(q BreakdownQuery) string {
		q.Version, q.KeyID = 1, k.ID
		payload, _ := json.Marshal(q) // plain struct: cannot fail
		mac.Reset()
		mac.Write(q.Tenant[:])
		mac.Write(payload)
		return b64.EncodeToString(payload) + "." + b64.EncodeToString(mac.Sum(sum[:0])[:macSize])
	}
}

// decodeUnverified splits and parses s, returning the payload and MAC for
// verify; ok is false when s is not shaped like a query at all.
func decodeUnverified(s string) (q BreakdownQuery, payload, sum []byte, ok bool) {
	// Go's base64 decoders skip CR and LF even when strict: with them a
	// signed query would have other spellings that open.
	if strings.ContainsAny(s, "\r\n") {
		return q, nil, nil, false
	}
	p, m, found := strings.Cut(s, ".")
	if !found {
		return q, nil, nil, false
	}
	payload, err1 := b64.DecodeString(p)
	sum, err2 := b64.DecodeString(m)
	if err1 != nil || err2 != nil || len(sum) != macSize {
		return q, nil, nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil || q.Version != 1 {
		return q, nil, nil, false
	}
	return q, payload, sum, true
}

// verify reports whether sum is the MAC of payload issued to tenant under k.
func verify(k SigningKey, tenant uuid.UUID, payload, sum []byte) bool {
	mac := hmac.New(sha256.New, k.Secret)
	mac.Write(tenant[:])
	mac.Write(payload)
	return hmac.Equal(mac.Sum(nil)[:macSize], sum)
}
