package web

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Defaults for watchOptions.
const (
	defaultEager     = 10 * time.Microsecond
	defaultDebounce  = 50 * time.Millisecond
	defaultPollEvery = 5 * time.Second
)

// watchOptions tune a watcher. The zero value uses the defaults.
type watchOptions struct {
	// eager is how long after the first event of a burst the watcher looks
	// at the files and reports what differs as a tentative change, without
	// waiting for the writes to settle: just enough to take the events
	// already queued with it (BenchmarkRotation found 1 ms slower than
	// 10 µs on a loaded machine: one more timer wake-up). Negative turns
	// tentative changes off.
	eager time.Duration
	// debounce is how long a change must stay still before it is reported
	// as settled: relevant events must have stopped for that long, and a
	// change found without events (polling, lost events) must look the same
	// in two stats debounce apart.
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
	if o.eager == 0 {
		o.eager = defaultEager
	}
	if o.debounce <= 0 {
		o.debounce = defaultDebounce
	}
	if o.pollEvery <= 0 {
		o.pollEvery = defaultPollEvery
	}
	return o
}

// change is what a watcher reports: some watched files differ from what it
// reported before.
type change struct {
	// files are the watched files whose signature changed.
	files []string
	// settled says the writes have stopped (see watchOptions.debounce). A
	// change that has not settled is tentative: the files may be caught
	// half-written, and a settled change follows once they stop moving.
	settled bool
	// state is the look at the files the change was found in, for telling
	// a settled change from a tentative one already acted on.
	state scan
}

// watcher reports changes to a set of files on its changes channel. It
// watches every directory on the way to each file and the directory of
// every symbolic link met resolving it, rather than the file itself:
// writers that replace a file by renaming a new one over it, Kubernetes,
// which swaps a "..data" symlink to a new directory, and an operator who
// re-points a directory symlink in the middle of the path (certs -> gen2)
// never modify the watched inode, so a watch on the file would see nothing.
//
// Directory events only say "look again". What decides is a signature of each
// file (size, modification time, identity of the inode reached, resolved
// path), so unrelated files in the same directories do not cause reports and
// a change that reverts before it settles is not reported as settled.
//
// The set of files is asked for again at every look (files), and when
// something is sent on refresh, so that a reload naming other files moves the
// watch along.
//
// The watcher knows nothing of what the files mean: its consumer decides. It
// never waits for the consumer: a report not yet received is replaced by the
// next one, merged with it.
type watcher struct {
	opts    watchOptions
	logger  *slog.Logger
	files   func() []string // absolute paths; called on the watcher's goroutine
	refresh <-chan struct{}
	// changes holds at most one report, the latest.
	changes chan change

	stopOnce sync.Once
	stopc    chan struct{}
	done     chan struct{}
}

