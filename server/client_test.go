package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"billing-api/gen/client"
)

// The Go client generated from the spec works against the server: the
// round trip of an SDK user.
func TestGeneratedClientRoundTrip(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	ts := httptest.NewServer(v.e)
	defer ts.Close()
	c, err := client.NewClientWithResponses(ts.URL, client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "APIToken "+tok)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	labels := map[string]string{"team": "web"}
	burst := int32(4)
	limits := map[string]client.QuotaRateLimitType{"listQuotas": {Rate: 2, Burst: &burst}}
	created, err := c.CreateQuotaWithResponse(ctx, "shop", client.QuotaCreateRequest{
		Metadata: client.SchemaObjectCreateMetaType{Name: "from-sdk", Labels: &labels},
		Spec:     client.SchemaquotaCreateSpecType{ApiLimits: &limits},
	})
	if err != nil || created.JSON200 == nil {
		t.Fatalf("create: %v %s", err, created.Body)
	}
	if created.JSON200.SystemMetadata.Uid == nil {
		t.Fatal("no uid")
	}
	filter := "team=web"
	list, err := c.ListQuotasWithResponse(ctx, "shop", &client.ListQuotasParams{LabelFilter: &filter})
	if err != nil || list.JSON200 == nil || len(*list.JSON200.Items) != 1 {
		t.Fatalf("list: %v %s", err, list.Body)
	}
	lim, err := c.GetQuotaLimitsWithResponse(ctx, "shop")
	if err != nil || lim.JSON200 == nil || (*lim.JSON200.Apis)["listQuotas"].Rate != 2 {
		t.Fatalf("limits: %v %s", err, lim.Body)
	}
	// Real clients delete with no body.
	del, err := c.DeleteQuotaWithBodyWithResponse(ctx, "shop", "from-sdk", "application/json", nil)
	if err != nil || del.StatusCode() != http.StatusOK || string(del.Body) != "{}\n" {
		t.Fatalf("delete: %v %d %q", err, del.StatusCode(), del.Body)
	}
	missing, err := c.GetQuotaWithResponse(ctx, "shop", "from-sdk", nil)
	if err != nil || missing.JSON404 == nil || missing.JSON404.Code != "ENOTFOUND" {
		t.Fatalf("get after delete: %v %s", err, missing.Body)
	}
}
