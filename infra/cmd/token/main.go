// Command token prints a fresh access token (valid 24 h, or -ttl) for a demo
// user of the local stack, signed with the stack's JWT secret in .local
// (STACK_DIR), so a curl can go on after the printed tokens expire:
//
//	TOKEN_ALICE=$(go run ./infra/cmd/token alice@acme.test)
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pvetenant/backend/infra/stack"
)

func main() {
	ttl := flag.Duration("ttl", 24*time.Hour, "how long the token is valid")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./infra/cmd/token [-ttl 24h] <email>")
		for _, u := range stack.DemoUsers() {
			fmt.Fprintf(os.Stderr, "  %-18s %s\n", u.Email, u.Role)
		}
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	dir := os.Getenv("STACK_DIR")
	if dir == "" {
		dir = ".local"
	}
	// Never create a key file here: a token signed with a secret no stack
	// uses would only confuse.
	if _, err := os.Stat(filepath.Join(dir, "keys.json")); err != nil {
		fmt.Fprintf(os.Stderr, "token: no %s: start the stack once (./infra/start.sh) from the repository root\n", filepath.Join(dir, "keys.json"))
		os.Exit(1)
	}
	tok, err := stack.Token(dir, flag.Arg(0), *ttl)
	if err != nil {
		fmt.Fprintln(os.Stderr, "token: "+err.Error())
		os.Exit(1)
	}
	fmt.Println(tok)
}
