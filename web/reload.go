package web

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/webguard/webguard/config"
)

// The reload pipeline: load → compile → compare with the running snapshot →
// hold or publish. Every way a change arrives goes through run:
//
//   - Reload, the explicit reload (SIGHUP): applies any change that compiles,
//     including one that lowers security;
//   - Update, a config held in memory handed over by the program, and the
//     file watcher's settled reports: a change that lowers security on any
//     axis of downgradeAxes is held, whole, until an explicit Reload;
//   - the file watcher's tentative reports (the first events of a write,
//     before it settles): tried at once so that a rotated certificate is
//     served within milliseconds, and dropped without a word when the files
//     do not compile yet (a certificate without its key) or lower security.
//     The settled report that follows decides, and logs, as usual.
//
// A change that does not load or compile leaves the running snapshot in
// place. Each reload logs one line saying what happened to the whole change.

// ErrHeld is what Update returns, wrapped, for a change that lowers security:
// it is held back, the running config stays, and an explicit Reload applies
// it.
var ErrHeld = errors.New("web: change held back because it lowers security; reload explicitly to apply it")

// trigger is what started a reload.
type trigger int

const (
	byReload    trigger = iota // Reload: downgrades apply
	bySettled                  // the watcher, writes settled: downgrades held
	byUpdate                   // Update: downgrades held
	byTentative                // the watcher, writes may go on: quiet
)

// reloadState is what the pipeline keeps between reloads, guarded by
// Guard.reloadMu.
type reloadState struct {
	// source is the config held in memory (Options.Config, then each
	// Update); nil when the Guard serves a file or nothing.
	source *config.Config
	// held is the config of a change held back, whose files are watched
	// too, so that completing or reverting it is seen.
	held *config.Config
	// tentative is the look at the files a tentative reload served, valid
	// while tentativeApplied is set: the settled report of the same look
	// has nothing left to do.
	tentative        scan
	tentativeApplied bool
}

// Reload re-reads the config now (the config file, or for a config held in
// memory the certificate, key and CA files it names) and swaps in the result
// if it compiles. Otherwise the current config stays in force and the error
// (with file, line and field) is logged, counted in
// webguard_config_reloads_total{outcome="failure"} and returned. An
// explicit Reload applies every valid change, including those that lower
// security, which the file watcher and Update hold back. Reload is meant for
// SIGHUP handlers; without a config it does nothing.
func (g *Guard) Reload() error {
	if g.path == "" && !g.inMemory.Load() {
		return nil
	}
	return g.run(byReload, nil, nil)
}

// Update hands over a changed config held in memory, for a Guard made with
// Options.Config or with no config: typically the web section of the
// program's own config file, parsed again with config.ParseSection after
// that file changed. It follows the rules of a change the file watcher
// sees: the certificate, key and client CA files cfg names are read, and the
// result replaces the served config if it compiles; otherwise the last good
// config stays, and the error is logged, counted and returned. A change that
// lowers security (see docs/reload.md) is held, logged and counted, and an
// error returned, until an explicit Reload applies it. From then on the files
// cfg names are the ones watched.
func (g *Guard) Update(cfg *config.Config) error {
	if cfg == nil {
		return errors.New("web: Update with a nil config")
	}
	if g.path != "" {
		return fmt.Errorf("web: Update on a Guard serving the file %s; write the file instead", g.path)
	}
	if !g.inMemory.Swap(true) {
		// The first config handed to a Guard made without one: its files
		// are to be watched from now on. The watcher takes its first look
		// at them before run reads them, so that a write in between is a
		// change it reports rather than its starting point.
		files := cfg.Files()
		g.watched.Store(&files)
		g.mu.Lock()
		if g.serving > 0 && !g.closed {
			g.startWatching()
		}
		g.mu.Unlock()
	}
	return g.run(byUpdate, cfg, nil)
}

// changed is the watcher's report of c, on the watching goroutine.
func (g *Guard) changed(c change) {
	if !c.settled {
		// Half a web.yml is often valid YAML; only certificates, keys and
		// CAs, which must match each other to compile, are tried early.
		if g.path != "" && slices.Contains(c.files, g.path) {
			return
		}
		_ = g.run(byTentative, nil, &c.state)
		return
	}
	// run logs and counts failures and held changes itself.
	_ = g.run(bySettled, nil, &c.state)
}

