package web

import (
	"crypto/tls"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/webguard/webguard/config"
)

// Defaults for watchOptions.
const (
	defaultDebounce  = 50 * time.Millisecond
	defaultPollEvery = 5 * time.Second
)

// watchOptions tune a watcher. The zero value uses the defaults.
type watchOptions struct {
	// debounce is how long a change must stay still before it is reported:
	// relevant events must have stopped for that long, and a change found
	// without events (polling, lost events) must look the same in two
	// stats debounce apart.
	debounce time.Duration
	// pollEvery is how often the files are stat'ed whether or not events
	// arrived, for filesystems that deliver none (NFS, some FUSE and
	// container mounts).
	pollEvery time.Duration
	// noEvents turns fsnotify off and leaves only polling (for tests of the
	// fallback).
	noEvents bool
}

func (o watchOptions) withDefaults() watchOptions {
	if o.debounce <= 0 {
		o.debounce = defaultDebounce
	}
	if o.pollEvery <= 0 {
		o.pollEvery = defaultPollEvery
	}
	return o
}

// watcher reports changes to a set of files. It watches the directory of
// each file, and of every symbolic link on the way to it, rather than the file
// itself: writers that replace a file by renaming a new one over it, and
// Kubernetes, which swaps a "..data" symlink to a new directory, never modify
// the watched inode, so a watch on the file would see nothing.
//
// Directory events only say "look again". What decides is a signature of each
// file (size, modification time, identity of the inode reached, resolved
// path), so unrelated files in the same directory do not cause reloads and a
// change that reverts before it settles is not reported.
//
// The set of files is asked for again at every look (files), so that a
// reload naming other files, or an explicit reload the watcher did not
// trigger, moves the watch along.
//
// onChange runs on the watcher's own goroutine, one call at a time, once per
// settled change.
type watcher struct {
	opts     watchOptions
	logger   *slog.Logger
	files    func() []string // absolute paths; called on the watcher's goroutine
	onChange func()

	stopOnce sync.Once
	stopc    chan struct{}
	done     chan struct{}
}

// newWatcher starts watching the files that files returns and returns once
// the watch is in place. The caller must call stop.
func newWatcher(files func() []string, onChange func(), opts watchOptions, logger *slog.Logger) *watcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &watcher{
		opts:     opts.withDefaults(),
		logger:   logger,
		files:    files,
		onChange: onChange,
		stopc:    make(chan struct{}),
		done:     make(chan struct{}),
	}
	// The first signatures are taken and the directories watched before
	// returning, so that a change made right after newWatcher returns is
	// seen and compared with the files as they were when watching began.
	var fsw *fsnotify.Watcher
	if !w.opts.noEvents {
		var err error
		fsw, err = fsnotify.NewWatcher()
		if err != nil {
			w.logger.Warn("cannot watch the web config files for changes; checking them every few seconds instead", "err", err)
			fsw = nil
		}
	}
	s := scanFiles(w.files())
	w.watchDirs(fsw, s)
	go w.run(fsw, s)
	return w
}

// stop ends watching and waits for the watcher's goroutines to return,
// including a running onChange. It is idempotent. It must not be called from
// onChange.
func (w *watcher) stop() {
	w.stopOnce.Do(func() { close(w.stopc) })
	<-w.done
}

// run is the watcher's goroutine. It owns fsw (nil when polling only).
func (w *watcher) run(fsw *fsnotify.Watcher, applied scan) {
	defer close(w.done)

	var events <-chan fsnotify.Event
	var errs <-chan error
	if fsw != nil {
		defer fsw.Close() // waits for fsnotify's reader goroutine
		events, errs = fsw.Events, fsw.Errors
	}

	poll := time.NewTicker(w.opts.pollEvery)
	defer poll.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	armed := false
	// byEvent says the pending check was armed by fsnotify events only.
	// Every write sends one and pushes the check back, so a debounce
	// without events means the writes have settled. A change found by
	// polling (or after lost events) has no such guarantee, and must be
	// seen twice, one debounce apart, before it counts.
	byEvent := false
	arm := func(event bool) {
		if !armed {
			byEvent = event
		}
		byEvent = byEvent && event
		settle.Reset(w.opts.debounce)
		armed = true
	}
	// pending is the last scan that differed from applied, waiting to be seen
	// again unchanged one debounce later.
	var pending *scan

	for {
		select {
		case <-w.stopc:
			return

		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if applied.relevant(ev.Name) || (pending != nil && pending.relevant(ev.Name)) {
				// Restarting the timer on every event is what makes this a
				// debounce: a file still being written keeps pushing the
				// check back.
				pending = nil
				arm(true)
			}

		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// An overflow means events were lost; look at everything.
			w.logger.Debug("web config file watch error", "err", err)
			arm(false)

		case <-poll.C:
			applied = applied.retarget(w.files())
			if !armed && !scanFiles(applied.files).equal(applied) {
				arm(false)
			}
			w.watchDirs(fsw, applied)

		case <-settle.C:
			armed = false
			applied = applied.retarget(w.files())
			cur := scanFiles(applied.files)
			switch {
			case cur.equal(applied):
				pending = nil
			case byEvent || pending != nil && cur.equal(*pending):
				// Taken before onChange reads the files: if they change
				// again while it runs, the next scan differs and reports it.
				applied, pending = cur, nil
				w.onChange()
				// A reload may name other files.
				applied = applied.retarget(w.files())
				w.watchDirs(fsw, applied)
			default:
				pending = &cur
				arm(false)
			}
		}
	}
}

