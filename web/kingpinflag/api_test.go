package kingpinflag

import (
	"github.com/alecthomas/kingpin/v2"

	"github.com/webguard/webguard/web"
)

// exporter-toolkit v0.20.0's kingpinflag.AddFlags takes a kingpin
// application or command; both compile here.
var (
	_ *web.FlagConfig = AddFlags(kingpin.New("app", ""), ":9100")
	_ *web.FlagConfig = AddFlags(kingpin.New("app", "").Command("serve", ""), ":9100")
)
