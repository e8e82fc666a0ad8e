package web_test

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/web"
)

// An exporter whose /metrics asks for a password, configured by web.yml.
func Example() {
	dir, err := os.MkdirTemp("", "webguard-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	hash, _ := bcrypt.Hash([]byte("secret"), bcrypt.MinCost) // webguard hash prints one
	file := filepath.Join(dir, "web.yml")
	yml := "basic_auth_users:\n  prometheus: " + string(hash) + "\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		log.Fatal(err)
	}

	// The exporter: a handler, a Guard for web.yml, a listener.
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "up 1") })
	guard, err := web.New(web.Options{ConfigFile: file})
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	server := &http.Server{Handler: mux}
	defer server.Close()
	go guard.Serve(l, server)

	// A scrape without, then with the password.
	req, _ := http.NewRequest("GET", "http://"+l.Addr().String()+"/metrics", nil)
	for _, password := range []string{"", "secret"} {
		if password != "" {
			req.SetBasicAuth("prometheus", password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(resp.Status, resp.Header.Get("X-Frame-Options"))
	}
	// Output:
	// 401 Unauthorized deny
	// 200 OK deny
}
