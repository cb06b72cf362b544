// Command openapi writes the functions' OpenAPI 3.1 document, generated from
// the Go request and answer types, to infra/openapi/openapi.json.
package main

import (
	"fmt"
	"os"

	"github.com/pvetenant/backend/infra/openapi"
)

func main() {
	b, err := openapi.Document()
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
	path := "infra/openapi/openapi.json"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
	fmt.Println("wrote", path)
}
