package sweep_test

import (
	"testing"

	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/infra/sweep"
)

// The sweep finds registered and built-in secrets in records, and nothing in
// clean ones.
func TestScanFindsPlantedSecrets(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(sweep.EnvDir, dir)
	sweep.Register("hunter2-registered-secret")
	sweep.Record("clean", []byte(`{"msg":"request","status":200,"name":"pvesim lab"}`))
	if _, _, f, err := sweep.Scan(dir); err != nil || len(f) != 0 {
		t.Fatalf("clean records: %v %v", f, err)
	}
	sweep.Record("leaky-log", []byte(`{"msg":"oops","detail":"hunter2-registered-secret"}`))
	sweep.Record("leaky-answer", []byte(`{"tokenSecret":"`+pvesim.PresetTokenSecret+`","password":"`+pvesim.PresetPassword+`"}`))
	files, _, f, err := sweep.Scan(dir)
	if err != nil || files != 3 {
		t.Fatalf("files %d err %v", files, err)
	}
	if len(f) != 3 {
		t.Fatalf("want the registered secret, the token secret and the quoted password; got %v", f)
	}
}