// watchDirs makes the fsnotify watch list the directories s needs, adding
// what is missing (a directory that does not exist yet is retried on the
// next poll) and dropping what is no longer needed.
func (w *watcher) watchDirs(fsw *fsnotify.Watcher, s scan) {
	if fsw == nil {
		return
	}
	have := fsw.WatchList()
	for _, d := range have {
		if !slices.Contains(s.dirs, d) {
			_ = fsw.Remove(d) // fails only if it is already gone
		}
	}
	for _, d := range s.dirs {
		if slices.Contains(have, d) {
			continue
		}
		if err := fsw.Add(d); err != nil {
			w.logger.Debug("cannot watch a web config directory; checking it every few seconds instead", "file", d, "err", err)
		}
	}
}

// signature is what a stat says about one file, enough to tell that it
// changed without reading it.
type signature struct {
	exists bool
	size   int64
	mtime  time.Time
	mode   fs.FileMode
	target string      // the path with every symlink resolved
	info   fs.FileInfo // of target, for os.SameFile (device and inode)
}

func (a signature) equal(b signature) bool {
	if a.exists != b.exists {
		return false
	}
	if !a.exists {
		return true
	}
	return a.size == b.size && a.mtime.Equal(b.mtime) && a.mode == b.mode &&
		a.target == b.target && os.SameFile(a.info, b.info)
}

// scan is one look at a set of files: their signatures, the paths whose
// events matter, and the directories to watch.
type scan struct {
	files []string
	sigs  map[string]signature
	// paths are the files and every link on the way to them, as written
	// and with their directory resolved. An event on one of them, or on a
	// directory above one of them (Kubernetes renames "..data"), is relevant.
	paths []string
	dirs  []string
}

// maxHops bounds symlink chains, as the kernel does.
const maxHops = 40

func scanFiles(files []string) scan {
	s := scan{files: slices.Clone(files), sigs: make(map[string]signature, len(files))}
	addPath := func(p string) {
		if !slices.Contains(s.paths, p) {
			s.paths = append(s.paths, p)
		}
	}
	addDir := func(d string) {
		if !slices.Contains(s.dirs, d) {
			s.dirs = append(s.dirs, d)
		}
	}
	for _, f := range files {
		s.sigs[f] = stat(f)
		p := filepath.Clean(f)
		for range maxHops {
			addPath(p)
			dir := filepath.Dir(p)
			if real, err := filepath.EvalSymlinks(dir); err == nil {
				addPath(filepath.Join(real, filepath.Base(p)))
				dir = real
			}
			addDir(dir)
			fi, err := os.Lstat(p)
			if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				break
			}
			t, err := os.Readlink(p)
			if err != nil {
				break
			}
			if !filepath.IsAbs(t) {
				t = filepath.Join(filepath.Dir(p), t)
			}
			p = filepath.Clean(t)
		}
	}
	return s
}

func stat(path string) signature {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return signature{}
	}
	fi, err := os.Stat(target)
	if err != nil {
		return signature{}
	}
	return signature{exists: true, size: fi.Size(), mtime: fi.ModTime(), mode: fi.Mode(), target: target, info: fi}
}

// equal reports whether every file has the same signature in s and o. Scans
// of different file sets are never equal.
func (s scan) equal(o scan) bool {
	if !slices.Equal(s.files, o.files) {
		return false
	}
	for f, sig := range s.sigs {
		if !sig.equal(o.sigs[f]) {
			return false
		}
	}
	return true
}

