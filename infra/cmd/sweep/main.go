// Command sweep checks, after a test run, that no registered secret appears
// in any response body or log line the tests recorded (see package sweep).
package main

import (
	"fmt"
	"os"

	"github.com/pvetenant/backend/infra/sweep"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sweep DIR")
		os.Exit(2)
	}
	files, n, findings, err := sweep.Scan(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "sweep:", err)
		os.Exit(2)
	}
	if files == 0 {
		fmt.Fprintln(os.Stderr, "sweep: no records: did the tests run with SECRET_SWEEP_DIR set?")
		os.Exit(1)
	}
	for _, f := range findings {
		fmt.Printf("secret %s found in %s\n", f.Secret, f.File)
	}
	fmt.Printf("secrets sweep: %d records, %d bytes of responses and logs, %d secrets found\n", files, n, len(findings))
	if len(findings) > 0 {
		os.Exit(1)
	}
}
