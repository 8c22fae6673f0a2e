package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"billing-api/store/storetest"
)

// sdkTools finds node and the TypeScript SDK's installed tools (`make tools`
// installs them; CI does, and must not skip).
func sdkTools(t *testing.T, root string) (node, tsc string) {
	t.Helper()
	node, err := exec.LookPath("node")
	missing := "node is not on PATH"
	if err == nil {
		missing = "the SDK's npm packages are not installed (run `make tools`)"
		tsc = filepath.Join(root, "node_modules", "typescript", "bin", "tsc")
		_, errTSC := os.Stat(tsc)
		_, errLink := os.Stat(filepath.Join(root, "node_modules", "@billing-api", "sdk", "package.json"))
		if errTSC == nil && errLink == nil {
			return node, tsc
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI installs Node.js and runs `make tools`", missing)
	}
	t.Skipf("%s: skipped the TypeScript SDK test", missing)
	return "", ""
}

// TestTypeScriptSDK compiles sdk/typescript with tsc --strict and runs its
// node:test suite against the binary serving the demo tenant: one or more
// operations of each domain through the generated client.
func TestTypeScriptSDK(t *testing.T) {
	t.Parallel()
	storetest.StoreIndependent(t, "the TypeScript SDK's compile and client")
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	node, tsc := sdkTools(t, root)
	sdk := filepath.Join(root, "sdk", "typescript")

	env := storeEnv(t)
	base, cmd, _, banner := startServerWithBanner(t, env, "--demo")
	defer func() { _ = cmd.Process.Kill() }()
	token, ok := banner.waitForPrefix("  demo token:  ")
	if !ok {
		t.Fatal("no demo token printed")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	step := func(name string, extraEnv []string, args ...string) {
		t.Helper()
		c := exec.CommandContext(ctx, node, args...)
		c.Dir = sdk
		c.Env = append(os.Environ(), extraEnv...)
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		if err := c.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out.String())
		}
		if out.Len() > 0 {
			t.Logf("%s:\n%s", name, out.String())
		}
	}
	// The outputs are build products (ignored by git): start clean, so a
	// file whose source is gone cannot linger and run.
	for _, dir := range []string{"dist", "build"} {
		if err := os.RemoveAll(filepath.Join(sdk, dir)); err != nil {
			t.Fatal(err)
		}
	}
	step("tsc -p sdk/typescript", nil, tsc, "-p", ".")
	step("tsc -p sdk/typescript/test", nil, tsc, "-p", "test")
	step("node --test", []string{"BILLING_API_URL=" + base, "BILLING_API_TOKEN=" + token},
		"--test", "--test-reporter=spec", filepath.Join("build", "test", "sdk.test.js"))
}