// retarget returns s for a new file set: files s knew keep their signature
// (so a change not yet reported stays visible), new files are stat'ed now.
func (s scan) retarget(files []string) scan {
	if slices.Equal(s.files, files) {
		return s
	}
	n := scanFiles(files)
	for _, f := range files {
		if sig, ok := s.sigs[f]; ok {
			n.sigs[f] = sig
		}
	}
	return n
}

// relevant reports whether an event on name may change one of the files.
func (s scan) relevant(name string) bool {
	name = filepath.Clean(name)
	for _, p := range s.paths {
		if p == name || strings.HasPrefix(p, name+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// startWatching starts the file watcher for a Guard with a config file:
// each settled change to web.yml or a file it names reloads, holding back
// changes that lower security (see lowersSecurity). Called with g.mu held,
// when the first Serve begins.
func (g *Guard) startWatching() {
	if g.path == "" || g.watch != nil {
		return
	}
	// heldFiles are the files a held-back config names, watched as well so
	// that completing or reverting the change is seen. Only the watcher's
	// goroutine (and newWatcher, before it starts) touches it.
	var heldFiles []string
	files := func() []string {
		list := g.snap.Load().cfg.Files()
		for _, f := range heldFiles {
			if !slices.Contains(list, f) {
				list = append(list, f)
			}
		}
		return list
	}
	onChange := func() {
		heldFiles = nil
		// reload logs and counts failures and held changes itself.
		_ = g.reload(func(_, next *config.Config) string {
			// The snapshot's TLS section rather than its config: after a
			// refused switch of TLS off, the config says "no TLS" while the
			// TLS settings of the config before it are still served.
			reason := lowersSecurity(g.snap.Load(), next)
			if reason != "" {
				heldFiles = next.Files()
			}
			return reason
		})
	}
	g.watch = newWatcher(files, onChange, g.watchOpts, g.logger)
}

// stopWatching stops the file watcher and waits for it, including a reload
// it is running. Called with g.mu held, when the last Serve returns or on
// Close.
func (g *Guard) stopWatching() {
	if g.watch == nil {
		return
	}
	g.watch.stop()
	g.watch = nil
}

// lowersSecurity says how next is less strict than what running serves, or
// "" when it is not. A reload the watcher triggers is held back when it is:
// the file may have been read half-written, and half a web.yml is often
// valid (the TLS section without the users that follow). Only an explicit
// Reload or a restart applies such a change.
//
// Lowering is: every user removed (removing some is not), a weaker
// client_auth_type (see clientAuthWeaker), client_allowed_sans emptied, or a
// lower min_version. TLS turned off is not held here: the Guard refuses that
// anyway and keeps serving TLS as it was.
func lowersSecurity(running *snapshot, next *config.Config) string {
	var reasons []string
	if running.users != nil && running.users.Len() > 0 && len(next.Users) == 0 {
		reasons = append(reasons, "every basic_auth_users entry removed")
	}
	if rt, nt := running.tlsSection, &next.TLS; rt != nil && nt.IsEnabled() {
		if clientAuthWeaker(rt.ClientAuthType, nt.ClientAuthType) {
			reasons = append(reasons, fmt.Sprintf("tls_server_config.client_auth_type lowered from %s to %s", rt.ClientAuthType, nt.ClientAuthType))
		}
		if len(rt.ClientAllowedSANs) > 0 && len(nt.ClientAllowedSANs) == 0 {
			reasons = append(reasons, "tls_server_config.client_allowed_sans emptied")
		}
		if nt.MinVersion < rt.MinVersion {
			reasons = append(reasons, fmt.Sprintf("tls_server_config.min_version lowered from %s to %s", rt.MinVersion, nt.MinVersion))
		}
	}
	return strings.Join(reasons, "; ")
}

// clientAuthStrength orders the client certificate policies from the
// weakest: NoClientCert < RequestClientCert < RequireAnyClientCert <
// VerifyClientCertIfGiven < RequireAndVerifyClientCert.
func clientAuthStrength(t config.ClientAuthType) int {
	switch t.TLS() {
	case tls.RequestClientCert:
		return 1
	case tls.RequireAnyClientCert:
		return 2
	case tls.VerifyClientCertIfGiven:
		return 3
	case tls.RequireAndVerifyClientCert:
		return 4
	}
	return 0
}

// clientAuthWeaker reports whether going from one policy to another admits a
// client the first refused: a step down the order of clientAuthStrength, or
// one that stops requiring a certificate (RequireAnyClientCert to
// VerifyClientCertIfGiven) or stops verifying one.
func clientAuthWeaker(from, to config.ClientAuthType) bool {
	return clientAuthStrength(to) < clientAuthStrength(from) ||
		(from.Requires() && !to.Requires()) ||
		(from.Verifies() && !to.Verifies())
}
