package usage

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
)

// The keys and tenants the breakdown fuzz targets sign and open with: two
// live keys (a rotation) and two tenants.
var (
	fuzzKeys = []SigningKey{
		{ID: 1, Secret: []byte("0123456789abcdef0123456789abcdef")},
		{ID: 2, Secret: []byte("fedcba9876543210fedcba9876543210")},
	}
	fuzzTenant      = uuid.MustParse("6f1c2a9e-0b7d-4c3e-9a51-2d8e4f6b7c10")
	fuzzOtherTenant = uuid.MustParse("0d3b5f7a-9c1e-4a2b-8d6f-1e3c5a7b9d20")
)

// openQuery is Service.openQuery without the store: decode, find the key
// the query names, verify the MAC for the tenant.
func openQuery(raw string, tenant uuid.UUID, keys []SigningKey) (BreakdownQuery, bool) {
	q, payload, sum, ok := decodeUnverified(raw)
	if !ok {
		return q, false
	}
	for _, k := range keys {
		if k.ID == q.KeyID {
			if !verify(k, tenant, payload, sum) {
				return q, false
			}
			q.Tenant = tenant
			return q, true
		}
	}
	return q, false
}

// FuzzBreakdownQueryOpen opens arbitrary text as a breakdown query. Nothing
// panics, and a text opens only if it is exactly what the signer issued to
// that tenant: signing what it carries under its key gives it back byte for
// byte. Then it opens for no other tenant.
func FuzzBreakdownQueryOpen(f *testing.F) {
	q := BreakdownQuery{Tenant: fuzzTenant, Series: Series{Namespace: "shop", UsageType: "lb_http_requests", ObjectName: "web"}, From: 1764000000, To: 1764086400}
	for _, k := range fuzzKeys {
		f.Add(q.encode(k))
	}
	paged := q
	paged.Offset = 24
	f.Add(paged.encode(fuzzKeys[0]))
	odd := BreakdownQuery{Tenant: fuzzTenant, Series: Series{Namespace: "a\"b", UsageType: "<&>", ObjectName: "é\u2028"}, From: -1, To: 1 << 40}
	f.Add(odd.encode(fuzzKeys[1]))
	other := q
	other.Tenant = fuzzOtherTenant
	f.Add(other.encode(fuzzKeys[0]))
	for _, s := range []string{
		"", ".", "..", "a.b", "e30.AAAAAAAAAAAAAAAAAAAAAA", // {} with a zero MAC
		"eyJ2IjoxLCJrIjoxfQ.AAAAAAAAAAAAAAAAAAAAAA",         // {"v":1,"k":1}
		"eyJ2IjoyLCJrIjoxfQ.AAAAAAAAAAAAAAAAAAAAAA",         // version 2
		"eyJ2IjoxLCJrIjoxfQ==.AAAAAAAAAAAAAAAAAAAAAA",       // padded base64
		"eyJ2IjoxLCJrIjoxfQ.AAAAAAAAAAAAAAAAAAAAAAA",        // a MAC one character long
		"eyJ2IjoxLCJrIjoxLCJ4IjoxfQ.AAAAAAAAAAAAAAAAAAAAAA", // an unknown field
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, tenant := range []uuid.UUID{fuzzTenant, fuzzOtherTenant} {
			got, ok := openQuery(raw, tenant, fuzzKeys)
			if !ok {
				continue
			}
			if got.Version != 1 {
				t.Fatalf("%q opened with version %d", raw, got.Version)
			}
			k := fuzzKeys[got.KeyID-1]
			if again := got.encode(k); again != raw {
				t.Fatalf("%q opened, but what it carries signs as %q: only the signer's exact text may open", raw, again)
			}
			other := fuzzOtherTenant
			if tenant == fuzzOtherTenant {
				other = fuzzTenant
			}
			if _, ok := openQuery(raw, other, fuzzKeys); ok {
				t.Fatalf("%q opens for two tenants", raw)
			}
		}
	})
}

// FuzzBreakdownQueryRoundTrip signs arbitrary queries: each opens for its
// tenant, under its key, to the same query; not for another tenant, not
// under another secret, and not once any one character is changed.
func FuzzBreakdownQueryRoundTrip(f *testing.F) {
	f.Add("shop", "lb_http_requests", "web", int64(1764000000), int64(1764086400), 0, int64(1), []byte("0123456789abcdef0123456789abcdef"), []byte(fuzzTenant[:]))
	f.Add("system", "waap_requests", "", int64(0), int64(3600), 5, int64(9), []byte{}, []byte{})
	f.Add("a\"b\\", "<&>", "é\u2028💶", int64(-1<<62), int64(1<<62), -3, int64(-7), []byte("k"), []byte("tenant-ish bytes"))
	f.Add("bad\xff", "\x00", "x", int64(1), int64(2), 1, int64(0), bytes.Repeat([]byte{0}, 65), []byte{1})
	f.Fuzz(func(t *testing.T, ns, usageType, object string, from, to int64, offset int, keyID int64, secret, tenantBytes []byte) {
		var tenant uuid.UUID
		copy(tenant[:], tenantBytes)
		other := tenant
		other[0] ^= 1
		k := SigningKey{ID: keyID, Secret: secret}
		// A secret that HMAC cannot confuse with k's (it pads short keys with zeros).
		wrongKey := SigningKey{ID: keyID, Secret: append(bytes.Clone(secret), 1)}
		q := BreakdownQuery{Tenant: tenant, Series: Series{Namespace: ns, UsageType: usageType, ObjectName: object}, From: from, To: to, Offset: offset}
		raw := q.encode(k)
		got, ok := openQuery(raw, tenant, []SigningKey{k})
		if !ok {
			t.Fatalf("%+v signed as %q does not open", q, raw)
		}
		want := q
		want.Version, want.KeyID = 1, keyID
		// Series come from stored usage, which is valid UTF-8 (the API refuses
		// anything else); JSON cannot carry other bytes unchanged.
		if !utf8.ValidString(ns) || !utf8.ValidString(usageType) || !utf8.ValidString(object) {
			want.Series = got.Series
		}
		if got != want {
			t.Fatalf("signed %+v, opened %+v", want, got)
		}
		if _, ok := openQuery(raw, other, []SigningKey{k}); ok {
			t.Fatalf("%q opens for another tenant", raw)
		}
		if _, ok := openQuery(raw, tenant, []SigningKey{wrongKey}); ok {
			t.Fatalf("%q opens under another secret", raw)
		}
		for _, i := range []int{0, len(raw) / 2, len(raw) - 1, int(uint(offset) % uint(len(raw)))} {
			b := []byte(raw)
			b[i] ^= 1
			if _, ok := openQuery(string(b), tenant, []SigningKey{k}); ok {
				t.Fatalf("%q with character %d changed (%q) still opens", raw, i, b)
			}
		}
	})
}
