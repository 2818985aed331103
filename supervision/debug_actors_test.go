package supervision

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func httpGet(t *testing.T, url string, accept string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return body
}

// The actor page lists real actors with live counters while load runs, and
// a panicking partition actor shows up as a restart on the page and in
// /metrics.
func TestActorInspection(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP = "127.0.0.1:0"
	n := startNode(t, cfg)
	defer stopNode(t, n)
	base := "http://" + n.HTTPAddr().String()
	cl := newClient(t, n)
	createTopic(t, cl, "inspected", 3, nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; ctx.Err() == nil; i++ {
			_ = cl.ProduceSync(ctx, testRecord("inspected", int32(i%3), i, 100)).FirstErr()
		}
	}()

	var view ActorsView
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := json.Unmarshal(httpGet(t, base+"/debug/actors?format=json", ""), &view); err != nil {
			t.Fatal(err)
		}
		if partitionRows(view, func(r ActorRow) bool { return r.Handled > 0 && r.Rate > 0 }) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition actors never showed handled messages and a rate: %+v", view)
		}
		time.Sleep(200 * time.Millisecond) // the page's own refresh period is 1 s
	}
	for _, want := range []string{"partitions", "wal", "background", "cold"} {
		if !hasPool(view, want) {
			t.Errorf("pool %q missing from the actor tree", want)
		}
	}
	html := string(httpGet(t, base+"/debug/actors", ""))
	if !strings.Contains(html, "<title>floe actors</title>") || !strings.Contains(html, "?format=json") {
		t.Fatalf("actor page is not the live HTML page")
	}

	if !n.Broker().InjectPartitionPanic("inspected", 1) {
		t.Fatal("no such partition")
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		_ = json.Unmarshal(httpGet(t, base+"/debug/actors", "application/json"), &view)
		if partitionRows(view, func(r ActorRow) bool { return r.Restarts == 1 && strings.HasPrefix(r.Name, "partition/inspected-1.") }) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restart not shown on the actor page: %+v", view)
		}
		time.Sleep(50 * time.Millisecond)
	}
	metrics := string(httpGet(t, base+"/metrics", ""))
	want := fmt.Sprintf(`floe_actor_restarts_total{actor="%s",kind="partition"} 1`, restartedName(view))
	if !strings.Contains(metrics, want) {
		t.Fatalf("/metrics lacks %q", want)
	}
	for _, name := range []string{"floe_actor_mailbox_depth", "floe_actor_messages_total", "floe_actor_handle_seconds_bucket", "floe_requests_total", "floe_connections"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	cancel()
	<-produced
}

func partitionRows(v ActorsView, ok func(ActorRow) bool) int {
	n := 0
	for _, p := range v.Pools {
		for _, a := range p.Actors {
			if a.Kind == "partition" && ok(a) {
				n++
			}
		}
	}
	return n
}

func hasPool(v ActorsView, name string) bool {
	for _, p := range v.Pools {
		if p.Name == name && len(p.Actors) > 0 {
			return true
		}
	}
	return false
}

func restartedName(v ActorsView) string {
	for _, p := range v.Pools {
		for _, a := range p.Actors {
			if a.Restarts > 0 {
				return a.Name
			}
		}
	}
	return ""
}
