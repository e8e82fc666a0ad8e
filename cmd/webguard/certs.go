package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/webguard/webguard/internal/pki"
)

const certsUsage = `Usage: webguard certs ca|server|client [FLAGS]

Makes a small private PKI, replacing the usual page of openssl commands:
  webguard certs ca     --out DIR                     writes DIR/ca.crt, DIR/ca.key
  webguard certs server --ca DIR --out DIR --host H   writes DIR/server.crt, DIR/server.key
  webguard certs client --ca DIR --out DIR --cn NAME  writes DIR/client.crt, DIR/client.key

Keys are ECDSA P-256 unless --rsa-bits is given, written with mode 0600.
Existing files are never replaced without --force. After writing, server and
client print the web.yml and Prometheus tls_config snippets that use the files.

Run "webguard certs ca|server|client --help" for each one's flags.
`

// certs dispatches to the ca, server and client subcommands.
func (c *cli) certs(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, certsUsage)
		return exitUsage
	}
	switch args[0] {
	case "ca":
		return c.certsCA(args[1:])
	case "server":
		return c.certsLeaf(args[1:], true)
	case "client":
		return c.certsLeaf(args[1:], false)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(c.stdout, certsUsage)
		return exitOK
	}
	fmt.Fprintf(c.stderr, "webguard certs: unknown kind %q (want ca, server or client)\n\n%s", args[0], certsUsage)
	return exitUsage
}

// keyOptions are the flags every kind shares.
type keyOptions struct {
	out     *string
	days    *int
	rsaBits *int
	force   *bool
}

func addKeyOptions(fs *flag.FlagSet, days int) keyOptions {
	return keyOptions{
		out:     fs.String("out", "", "`DIR` to write the certificate and key to (created if missing; required)"),
		days:    fs.Int("days", days, "validity in `DAYS`"),
		rsaBits: fs.Int("rsa-bits", 0, "make an RSA key of `BITS` (2048..8192) instead of ECDSA P-256"),
		force:   fs.Bool("force", false, "replace existing files"),
	}
}

// check returns a usage problem with the shared flags, "" when there is none.
func (o keyOptions) check() string {
	switch {
	case *o.out == "":
		return "--out is required"
	case *o.days <= 0:
		return fmt.Sprintf("--days must be positive, got %d", *o.days)
	case *o.rsaBits != 0 && (*o.rsaBits < 2048 || *o.rsaBits > 8192):
		return fmt.Sprintf("--rsa-bits must be between 2048 and 8192, got %d", *o.rsaBits)
	}
	return ""
}

func (o keyOptions) request(cn string, hosts []string) pki.Request {
	return pki.Request{
		CommonName: cn,
		Hosts:      hosts,
		Validity:   time.Duration(*o.days) * 24 * time.Hour,
		RSABits:    *o.rsaBits,
	}
}

const caAbout = `
Makes a self-signed certificate authority: DIR/ca.crt (give it to servers as
client_ca_file and to Prometheus as ca_file) and DIR/ca.key (keep it private;
only "webguard certs server" and "certs client" need it).
`

func (c *cli) certsCA(args []string) int {
	cmd := newCommand("certs ca", "--out DIR [--cn NAME] [--days N] [--rsa-bits N] [--force]", caAbout)
	cn := cmd.flags.String("cn", "", "the CA's common `NAME` (default: \"webguard CA\", this machine's name and a random suffix)")
	opts := addKeyOptions(cmd.flags, 3650)
	rest, code, ok := c.parse(cmd, args)
	if !ok {
		return code
	}
	if len(rest) > 0 {
		return c.usageError(cmd, "unexpected argument %q", rest[0])
	}
	if msg := opts.check(); msg != "" {
		return c.usageError(cmd, "%s", msg)
	}
	if *cn == "" {
		*cn = defaultCAName()
	}
	ca, err := pki.NewCA(opts.request(*cn, nil))
	if err != nil {
		return c.fail(cmd, "%v", err)
	}
	crt, key, err := c.writePair(ca, *opts.out, "ca", *opts.force)
	if err != nil {
		return c.fail(cmd, "%v", err)
	}
	fmt.Fprintf(c.stdout, `CA %q valid until %s:
  certificate: %s
  key:         %s (keep it private)

Next:
  webguard certs server --ca %s --out DIR --host HOSTNAME,IP
  webguard certs client --ca %s --out DIR --cn prometheus
`, ca.Cert.Subject.CommonName, ca.Cert.NotAfter.UTC().Format(time.DateOnly), crt, key, shellQuote(*opts.out), shellQuote(*opts.out))
	return exitOK
}

// defaultCAName names a new CA after this machine, with a random suffix. Two
// CAs with one name confuse every "unknown authority" error (Go's names the
// other CA as the candidate it tried), and CAs made by different runs would
// otherwise all be called "webguard CA".
func defaultCAName() string {
	var b [3]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	name := "webguard CA"
	if h, err := os.Hostname(); err == nil && h != "" {
		name += " " + h
	}
	return name + " " + hex.EncodeToString(b[:])
}