// run is the pipeline. cfg is the config to apply (Update), or nil to load
// it from the source; state is the watcher's look at the files, when the
// watcher triggered it.
func (g *Guard) run(how trigger, cfg *config.Config, state *scan) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	st := &g.reload
	if how == bySettled && st.tentativeApplied && state != nil && state.equal(st.tentative) {
		// A tentative reload already served these very files, and any
		// reload since read them as they are.
		st.tentativeApplied = false
		return nil
	}
	if how == byTentative {
		// Whatever this attempt gives, the settled report of these files
		// has to decide unless it is served below.
		st.tentativeApplied = false
	}
	if cfg != nil {
		st.source = cfg
	}
	file := g.path
	if file == "" && st.source != nil {
		file = st.source.Path()
	}

	next, err := g.compileSource()
	if err != nil {
		if how == byTentative {
			g.logger.Debug("web config change not complete yet; waiting for the writes to settle", "file", file, "err", err)
			return err
		}
		g.metrics.reloaded(reloadFailure)
		g.logger.Error("web config reload failed; serving the previous config", "file", file, "err", err)
		return err
	}
	prev := g.snap.Load()
	if how != byReload {
		if axes := lowered(prev, next); len(axes) > 0 {
			st.held = next.cfg
			g.setWatched(prev)
			reason := strings.Join(axes, ", ") + " lowered"
			if how == byTentative {
				g.logger.Debug("web config change would lower security; waiting for the writes to settle", "file", file, "reason", reason)
				return nil
			}
			g.metrics.reloaded(reloadHeld)
			g.logger.Warn("web config change held back because it lowers security; reload explicitly (SIGHUP) or restart to apply it",
				"file", file, "reason", reason)
			if file == "" {
				return fmt.Errorf("%w (%s)", ErrHeld, reason)
			}
			return fmt.Errorf("%w (%s: %s)", ErrHeld, file, reason)
		}
	}
	st.held = nil
	if how == byTentative && state != nil {
		st.tentative, st.tentativeApplied = *state, true
	}
	// The buckets carry over when the limit did not change, so a reload
	// neither refills nor empties them.
	if prev.limiter != nil && next.limiter != nil && prev.limiter.settings == next.limiter.settings {
		next.limiter = prev.limiter
	}
	g.publish(next)
	attrs := []any{"file", file}
	switch {
	case prev.tls == nil && next.tls != nil:
		attrs = append(attrs, "tls", "switched on for new connections")
	case prev.tls != nil && next.tls == nil:
		attrs = append(attrs, "tls", "switched off for new connections")
	}
	// The line before the counter, so that whatever waits on the counter
	// finds the line.
	g.logger.Info("web config reloaded", attrs...)
	g.metrics.reloaded(reloadSuccess)
	return nil
}

// load reads the config from its source: the file, the config held in memory
// with its files read again, or an empty config.
func (g *Guard) load() (*config.Config, error) {
	switch {
	case g.path != "":
		return config.Load(g.path)
	case g.reload.source != nil:
		return g.reload.source.Reread()
	}
	return &config.Config{}, nil
}

// compileSource loads the config, vets it with Options.Require and
// compiles it.
func (g *Guard) compileSource() (*snapshot, error) {
	cfg, err := g.load()
	if err != nil {
		return nil, err
	}
	if g.require != nil {
		if err := g.require(cfg); err != nil {
			return nil, err
		}
	}
	return compile(cfg)
}

// publish makes next the served snapshot and points the watcher at its files.
// Called with reloadMu held, or from New.
func (g *Guard) publish(next *snapshot) {
	// Hazards the config allows (basic auth without TLS, unverified client
	// certificates, certificates near expiry...), once per change, of what
	// is served.
	for _, w := range next.cfg.Warnings(time.Now()) {
		g.logger.Warn(w.Msg, "file", w.File, "line", w.Line, "field", w.Field)
	}
	g.snap.Store(next)
	g.setWatched(next)
}

// setWatched sets the files to watch: those of the served snapshot, of a held
// change and of the config held in memory, and tells the watcher.
func (g *Guard) setWatched(served *snapshot) {
	files := served.cfg.Files()
	for _, c := range []*config.Config{g.reload.held, g.reload.source} {
		if c == nil {
			continue
		}
		for _, f := range c.Files() {
			if !slices.Contains(files, f) {
				files = append(files, f)
			}
		}
	}
	if old := g.watched.Load(); old != nil && slices.Equal(*old, files) {
		return
	}
	g.watched.Store(&files)
	select {
	case g.refresh <- struct{}{}:
	default: // a refresh is already pending
	}
}

// watching is a running file watcher and the goroutine that reloads on its
// reports.
type watching struct {
	w    *watcher
	stop chan struct{}
}

// startWatching starts the file watcher and its reloading goroutine. Called
// with g.mu held, when the first Serve begins.
func (g *Guard) startWatching() {
	if g.watch != nil || (g.path == "" && !g.inMemory.Load()) {
		return
	}
	files := func() []string {
		if f := g.watched.Load(); f != nil {
			return *f
		}
		return nil
	}
	w := newWatcher(files, g.refresh, g.watchOpts, g.logger)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case c := <-w.changes:
				g.changed(c)
			}
		}
	}()
	g.watch = &watching{w: w, stop: stop}
}

// stopWatching stops the file watcher and its reloading goroutine. It waits
// for the watcher, which never blocks, but not for a reload in progress: that
// one finishes (a file read can hang on a network filesystem) and its
// goroutine then returns. Called with g.mu held, when the last Serve returns
// or on Close.
func (g *Guard) stopWatching() {
	if g.watch == nil {
		return
	}
	close(g.watch.stop)
	g.watch.w.stop()
	g.watch = nil
}
