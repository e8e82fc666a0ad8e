package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// upstreamTLSPoll is how often the upstream TLS files are checked for a
// change. A stat of three files a second costs nothing; a rotated client
// certificate is in use about a second after its key is written.
const upstreamTLSPoll = time.Second

// maxPEMFile bounds what is read from one upstream TLS file: a CA bundle
// with every public root is about 250 KiB.
const maxPEMFile = 4 << 20

// upstreamTLS is the client side of the proxy's https upstreams: the CA
// their certificates are verified with (the system roots when none is
// given), the client certificate presented to them, and the server name
// checked. The files are read and compiled into one tls.Config per
// upstream name when they change, never per request or per connection; if
// a change does not compile (a key that does not match its certificate
// yet, a CA file without a certificate), the previous configs stay in use.
//
// Each successful compile starts a new generation: idle upstream
// connections made under an older one are closed instead of reused, so a
// rotated client certificate or CA applies from the next request.
type upstreamTLS struct {
	caFile, certFile, keyFile string
	serverName                string   // --upstream.server-name; "" for each upstream's host
	names                     []string // the upstreams' hosts
	logger                    *slog.Logger

	cur atomic.Pointer[upstreamTLSState]

	mu   sync.Mutex // one reload at a time; guards seen
	seen fileStamps // the files as they were at the last attempt
}

// upstreamTLSState is one compiled generation of the upstream TLS files.
type upstreamTLSState struct {
	gen     uint64
	configs map[string]*tls.Config // by upstream host
}

// newUpstreamTLS compiles the files for the given upstream hosts. Its error
// names the file at fault.
func newUpstreamTLS(caFile, certFile, keyFile, serverName string, names []string, logger *slog.Logger) (*upstreamTLS, error) {
	t := &upstreamTLS{caFile: caFile, certFile: certFile, keyFile: keyFile, serverName: serverName, names: names, logger: logger}
	t.seen = t.stamps()
	configs, err := t.compile()
	if err != nil {
		return nil, err
	}
	t.cur.Store(&upstreamTLSState{gen: 1, configs: configs})
	return t, nil
}

// generation is the current generation; 0 for a nil upstreamTLS (plain
// upstreams), which never changes.
func (t *upstreamTLS) generation() uint64 {
	if t == nil {
		return 0
	}
	return t.cur.Load().gen
}

// config returns the tls.Config for the upstream host name and its
// generation.
func (t *upstreamTLS) config(name string) (*tls.Config, uint64) {
	s := t.cur.Load()
	return s.configs[name], s.gen
}

// compile reads the files and builds a tls.Config for every upstream host.
func (t *upstreamTLS) compile() (map[string]*tls.Config, error) {
	base := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.caFile != "" {
		pem, err := readPEMFile(t.caFile)
		if err != nil {
			return nil, err
		}
		base.RootCAs = x509.NewCertPool()
		if !base.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in the file", t.caFile)
		}
	}
	if t.certFile != "" {
		certPEM, err := readPEMFile(t.certFile)
		if err != nil {
			return nil, err
		}
		keyPEM, err := readPEMFile(t.keyFile)
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("%s and %s: %w", t.certFile, t.keyFile, err)
		}
		base.Certificates = []tls.Certificate{pair}
	}
	// One session cache per generation: a session resumed from before a
	// change of CA would skip the new CA's check.
	base.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	configs := make(map[string]*tls.Config, len(t.names))
	for _, n := range t.names {
		c := base.Clone()
		c.ServerName = n
		if t.serverName != "" {
			c.ServerName = t.serverName
		}
		configs[n] = c
	}
	return configs, nil
}

// reload compiles the files again and, if that works, starts a new
// generation. force reloads even when the files look unchanged (SIGHUP).
func (t *upstreamTLS) reload(force bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	stamps := t.stamps()
	if !force && stamps == t.seen {
		return nil
	}
	t.seen = stamps
	configs, err := t.compile()
	if err != nil {
		t.logger.Error("upstream TLS files not reloaded; keeping the previous ones", "err", err)
		return err
	}
	prev := t.cur.Load()
	t.cur.Store(&upstreamTLSState{gen: prev.gen + 1, configs: configs})
	t.logger.Info("upstream TLS files reloaded", "file", t.files())
	return nil
}

// watch reloads on change, checking every upstreamTLSPoll, until ctx ends.
func (t *upstreamTLS) watch(ctx context.Context) {
	tick := time.NewTicker(upstreamTLSPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			_ = t.reload(false) // logged; the previous configs stay
		}
	}
}

func (t *upstreamTLS) files() []string {
	var fs []string
	for _, f := range []string{t.caFile, t.certFile, t.keyFile} {
		if f != "" {
			fs = append(fs, f)
		}
	}
	return fs
}

// fileStamp is what changes when a file is written or replaced.
type fileStamp struct {
	size    int64
	mtime   time.Time
	dev     uint64
	ino     uint64
	missing bool
}

type fileStamps [3]fileStamp // CA, certificate, key

func (t *upstreamTLS) stamps() fileStamps {
	var s fileStamps
	for i, f := range []string{t.caFile, t.certFile, t.keyFile} {
		if f == "" {
			continue
		}
		// Stat follows symbolic links, so a Kubernetes-style swap of the
		// link's target shows as a new inode.
		fi, err := os.Stat(f)
		if err != nil {
			s[i].missing = true
			continue
		}
		s[i].size, s[i].mtime = fi.Size(), fi.ModTime()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			s[i].dev, s[i].ino = uint64(st.Dev), st.Ino
		}
	}
	return s
}

// readPEMFile reads a certificate, key or CA file: a regular file (a FIFO
// would block the reload), at most maxPEMFile bytes.
func readPEMFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPEMFile {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, maxPEMFile>>20)
	}
	if len(b) == 0 {
		return nil, errors.New(path + ": empty file")
	}
	return b, nil
}