const serverAbout = `
Makes a server certificate signed by the CA in CADIR (CADIR/ca.crt and
CADIR/ca.key): DIR/server.crt and DIR/server.key. Every --host becomes a
subject alternative name (an IP address an IP SAN, anything else a DNS name);
clients check the name they connect to against these, so list every name and
address the server is scraped by.
`

const clientAbout = `
Makes a client certificate signed by the CA in CADIR (CADIR/ca.crt and
CADIR/ca.key), for Prometheus or another scraper: DIR/client.crt and
DIR/client.key. The subject alternative names are the --san values, or the
common name when none is given; a server's client_allowed_sans matches them.
`

// certsLeaf makes a server or client certificate.
func (c *cli) certsLeaf(args []string, server bool) int {
	var (
		cmd   *command
		hosts hostList
		cn    *string
		base  string
	)
	if server {
		base = "server"
		cmd = newCommand("certs server", "--ca CADIR --out DIR --host NAME[,NAME...] [--cn NAME] [--days N] [--rsa-bits N] [--force]", serverAbout)
		cmd.flags.Var(&hosts, "host", "host `NAMES` and IP addresses the server is reached by, comma-separated or repeated (required)")
		cn = cmd.flags.String("cn", "", "common `NAME` (default: the first --host)")
	} else {
		base = "client"
		cmd = newCommand("certs client", "--ca CADIR --out DIR --cn NAME [--san NAME[,NAME...]] [--days N] [--rsa-bits N] [--force]", clientAbout)
		cn = cmd.flags.String("cn", "", "common `NAME`, e.g. prometheus (required)")
		cmd.flags.Var(&hosts, "san", "subject alternative `NAMES`: DNS names, IP addresses, e-mail addresses or URIs, comma-separated or repeated (default: the common name)")
	}
	caDir := cmd.flags.String("ca", "", "`CADIR` holding ca.crt and ca.key, as written by \"webguard certs ca\" (required)")
	opts := addKeyOptions(cmd.flags, 365)
	rest, code, ok := c.parse(cmd, args)
	if !ok {
		return code
	}
	switch {
	case len(rest) > 0:
		return c.usageError(cmd, "unexpected argument %q", rest[0])
	case *caDir == "":
		return c.usageError(cmd, "--ca is required")
	case server && len(hosts) == 0:
		return c.usageError(cmd, "--host is required")
	case !server && *cn == "":
		return c.usageError(cmd, "--cn is required")
	}
	if msg := opts.check(); msg != "" {
		return c.usageError(cmd, "%s", msg)
	}
	sanFromCN := !server && len(hosts) == 0
	if sanFromCN {
		hosts = hostList{*cn}
	}
	for _, h := range hosts {
		var msg string
		switch {
		case server:
			msg = checkHost("--host", h)
		case sanFromCN:
			if msg = checkSAN("--cn", h); msg != "" {
				msg += "; without --san the common name is the certificate's SAN, so give --san NAME as well"
			}
		default:
			msg = checkSAN("--san", h)
		}
		if msg != "" {
			return c.usageError(cmd, "%s", msg)
		}
	}

	ca, caCrt, err := loadCA(*caDir)
	if err != nil {
		return c.fail(cmd, "%v", err)
	}
	req := opts.request(*cn, hosts)
	var leaf *pki.Cert
	if server {
		leaf, err = ca.Server(req)
	} else {
		leaf, err = ca.Client(req)
	}
	if err != nil {
		return c.fail(cmd, "%v", err)
	}
	crt, key, err := c.writePair(leaf, *opts.out, base, *opts.force)
	if err != nil {
		return c.fail(cmd, "%v", err)
	}
	if leaf.Cert.NotAfter.After(ca.Cert.NotAfter) {
		fmt.Fprintf(c.stderr, "webguard %s: warning: the certificate is valid until %s but the CA only until %s; it stops verifying then\n",
			cmd.name, leaf.Cert.NotAfter.UTC().Format(time.DateOnly), ca.Cert.NotAfter.UTC().Format(time.DateOnly))
	}
	if server {
		printServerSnippets(c, crt, key, caCrt, serverName(hosts))
	} else {
		printClientSnippets(c, crt, key, caCrt, hosts)
	}
	return exitOK
}

// loadCA reads DIR/ca.crt and DIR/ca.key; it returns the CA and the absolute
// path of its certificate.
func loadCA(dir string) (*pki.Cert, string, error) {
	crtPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	crtPEM, err := os.ReadFile(crtPath)
	if err != nil {
		return nil, "", fmt.Errorf("read CA certificate: %w (make one with: webguard certs ca --out %s)", err, shellQuote(dir))
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, "", fmt.Errorf("read CA key: %w", err)
	}
	ca, err := pki.Parse(crtPEM, keyPEM)
	if err != nil {
		return nil, "", fmt.Errorf("%s and %s: %w", crtPath, keyPath, err)
	}
	if !ca.Cert.IsCA {
		return nil, "", fmt.Errorf("%s is not a certificate authority", crtPath)
	}
	abs, err := filepath.Abs(crtPath)
	if err != nil {
		return nil, "", err
	}
	return ca, abs, nil
}

