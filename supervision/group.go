package supervision

import (
	"log/slog"
	"sync"
)

// Group starts long-lived goroutines with a name and waits for them: no naked
// `go` in long-lived code, so shutdown can account for every goroutine.
type Group struct {
	logger *slog.Logger
	wg     sync.WaitGroup
}

// NewGroup returns an empty group.
func NewGroup(logger *slog.Logger) *Group { return &Group{logger: logger} }

// Go runs fn on a new goroutine tracked by the group.
func (g *Group) Go(name string, fn func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.logger.Debug("goroutine started", "name", name)
		fn()
		g.logger.Debug("goroutine ended", "name", name)
	}()
}

// Wait waits for every goroutine started by Go.
func (g *Group) Wait() { g.wg.Wait() }
