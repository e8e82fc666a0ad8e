package config_test

import (
	"fmt"
	"maps"
	"slices"

	"github.com/webguard/webguard/config"
)

func ExampleLoad() {
	c, err := config.Load("testdata/example/web.yml")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("TLS:", c.TLS.IsEnabled())
	fmt.Println("users:", slices.Sorted(maps.Keys(c.Users)))
	fmt.Println("X-Frame-Options:", c.HTTP.Headers["X-Frame-Options"])
	fmt.Printf("rate limit: one request every %s, bursts of %d\n", c.RateLimit.Interval, c.RateLimit.Burst)
	// Output:
	// TLS: false
	// users: [prometheus]
	// X-Frame-Options: deny
	// rate limit: one request every 100ms, bursts of 20
}

// Errors name the file, the line and the field, and say what is allowed.
func ExampleLoad_error() {
	_, err := config.Load("testdata/example/bad.yml")
	fmt.Println(err)
	// Output:
	// testdata/example/bad.yml:4: tls_server_config.client_auth_type: unknown value "RequireClient" (want one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert, RequireClientCert)
}
