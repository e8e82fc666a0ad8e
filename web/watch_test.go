package web

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// watchWait bounds every wait for a change to be noticed. Nothing is
// asserted about how long it takes; it only keeps a broken watcher from
// hanging the test run.
const watchWait = 5 * time.Second

// watchEventually polls cond until it holds or watchWait passes.
func watchEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(watchWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// changeRecorder is an onChange that counts calls and remembers what the
// watched file held at each.
type changeRecorder struct {
	path string

	mu       sync.Mutex
	n        int
	contents []string
}

func (r *changeRecorder) onChange() {
	b, _ := os.ReadFile(r.path)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	r.contents = append(r.contents, string(b))
}

func (r *changeRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *changeRecorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.contents) == 0 {
		return ""
	}
	return r.contents[len(r.contents)-1]
}

// waitChange waits for call number n and returns what the file held then.
func (r *changeRecorder) waitChange(t *testing.T, n int) string {
	t.Helper()
	watchEventually(t, "the watcher to report the change", func() bool { return r.count() >= n })
	return r.last()
}

// startWatcher starts a watcher on files with a consumer that calls onChange
// for each settled change; both are stopped at cleanup.
func startWatcher(t *testing.T, files []string, onChange func(), opts watchOptions) *watcher {
	t.Helper()
	w := newWatcher(func() []string { return files }, nil, opts, nil)
	consume(t, w, func(c change) {
		if c.settled {
			onChange()
		}
	})
	return w
}

// consume calls f with every change w reports, on a goroutine of its own,
// until the test ends; then it stops w.
func consume(t *testing.T, w *watcher, f func(change)) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case c := <-w.changes:
				f(c)
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		w.stop()
	})
}

func watchWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// watchReplace writes content the way careful writers do: to a temporary file
// in the same directory, renamed over path.
func watchReplace(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	watchWrite(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// fastWatch keeps tests quick: events settle in 20 ms, and the poll fallback
// is far enough away that tests of events do not pass by polling.
var fastWatch = watchOptions{debounce: 20 * time.Millisecond, pollEvery: time.Hour}

func TestWatcherSeesWrites(t *testing.T) {
	tests := []struct {
		name  string
		write func(t *testing.T, path, content string)
	}{
		{"in place", watchWrite},
		{"rename over", watchReplace},
		{"remove then create", func(t *testing.T, path, content string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			watchWrite(t, path, content)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "web.yml")
			watchWrite(t, path, "one")
			rec := &changeRecorder{path: path}
			startWatcher(t, []string{path}, rec.onChange, fastWatch)

			tc.write(t, path, "two")
			if got := rec.waitChange(t, 1); got != "two" {
				t.Errorf("onChange read %q, want %q", got, "two")
			}
			tc.write(t, path, "three, longer")
			if got := rec.waitChange(t, 2); got != "three, longer" {
				t.Errorf("onChange read %q, want %q", got, "three, longer")
			}
		})
	}
}

// TestWatcherDebounce writes a file in pieces, the way an editor or a slow
// writer does, and checks that onChange sees only the whole file, once.
func TestWatcherDebounce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.yml")
	watchWrite(t, path, "old")
	rec := &changeRecorder{path: path}
	// A debounce far longer than the pauses between pieces.
	startWatcher(t, []string{path}, rec.onChange, watchOptions{debounce: 400 * time.Millisecond, pollEvery: time.Hour})

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, piece := range []string{"tls_server_config:\n", "  cert_file: a\n", "basic_auth_users:\n", "  u: h\n"} {
		if _, err := f.WriteString(piece); err != nil {
			t.Fatal(err)
		}
		want += piece
		time.Sleep(5 * time.Millisecond) // a writer pausing, not an assertion
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := rec.waitChange(t, 1); got != want {
		t.Errorf("onChange read %q, want the whole file %q", got, want)
	}
	if n := rec.count(); n != 1 {
		t.Errorf("onChange called %d times for one write, want 1", n)
	}
}

// k8sVolume lays out a directory the way the kubelet's atomic writer does
// for a Secret or ConfigMap volume: timestamped data directories, a
// "..data" symlink to the current one, and one symlink per key through it.
type k8sVolume struct {
	t   *testing.T
	dir string
	gen int
}

func newK8sVolume(t *testing.T, files map[string]string) *k8sVolume {
	v := &k8sVolume{t: t, dir: t.TempDir()}
	v.update(files)
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(v.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// update swaps in new contents: a new timestamped directory, a new symlink
// "..data_tmp" to it renamed over "..data", and the old directory removed.
func (v *k8sVolume) update(files map[string]string) {
	t := v.t
	v.gen++
	ts := "..2026_11_24_11_00_00." + string(rune('0'+v.gen))
	if err := os.Mkdir(filepath.Join(v.dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		watchWrite(t, filepath.Join(v.dir, ts, name), content)
	}
	old, _ := os.Readlink(filepath.Join(v.dir, "..data"))
	if err := os.Symlink(ts, filepath.Join(v.dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(v.dir, "..data_tmp"), filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(v.dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWatcherKubernetesSymlinkSwap(t *testing.T) {
	for name, opts := range map[string]watchOptions{
		"events":  fastWatch,
		"polling": {debounce: 20 * time.Millisecond, pollEvery: 30 * time.Millisecond, noEvents: true},
	} {
		t.Run(name, func(t *testing.T) {
			v := newK8sVolume(t, map[string]string{"web.yml": "one", "tls.crt": "cert one"})
			path := filepath.Join(v.dir, "web.yml")
			rec := &changeRecorder{path: path}
			startWatcher(t, []string{path, filepath.Join(v.dir, "tls.crt")}, rec.onChange, opts)

			for i, content := range []string{"two", "three"} {
				v.update(map[string]string{"web.yml": content, "tls.crt": "cert " + content})
				if got := rec.waitChange(t, i+1); got != content {
					t.Errorf("swap %d: onChange read %q, want %q", i+1, got, content)
				}
			}
		})
	}
}

// TestWatcherSymlinkChain follows a link to a file in another directory, and
// a link in that directory re-pointed (certbot's live/ -> archive/ layout).
func TestWatcherSymlinkChain(t *testing.T) {
	live, archive := t.TempDir(), t.TempDir()
	watchWrite(t, filepath.Join(archive, "cert1.pem"), "one")
	watchWrite(t, filepath.Join(archive, "cert2.pem"), "two")
	if err := os.Symlink(filepath.Join(archive, "cert1.pem"), filepath.Join(live, "cert.pem")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "server.crt")
	if err := os.Symlink(filepath.Join(live, "cert.pem"), path); err != nil {
		t.Fatal(err)
	}
	rec := &changeRecorder{path: path}
	startWatcher(t, []string{path}, rec.onChange, fastWatch)

	// Re-point the link in live/, atomically.
	tmp := filepath.Join(live, "cert.pem.new")
	if err := os.Symlink(filepath.Join(archive, "cert2.pem"), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(live, "cert.pem")); err != nil {
		t.Fatal(err)
	}
	if got := rec.waitChange(t, 1); got != "two" {
		t.Errorf("onChange read %q, want %q", got, "two")
	}
	// And an in-place write to the final file, in a third directory.
	watchWrite(t, filepath.Join(archive, "cert2.pem"), "two, edited")
	if got := rec.waitChange(t, 2); got != "two, edited" {
		t.Errorf("onChange read %q, want %q", got, "two, edited")
	}
}

// TestWatcherPollFallback turns events off: changes are still seen.
func TestWatcherPollFallback(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web.yml")
	watchWrite(t, path, "one")
	rec := &changeRecorder{path: path}
	startWatcher(t, []string{path}, rec.onChange, watchOptions{debounce: 20 * time.Millisecond, pollEvery: 30 * time.Millisecond, noEvents: true})

	watchReplace(t, path, "two")
	if got := rec.waitChange(t, 1); got != "two" {
		t.Errorf("onChange read %q, want %q", got, "two")
	}
	// Written in place: a writer descheduled for longer than the debounce
	// between truncating and writing (a loaded machine) leaves an empty file
	// that polling rightly sees twice unchanged and reports; the final
	// content must then come in a later report.
	watchWrite(t, path, "three")
	watchEventually(t, `the watcher to report "three"`, func() bool { return rec.last() == "three" })
}

// TestWatcherMissingDirectory starts with a file whose directory does not
// exist yet: the watch is added once it appears, and its file reported.
func TestWatcherMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	path := filepath.Join(dir, "tls.crt")
	rec := &changeRecorder{path: path}
	// Polling is what retries the directory; events then take over.
	startWatcher(t, []string{path}, rec.onChange, watchOptions{debounce: 20 * time.Millisecond, pollEvery: 30 * time.Millisecond})

	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	watchWrite(t, path, "one")
	if got := rec.waitChange(t, 1); got != "one" {
		t.Errorf("onChange read %q, want %q", got, "one")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	rec.waitChange(t, 2) // a file disappearing is a change too
}

// TestWatcherFileSetChanges changes the watched set on a change, as a
// reload that names a new certificate file does.
func TestWatcherFileSetChanges(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	cfg, cert := filepath.Join(dirA, "web.yml"), filepath.Join(dirB, "new.crt")
	watchWrite(t, cfg, "cert_file: old.crt")
	watchWrite(t, cert, "new cert")

	var mu sync.Mutex
	files := []string{cfg}
	var calls atomic.Int32
	refresh := make(chan struct{}, 1)
	w := newWatcher(func() []string {
		mu.Lock()
		defer mu.Unlock()
		return files
	}, refresh, fastWatch, nil)
	consume(t, w, func(c change) {
		if !c.settled {
			return
		}
		calls.Add(1)
		mu.Lock()
		files = []string{cfg, cert}
		mu.Unlock()
		refresh <- struct{}{}
	})

	watchWrite(t, cfg, "cert_file: new.crt")
	watchEventually(t, "the config change", func() bool { return calls.Load() >= 1 })
	// The watch moves when the watcher takes the refresh, a moment after
	// the report: a write before that is part of the file as first seen.
	// So the file is renewed until a change is reported.
	n := 0
	watchEventually(t, "the change to the newly watched file", func() bool {
		n++
		watchReplace(t, cert, fmt.Sprintf("new cert, renewal %d", n))
		time.Sleep(5 * fastWatch.debounce) // a writer's pause, not an assertion
		return calls.Load() >= 2
	})
}

func TestScanRelevant(t *testing.T) {
	v := newK8sVolume(t, map[string]string{"tls.crt": "c"})
	other := t.TempDir()
	plain := filepath.Join(other, "web.yml")
	watchWrite(t, plain, "")
	s := scanFiles([]string{filepath.Join(v.dir, "tls.crt"), plain})

	for _, tc := range []struct {
		name string
		want bool
	}{
		{filepath.Join(v.dir, "tls.crt"), true},
		{filepath.Join(v.dir, "..data"), true},
		{filepath.Join(v.dir, "..2026_11_24_11_00_00.1", "tls.crt"), true},
		{filepath.Join(v.dir, "..2026_11_24_11_00_00.1"), true},
		{v.dir, true}, // the directory itself removed or renamed
		{plain, true},
		{filepath.Join(v.dir, "..data_tmp"), false},
		{filepath.Join(v.dir, "tls.key"), false},
		{filepath.Join(other, "web.yml.swp"), false},
		{filepath.Join(other, "web"), false},
	} {
		if got := s.relevant(tc.name); got != tc.want {
			t.Errorf("relevant(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	wantDirs := []string{v.dir, filepath.Join(v.dir, "..2026_11_24_11_00_00.1"), other}
	for _, d := range wantDirs {
		found := false
		for _, got := range s.dirs {
			found = found || got == d
		}
		if !found {
			t.Errorf("directory %s not watched; watching %q", d, s.dirs)
		}
	}
}

// TestSignature checks the cheap change test on the cases mtime and size
// alone would miss.
func TestSignature(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tls.crt")
	watchWrite(t, path, "aaaa")
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	before := stat(path)
	if !before.exists || !before.equal(stat(path)) {
		t.Fatal("a file not touched changed signature")
	}

	// Same size and mtime, new inode: a rename-based writer preserving times.
	watchReplace(t, path, "bbbb")
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if before.equal(stat(path)) {
		t.Error("a file replaced by rename (same size and mtime) kept its signature")
	}

	// Same content, reached through a symlink to another file.
	other := filepath.Join(dir, "other.crt")
	watchWrite(t, other, "bbbb")
	before = stat(path)
	link := filepath.Join(dir, "link.crt")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	viaLink := stat(link)
	if !viaLink.equal(before) {
		t.Error("a symlink to the same file should have its signature")
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, link); err != nil {
		t.Fatal(err)
	}
	if viaLink.equal(stat(link)) {
		t.Error("a symlink re-pointed to another file kept its signature")
	}

	if missing := stat(filepath.Join(dir, "nope")); missing.exists || !missing.equal(signature{}) {
		t.Error("a missing file should have the empty signature")
	}
}

// TestWatcherStop checks that stop returns while the consumer of changes is
// still busy (a reload blocked on a slow read must not hold up shutdown), is
// idempotent, and leaves no goroutine behind (the watcher's and fsnotify's).
func TestWatcherStop(t *testing.T) {
	before := runtime.NumGoroutine()
	path := filepath.Join(t.TempDir(), "web.yml")
	watchWrite(t, path, "one")

	w := newWatcher(func() []string { return []string{path} }, nil, fastWatch, nil)
	entered, release, consumed := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(consumed)
		<-w.changes
		close(entered)
		<-release // a reload stuck on a read
	}()
	watchWrite(t, path, "two")
	select {
	case <-entered:
	case <-time.After(watchWait):
		t.Fatal("no change reported")
	}
	// More changes while the consumer is stuck: the watcher keeps the
	// latest and does not wait.
	watchWrite(t, path, "three")

	stopped := make(chan struct{})
	go func() { w.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(watchWait):
		t.Fatal("stop waited for the busy consumer")
	}
	w.stop() // idempotent
	close(release)
	<-consumed

	watchEventually(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}

// TestWatcherTentative writes a file with a debounce far longer than the
// test: the change is reported at once as tentative, then as settled once
// the writes stop.
func TestWatcherTentative(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.crt")
	watchWrite(t, path, "one")
	w := newWatcher(func() []string { return []string{path} }, nil, watchOptions{debounce: 300 * time.Millisecond, pollEvery: time.Hour}, nil)
	t.Cleanup(w.stop)
	watchWrite(t, path, "two")
	var got []change
	for len(got) == 0 || !got[len(got)-1].settled {
		select {
		case c := <-w.changes:
			got = append(got, c)
		case <-time.After(watchWait):
			t.Fatalf("reported %d changes and none settled", len(got))
		}
	}
	// The truncate and the write of os.WriteFile may each be reported.
	if len(got) < 2 || got[0].settled {
		t.Fatalf("reported %d changes, the first settled %v; want tentative ones first", len(got), got[0].settled)
	}
	for i, c := range got {
		if len(c.files) != 1 || c.files[0] != path {
			t.Errorf("report %d names %q, want %q", i, c.files, path)
		}
	}
	if last, tentative := got[len(got)-1], got[len(got)-2]; !last.state.equal(tentative.state) {
		t.Error("the settled report's look differs from the last tentative one's, with no write between")
	}
}

// TestWatcherStopIdle stops a watcher that never reported anything.
func TestWatcherStopIdle(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, opts := range []watchOptions{fastWatch, {noEvents: true}} {
		path := filepath.Join(t.TempDir(), "web.yml")
		w := newWatcher(func() []string { return []string{path} }, nil, opts, nil)
		w.stop()
		select {
		case c := <-w.changes:
			t.Errorf("unexpected change %v", c.files)
		default:
		}
	}
	watchEventually(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}

// TestWatcherIgnoresNeighbours writes other files in the watched directory,
// then the watched file: only the latter is reported.
func TestWatcherIgnoresNeighbours(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web.yml")
	watchWrite(t, path, "one")
	rec := &changeRecorder{path: path}
	startWatcher(t, []string{path}, rec.onChange, fastWatch)

	for i := range 20 {
		watchWrite(t, filepath.Join(dir, "exporter.log"), string(bytes.Repeat([]byte("x"), i)))
		watchReplace(t, filepath.Join(dir, "other.yml"), "x")
	}
	watchWrite(t, path, "two")
	if got := rec.waitChange(t, 1); got != "two" {
		t.Errorf("onChange read %q, want %q", got, "two")
	}
	if n := rec.count(); n != 1 {
		t.Errorf("onChange called %d times, want 1", n)
	}
}