// writePair writes DIR/BASE.crt (mode 0644) and DIR/BASE.key (mode 0600),
// creating DIR, and returns their absolute paths. Without force it refuses,
// before writing anything, when either exists.
func (c *cli) writePair(cert *pki.Cert, dir, base string, force bool) (crt, key string, err error) {
	if dir, err = filepath.Abs(dir); err != nil {
		return "", "", err
	}
	crt, key = filepath.Join(dir, base+".crt"), filepath.Join(dir, base+".key")
	if !force {
		for _, p := range []string{crt, key} {
			if _, err := os.Lstat(p); err == nil {
				return "", "", fmt.Errorf("%s already exists; use --force to replace it", p)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	if err := writeFile(key, cert.KeyPEM, 0o600, force); err != nil {
		return "", "", err
	}
	if err := writeFile(crt, cert.CertPEM, 0o644, force); err != nil {
		return "", "", err
	}
	fmt.Fprintf(c.stderr, "wrote %s\nwrote %s\n", crt, key)
	return crt, key, nil
}

// writeFile writes data to path with exactly mode perm. Without force it
// never replaces a file (O_EXCL); with force it writes a temporary file and
// renames it over path, so a replaced key never has the old file's mode.
func writeFile(path string, data []byte, perm os.FileMode, force bool) error {
	if !force {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; use --force to replace it", path)
		}
		if err != nil {
			return err
		}
		return finish(f, data, perm, path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if err := finish(f, data, perm, f.Name()); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// finish sets the mode (the umask may have removed bits), writes and closes.
func finish(f *os.File, data []byte, perm os.FileMode, name string) error {
	err := f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func printServerSnippets(c *cli, crt, key, caCrt, host string) {
	fmt.Fprintf(c.stdout, `# web.yml for the server (mutual TLS: only clients with a certificate from this CA):
tls_server_config:
  cert_file: %s
  key_file: %s
  client_ca_file: %s
  client_auth_type: RequireAndVerifyClientCert

# In prometheus.yml, the scrape job's tls_config (scheme: https); the client
# certificate comes from: webguard certs client --ca %s --out DIR --cn prometheus
    tls_config:
      ca_file: %s
      cert_file: %s
      key_file: %s
      server_name: %s
`, yamlScalar(crt), yamlScalar(key), yamlScalar(caCrt), shellQuote(filepath.Dir(caCrt)), yamlScalar(caCrt),
		sibling(crt, "client.crt"), sibling(crt, "client.key"), yamlScalar(host))
}

func printClientSnippets(c *cli, crt, key, caCrt string, sans []string) {
	fmt.Fprintf(c.stdout, `# In prometheus.yml, the scrape job's tls_config (scheme: https):
    tls_config:
      ca_file: %s
      cert_file: %s
      key_file: %s
      server_name: HOST   # one of the server certificate's --host names

# web.yml for the server, admitting this client (server certificate from
# webguard certs server --ca %s --out DIR --host HOST):
tls_server_config:
  cert_file: %s
  key_file: %s
  client_ca_file: %s
  client_auth_type: RequireAndVerifyClientCert
  client_allowed_sans: [%s]
`, yamlScalar(caCrt), yamlScalar(crt), yamlScalar(key), shellQuote(filepath.Dir(caCrt)),
		sibling(crt, "server.crt"), sibling(crt, "server.key"), yamlScalar(caCrt), yamlList(sans))
}

// serverName picks the name a scraper should expect from hosts: the first
// DNS name other than localhost, else the first host.
func serverName(hosts []string) string {
	for _, h := range hosts {
		if h != "localhost" && net.ParseIP(h) == nil && !strings.ContainsAny(h, "@/") {
			return h
		}
	}
	return hosts[0]
}

// sibling names the file called name next to path when it exists (the
// other side's certificate made into the same directory), DIR/name otherwise.
func sibling(path, name string) string {
	p := filepath.Join(filepath.Dir(path), name)
	if _, err := os.Stat(p); err != nil {
		return "DIR/" + name
	}
	return yamlScalar(p)
}

// hostList is a flag taking comma-separated values, repeatable.
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }

func (h *hostList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			return errors.New("empty name")
		}
		*h = append(*h, s)
	}
	return nil
}

// yamlList quotes each value for a YAML flow sequence.
func yamlList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// yamlScalar returns s as a YAML scalar: plain when that reads back the same,
// double-quoted otherwise.
func yamlScalar(s string) string {
	if s != "" && strings.Trim(s, safeChars) == "" && !strings.HasPrefix(s, "-") {
		return s
	}
	return fmt.Sprintf("%q", s)
}

// safeChars need quoting neither in YAML nor in a shell.
const safeChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./,=@"

// shellQuote quotes s for a shell command line when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, safeChars+":") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
