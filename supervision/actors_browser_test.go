package supervision

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/floe-io/floe/internal/ackcheck"
)

// The actor page renders in a real browser: headless Chromium runs its
// script, which fetches the JSON view and draws a row per actor, the
// restarted partition actor marked as such. Skipped where Chromium is not
// installed, unless FLOE_TEST_BROWSER=required (as .ci/run sets it).
// FLOE_ACTORS_SCREENSHOT=FILE also saves a screenshot of the page.
func TestActorPageInBrowser(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("FLOE_TEST_BROWSER") == "required" {
			t.Fatal("chromium not found and FLOE_TEST_BROWSER=required")
		}
		t.Skip("chromium not installed")
	}
	cfg := testConfig(t)
	cfg.HTTP = "127.0.0.1:0"
	n := startNode(t, cfg)
	defer stopNode(t, n)
	page := "http://" + n.HTTPAddr().String() + "/debug/actors"
	cl := newClient(t, n)
	createTopic(t, cl, "browsed", 2, nil)
	produceAll(t, cl, "browsed", 2, 50, 100)
	if !n.Broker().InjectPartitionPanic("browsed", 1) {
		t.Fatal("no such partition")
	}
	var view ActorsView
	if !ackcheck.WaitFor(30*time.Second, func() bool {
		_ = json.Unmarshal(httpGet(t, page, "application/json"), &view)
		return partitionRows(view, func(r ActorRow) bool { return r.Restarts == 1 }) == 1
	}) {
		t.Fatalf("restart not in the JSON view: %+v", view)
	}
	restarted := restartedName(view)

	run := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
			"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=3000"}
		cmd := exec.CommandContext(ctx, browser, append(append(base, args...), page)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}
	dom := string(run("--dump-dom"))
	// Rows exist only once the script has run; the restarted one carries
	// its mark (and "hot" too if its mailbox was not empty).
	marked := regexp.MustCompile(`<tr data-actor="` + regexp.QuoteMeta(restarted) + `" class="[^"]*\brestarted\b`)
	if !marked.MatchString(dom) {
		t.Errorf("rendered page lacks the restarted row %s; DOM:\n%s", restarted, dom)
	}
	for _, want := range []string{`data-actor="partition/browsed-0.`, "<h2>partitions — "} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q; DOM:\n%s", want, dom)
		}
	}
	if shot := os.Getenv("FLOE_ACTORS_SCREENSHOT"); shot != "" {
		abs, err := filepath.Abs(shot)
		if err != nil {
			t.Fatal(err)
		}
		run("--screenshot="+abs, "--window-size=1400,1000")
		t.Logf("screenshot of the actor page in %s", abs)
	}
}
