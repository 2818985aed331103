package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/floe-io/floe/supervision"
)

// The terminal view lists every actor, hottest first by the chosen column,
// and honours the row limit.
func TestRenderActors(t *testing.T) {
	v := supervision.ActorsView{
		Time:        time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC),
		DeadLetters: 3,
		Pools: []supervision.PoolView{
			{Name: "partitions", Actors: []supervision.ActorRow{
				{Name: "partition/a-0.1", Kind: "partition", MailboxDepth: 1, Rate: 10, Handled: 100},
				{Name: "partition/a-1.2", Kind: "partition", MailboxDepth: 9, Rate: 5, Handled: 50, Restarts: 2},
			}},
			{Name: "wal", Actors: []supervision.ActorRow{{Name: "wal/0", Kind: "wal", Rate: 500, P99Micros: 812.5}}},
		},
	}
	var out bytes.Buffer
	renderActors(&out, v, "depth", 0)
	text := out.String()
	if !strings.Contains(text, "dead letters 3") || !strings.Contains(text, "partitions 2, wal 1") {
		t.Fatalf("header missing:\n%s", text)
	}
	first := strings.Index(text, "partition/a-1.2")
	second := strings.Index(text, "partition/a-0.1")
	if first < 0 || second < 0 || first > second {
		t.Fatalf("not sorted by mailbox depth:\n%s", text)
	}
	out.Reset()
	renderActors(&out, v, "rate", 1)
	text = out.String()
	if !strings.Contains(text, "wal/0") || strings.Contains(text, "partition/") || !strings.Contains(text, "812.5") {
		t.Fatalf("rate sort with limit 1 should show only wal/0:\n%s", text)
	}
}
