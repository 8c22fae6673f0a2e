package server

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"billing-api/store/storetest"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium; CI installs it and must not skip.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (CI installs the Debian package chromium)")
	}
	t.Skip("chromium not installed; install the Debian package chromium to run the Swagger UI test")
	return ""
}

// TestSwaggerUIRendersAndTriesAnOperation drives /docs/ in headless
// Chromium: every operation renders, and "Try it out" with an APIToken
// reaches the running server.
func TestSwaggerUIRendersAndTriesAnOperation(t *testing.T) {
	t.Parallel()
	skipUnderRace(t)
	storetest.StoreIndependent(t, "Swagger UI in a browser")
	exe := chromiumPath(t)
	v := newEnv(t)
	tok := v.tenant("acme")
	ts := httptest.NewServer(v.e)
	defer ts.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browser, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(browser); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	// A bound on the whole session, not a synchronisation point: every step
	// below waits for the element it needs.
	ctx, cancelTimeout := context.WithTimeout(browser, 90*time.Second)
	defer cancelTimeout()

	const op = "#operations-quota-getQuotaLimits"
	fail := func(step string, err error) {
		t.Helper()
		t.Fatalf("Swagger UI, %s: %v\nserver log:\n%s", step, err, v.logs.String())
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/docs/"),
		chromedp.WaitVisible(op),
	); err != nil {
		fail("loading /docs/", err)
	}
	rendered, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.opblock').length`))
	if err != nil {
		fail("counting operations", err)
	}
	if err := chromedp.Do(ctx,
		// Authorize with the tenant token.
		chromedp.Click(`.auth-wrapper .btn.authorize`),
		chromedp.WaitVisible(`.modal-ux input`),
		chromedp.SendKeys(`.modal-ux input`, "APIToken "+tok),
		chromedp.Click(`.modal-ux .auth-btn-wrapper button.authorize`),
		chromedp.WaitVisible(`.modal-ux .btn-done`),
		chromedp.Click(`.modal-ux .btn-done`),
		chromedp.WaitNotPresent(`.modal-ux`),

		// Open getQuotaLimits and try it out; the namespace field is
		// pre-filled with the spec's example, "system".
		chromedp.Click(op+` .opblock-summary-control`),
		chromedp.WaitVisible(op+` .try-out__btn`),
		chromedp.Click(op+` .try-out__btn`),
		chromedp.WaitVisible(op+` .execute`),
		chromedp.Click(op+` .execute`),
		chromedp.WaitVisible(op+` .live-responses-table tr.response .response-col_status`),
	); err != nil {
		fail("trying getQuotaLimits", err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(op+` .live-responses-table tr.response .response-col_status`))
	if err != nil {
		fail("reading the status", err)
	}
	body, err := chromedp.Run(ctx, chromedp.Text(op+` .live-responses-table .microlight`))
	if err != nil {
		fail("reading the body", err)
	}
	if rendered != 26 {
		t.Errorf("Swagger UI rendered %d operations, want 26", rendered)
	}
	if !strings.HasPrefix(strings.TrimSpace(status), "200") || !strings.Contains(body, `"quota_usage"`) || !strings.Contains(body, `"http_loadbalancer"`) {
		t.Fatalf("try-it-out answered %q %q, want 200 with the namespace's effective limits", status, body)
	}
}