// newWatcher starts watching the files that files returns and returns once
// the watch is in place. The caller must call stop. refresh may be nil.
func newWatcher(files func() []string, refresh <-chan struct{}, opts watchOptions, logger *slog.Logger) *watcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &watcher{
		opts:    opts.withDefaults(),
		logger:  logger,
		files:   files,
		refresh: refresh,
		changes: make(chan change, 1),
		stopc:   make(chan struct{}),
		done:    make(chan struct{}),
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

// stop ends watching and waits for the watcher's goroutine to return. It
// never waits for the consumer of changes, which may be in the middle of a
// slow reload. It is idempotent.
func (w *watcher) stop() {
	w.stopOnce.Do(func() { close(w.stopc) })
	<-w.done
}

// report hands c to the consumer without waiting: a report the consumer has
// not taken yet is merged into c (the files of both, c's state and
// settledness).
func (w *watcher) report(c change) {
	select {
	case old := <-w.changes:
		for _, f := range old.files {
			if !slices.Contains(c.files, f) {
				c.files = append(c.files, f)
			}
		}
	default:
	}
	// Only this goroutine sends, and the buffer was just emptied.
	w.changes <- c
}

// run is the watcher's goroutine. It owns fsw (nil when polling only).
func (w *watcher) run(fsw *fsnotify.Watcher, settled scan) {
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
	eager := time.NewTimer(time.Hour)
	eager.Stop()
	armed, eagerArmed := false, false
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
	// settled is the look last reported as settled, reported the look last
	// reported at all (tentative changes are compared with it, so that one
	// is sent per difference).
	reported := settled
	// pending is the last scan that differed from settled, waiting to be
	// seen again unchanged one debounce later.
	var pending *scan
	retarget := func() {
		files := w.files()
		settled = settled.retarget(files)
		reported = reported.retarget(files)
		w.watchDirs(fsw, settled, reported)
	}

	for {
		select {
		case <-w.stopc:
			return

		case <-w.refresh:
			retarget()

		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if settled.relevant(ev.Name) || reported.relevant(ev.Name) || (pending != nil && pending.relevant(ev.Name)) {
				// Restarting the timer on every event is what makes this a
				// debounce: a file still being written keeps pushing the
				// check back.
				pending = nil
				arm(true)
				if w.opts.eager > 0 && !eagerArmed {
					eager.Reset(w.opts.eager)
					eagerArmed = true
				}
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
			retarget()
			if !armed && !scanFiles(settled.files).equal(settled) {
				arm(false)
			}

		case <-eager.C:
			eagerArmed = false
			reported = reported.retarget(w.files())
			cur := scanFiles(reported.files)
			if changed := cur.changed(reported); len(changed) > 0 {
				reported = cur
				w.report(change{files: changed, state: cur})
				// A re-pointed link leads through other directories now.
				w.watchDirs(fsw, cur, settled)
			}

		case <-settle.C:
			armed = false
			settled = settled.retarget(w.files())
			cur := scanFiles(settled.files)
			switch {
			case cur.equal(settled):
				pending = nil
			case byEvent || pending != nil && cur.equal(*pending):
				// Taken before the consumer reads the files: if they
				// change again meanwhile, the next scan differs and
				// reports it.
				changed := cur.changed(settled)
				settled, reported, pending = cur, cur, nil
				w.report(change{files: changed, settled: true, state: cur})
				w.watchDirs(fsw, cur)
			default:
				pending = &cur
				arm(false)
			}
		}
	}
}

// watchDirs makes the fsnotify watch list the directories the scans need,
// adding what is missing (a directory that does not exist yet is retried on
// the next poll) and dropping what is no longer needed.
func (w *watcher) watchDirs(fsw *fsnotify.Watcher, scans ...scan) {
	if fsw == nil {
		return
	}
	var dirs []string
	for _, s := range scans {
		for _, d := range s.dirs {
			if !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	have := fsw.WatchList()
	for _, d := range have {
		if !slices.Contains(dirs, d) {
			_ = fsw.Remove(d) // fails only if it is already gone
		}
	}
	for _, d := range dirs {
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
	// paths are the files, every directory above them and every symlink on
	// the way, each with its directory resolved (as fsnotify names them). An
	// event on one of them, or on a directory above one of them, is
	// relevant.
	paths []string
	dirs  []string
}

// maxHops bounds symlink chains, as the kernel does.
const maxHops = 40

func scanFiles(files []string) scan {
	s := scan{files: slices.Clone(files), sigs: make(map[string]signature, len(files))}
	for _, f := range files {
		s.sigs[f] = stat(f)
		s.walk(f)
	}
	return s
}

// walk resolves path one component at a time, as the kernel does, and adds
// to s every directory it passes through and, for each symlink met, the
// link itself and the directory it lives in. Re-pointing any of those links,
// or renaming any of those directories, changes what path reaches; an event
// in the directories s.dirs lists is how that is seen.
func (s *scan) walk(path string) {
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
	rest := strings.Split(strings.TrimPrefix(filepath.Clean(path), string(filepath.Separator)), string(filepath.Separator))
	resolved := string(filepath.Separator)
	hops := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			resolved = filepath.Dir(resolved)
			continue
		}
		p := filepath.Join(resolved, name)
		addPath(p)
		// The directory holding p: a rename or a new link there changes
		// what p is. The root is only watched when a link lives in it.
		if resolved != string(filepath.Separator) {
			addDir(resolved)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			// Not there (yet): what is above it is watched, which is
			// where it will appear.
			return
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			resolved = p
			continue
		}
		addDir(resolved)
		hops++
		t, err := os.Readlink(p)
		if err != nil || hops > maxHops {
			return
		}
		if filepath.IsAbs(t) {
			resolved = string(filepath.Separator)
		}
		rest = append(strings.Split(t, string(filepath.Separator)), rest...)
	}
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

// changed lists the files of s whose signature differs in o.
func (s scan) changed(o scan) []string {
	var files []string
	for _, f := range s.files {
		if sig, ok := o.sigs[f]; !ok || !sig.equal(s.sigs[f]) {
			files = append(files, f)
		}
	}
	return files
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
