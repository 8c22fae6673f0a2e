package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/riverqueue/river/rivertype"

	"billing-api/server/invoice"
)

// River's web UI is served under /admin/jobs to the operator only: the
// token as the password a browser asks for (HTTP Basic) or as a bearer
// token. It lists the jobs the service queued, and its actions change
// them — but not from another site's page.
func TestOperatorsSeeJobsInRiversWebUI(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tenantTok := v.tenant("acme")
	ctx := context.Background()
	// A collection queued (nothing works jobs in this test: it waits).
	if err := v.app.Jobs.Collect(ctx, invoice.Invoice{TenantID: uuid.New(), Number: "INV-acme-000001", Round: 1}); err != nil {
		t.Fatal(err)
	}
	send := func(method, path, body string, header ...string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		v.e.ServeHTTP(rec, req)
		return rec
	}
	basic := func(password string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.SetBasicAuth("ops", password)
		return r
	}

	for name, auth := range map[string]string{
		"no credentials":  "",
		"a wrong token":   basic("nope").Header.Get("Authorization"),
		"a tenant token":  "APIToken " + tenantTok,
		"tenant as basic": basic(tenantTok).Header.Get("Authorization"),
	} {
		rec := send(http.MethodGet, "/admin/jobs/", "", "Authorization", auth)
		if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: %d (WWW-Authenticate %q), want 401 with a Basic challenge", name, rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	}

	asBrowser := basic(testAdminToken).Header.Get("Authorization")
	if rec := send(http.MethodGet, "/admin/jobs", "", "Authorization", asBrowser); rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/admin/jobs/" {
		t.Errorf("/admin/jobs: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	page := send(http.MethodGet, "/admin/jobs/", "", "Authorization", asBrowser)
	if page.Code != http.StatusOK || !strings.Contains(page.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("the UI's page: %d %s", page.Code, page.Header().Get("Content-Type"))
	}

	rec := send(http.MethodGet, "/admin/jobs/api/jobs?state=available", "", "Authorization", asBrowser)
	var list struct {
		Data []struct {
			ID   int64  `json:"id"`
			Kind string `json:"kind"`
		} `json:"data"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil || len(list.Data) != 1 || list.Data[0].Kind != "invoice.collect" {
		t.Fatalf("the UI's job list: %d %s", rec.Code, rec.Body)
	}
	id := list.Data[0].ID
	cancel := `{"ids":["` + strconv.FormatInt(id, 10) + `"]}`

	// Another site's page cannot use the browser's credentials to change a job.
	for _, h := range [][]string{
		{"Authorization", asBrowser, "Sec-Fetch-Site", "cross-site"},
		{"Authorization", asBrowser, "Origin", "https://evil.example"},
	} {
		if rec := send(http.MethodPost, "/admin/jobs/api/jobs/cancel", cancel, h...); rec.Code != http.StatusForbidden {
			t.Errorf("cancel with %v: %d %s, want 403", h[2:], rec.Code, rec.Body)
		}
	}
	if jobs, err := v.app.Jobs.List(ctx, 10, rivertype.JobStateAvailable); err != nil || len(jobs) != 1 {
		t.Fatalf("after the refused cancels: %v %v", jobs, err)
	}
	// The UI itself (same origin) and a script with the bearer token can.
	if rec := send(http.MethodPost, "/admin/jobs/api/jobs/cancel", cancel,
		"Authorization", asBrowser, "Sec-Fetch-Site", "same-origin"); rec.Code != http.StatusOK {
		t.Fatalf("cancel from the UI: %d %s", rec.Code, rec.Body)
	}
	jobs, err := v.app.Jobs.List(ctx, 10, rivertype.JobStateCancelled)
	if err != nil || len(jobs) != 1 || jobs[0].ID != id {
		t.Fatalf("cancelled jobs: %v %v", jobs, err)
	}
	if rec := send(http.MethodGet, "/admin/jobs/api/jobs?state=cancelled", "", "Authorization", "Bearer "+testAdminToken); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"invoice.collect"`) {
		t.Fatalf("the job list with the bearer token: %d %s", rec.Code, rec.Body)
	}
}
