package setup_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/pvetenant/backend/shared/setup"
)

// A function started without its configuration says what is missing in one
// JSON log line (CloudWatch shows it as one event) and exits 1, rather than
// serving requests it cannot answer.
func TestMustLoadNamesWhatIsMissing(t *testing.T) {
	if os.Getenv("MUSTLOAD_CHILD") == "1" {
		setup.MustLoad(setup.Needs{Database: true, Credentials: true})
		os.Exit(0) // not reached when the configuration is incomplete
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMustLoadNamesWhatIsMissing$")
	cmd.Env = []string{"MUSTLOAD_CHILD=1", "SUPABASE_JWT_SECRET=a-secret-that-must-never-be-logged-0123456789", "PATH=" + os.Getenv("PATH")}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1; stderr: %s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines, want 1: %s", len(lines), stderr.String())
	}
	var line struct {
		Level, Msg, Error string
	}
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatalf("not JSON: %v: %s", err, lines[0])
	}
	if line.Level != "ERROR" || !strings.Contains(line.Error, "DATABASE_URL") || !strings.Contains(line.Error, "CREDENTIALS_KEY") {
		t.Fatalf("line %+v does not name DATABASE_URL and CREDENTIALS_KEY", line)
	}
	if strings.Contains(stderr.String(), "a-secret-that-must-never-be-logged") {
		t.Fatal("the JWT secret reached the log")
	}
}
