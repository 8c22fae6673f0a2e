package server

import (
	"bytes"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"billing-api/gen/api"
	"billing-api/server/usage"
)

// The hand-written usage_details encoder writes the generated encoder's
// bytes for any lines: names with HTML-sensitive, non-ASCII and control
// characters, quantities from a millionth to a billion, any hour.
func TestUsageDetailsEncodingMatchesTheGeneratedEncoder(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(21, 22))
	alphabet := []rune("aZ09-_./ <>&\"\\\té€💶\u2028")
	word := func() string {
		rs := make([]rune, 1+r.IntN(12))
		for i := range rs {
			rs[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(rs)
	}
	for n := range 300 {
		lines := make([]usage.DetailLine, n%9)
		for i := range lines {
			from := time.Unix(1_700_000_000+int64(r.IntN(100_000))*3600, 0).UTC().Truncate(time.Hour)
			q := usage.Quantity(r.Int64N(1e15))
			switch r.IntN(4) {
			case 0:
				q = usage.Quantity(r.IntN(3))
			case 1:
				q = usage.Quantity(r.Int64N(1_000_000)) * usage.QuantityScale
			}
			lines[i] = usage.DetailLine{
				Series: usage.Series{Namespace: word(), UsageType: word(), ObjectName: word()},
				Unit:   word(), Quantity: q, Query: word() + "." + word(),
				Window: usage.Window{From: from, To: from.Add(time.Duration(1+r.IntN(9000)) * time.Hour)},
			}
		}
		want := httptest.NewRecorder()
		if err := (api.ListUsageDetails200JSONResponse{UsageItems: ptr(mapSlice(lines, wireDetailLine))}).VisitListUsageDetailsResponse(want); err != nil {
			t.Fatal(err)
		}
		got := httptest.NewRecorder()
		if err := usageDetailsJSON(appendUsageDetails(nil, lines)).VisitListUsageDetailsResponse(got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Fatalf("got  %s\nwant %s", got.Body, want.Body)
		}
		if got.Code != want.Code || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
			t.Fatalf("status or content type differ")
		}
	}
}
