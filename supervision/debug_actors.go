package supervision

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"sort"
	"time"
)

// ActorRow is one actor on /debug/actors.
type ActorRow struct {
	Name         string  `json:"name"`
	Kind         string  `json:"kind"`
	MailboxDepth int     `json:"mailbox_depth"`
	Handled      int64   `json:"messages_handled"`
	Rate         float64 `json:"messages_per_second"`
	P99Micros    float64 `json:"p99_handle_micros"`
	Restarts     int64   `json:"restarts"`
}

// PoolView is one supervisor (pool) and its actors.
type PoolView struct {
	Name     string     `json:"name"`
	Strategy string     `json:"strategy"`
	Actors   []ActorRow `json:"actors"`
}

// ActorsView is the whole actor tree, as served on /debug/actors?format=json.
type ActorsView struct {
	Time              time.Time  `json:"time"`
	DeadLetters       int64      `json:"dead_letters"`
	CPUDispatcherWait int64      `json:"cpu_dispatcher_queue"`
	Pools             []PoolView `json:"pools"`
}

// View snapshots the actor tree: pools (supervisors) with their actors,
// each pool's actors sorted hottest first (mailbox depth, then rate).
func (s *System) View() ActorsView {
	v := ActorsView{Time: time.Now(), DeadLetters: s.DeadLetters(), CPUDispatcherWait: s.CPU.QueueDepth()}
	byPool := make(map[string]*PoolView)
	for _, st := range s.stats.all() {
		p := byPool[st.Pool]
		if p == nil {
			p = &PoolView{Name: st.Pool, Strategy: "one-for-one, restart without limit"}
			byPool[st.Pool] = p
		}
		p.Actors = append(p.Actors, ActorRow{
			Name: st.Name, Kind: st.Kind, MailboxDepth: st.Depth(), Handled: st.Handled(),
			Rate: st.Rate(), P99Micros: float64(st.P99().Nanoseconds()) / 1e3, Restarts: st.Restarts(),
		})
	}
	for _, p := range byPool {
		sort.SliceStable(p.Actors, func(i, j int) bool {
			a, b := p.Actors[i], p.Actors[j]
			if a.MailboxDepth != b.MailboxDepth {
				return a.MailboxDepth > b.MailboxDepth
			}
			return a.Rate > b.Rate
		})
		v.Pools = append(v.Pools, *p)
	}
	sort.Slice(v.Pools, func(i, j int) bool { return v.Pools[i].Name < v.Pools[j].Name })
	return v
}

//go:embed actors.html
var actorsPage []byte

// serveActors answers /debug/actors: JSON with ?format=json or an Accept of
// application/json, otherwise the live HTML page (which polls the JSON).
func (s *System) serveActors(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("format") == "json" || r.Header.Get("Accept") == "application/json" {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		_ = enc.Encode(s.View())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(actorsPage)
}
