package bcrypt_test

import (
	"fmt"
	"log"

	"github.com/webguard/webguard/bcrypt"
)

func Example() {
	// What `webguard hash` or `htpasswd -nB` would print; MinCost keeps the
	// example fast, use DefaultCost or more for real.
	hash, err := bcrypt.Hash([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		log.Fatal(err)
	}
	users, err := bcrypt.NewUsers(map[string]string{"prometheus": string(hash)})
	if err != nil {
		log.Fatal(err)
	}

	v := bcrypt.NewVerifier(bcrypt.VerifierOptions{}) // one per server
	fmt.Println(v.Verify(users, "prometheus", "correct horse"))
	fmt.Println(v.Verify(users, "prometheus", "battery staple"))
	fmt.Println(v.Verify(users, "grafana", "correct horse"))
	// Output:
	// <nil>
	// bcrypt: wrong password
	// bcrypt: unknown user
}
