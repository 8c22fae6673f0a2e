package server

import (
	"bytes"
	"math/rand/v2"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"

	"billing-api/gen/api"
	"billing-api/server/quota"
)

// The hand-written list encoder must produce the generated encoder's bytes for
// any object: field order, omitted fields, sorted map keys, HTML-safe and
// non-ASCII escaping, the trailing newline.
func TestQuotaListEncodingMatchesTheGeneratedEncoder(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	alphabet := []rune("aZ09-_./ <>&\"\\\n\té€💶\u2028\x00")
	word := func() string {
		rs := make([]rune, r.IntN(7))
		for i := range rs {
			rs[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(rs)
	}
	strMap := func() map[string]string {
		if r.IntN(3) == 0 {
			return nil
		}
		m := map[string]string{}
		for range r.IntN(20) {
			m[word()] = word()
		}
		return m
	}
	for n := range 500 {
		objs := make([]quota.Object, n%7)
		for i := range objs {
			o := quota.Object{
				UID: uuid.New(), TenantName: word(), Namespace: word(), Name: word(),
				Labels: strMap(), Annotations: strMap(), Disabled: r.IntN(2) == 0,
			}
			if r.IntN(2) == 0 {
				d := word()
				o.Description = &d
			}
			objs[i] = o
		}
		for _, status := range []bool{false, true} {
			items := make([]api.QuotaListResponseItem, len(objs))
			for i, o := range objs {
				items[i] = wireListItem(o, false, status)
			}
			want := httptest.NewRecorder()
			if err := (api.ListQuotas200JSONResponse{Items: &items, Errors: &[]api.SchemaErrorType{}}).VisitListQuotasResponse(want); err != nil {
				t.Fatal(err)
			}
			got := httptest.NewRecorder()
			if err := quotaListJSON(appendQuotaList(nil, objs, status)).VisitListQuotasResponse(got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
				t.Fatalf("status=%v:\n got  %s\n want %s", status, got.Body, want.Body)
			}
			if got.Code != want.Code || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
				t.Fatalf("got %d %q, want %d %q", got.Code, got.Header().Get("Content-Type"), want.Code, want.Header().Get("Content-Type"))
			}
		}
	}
}
