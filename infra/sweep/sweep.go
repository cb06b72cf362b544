// Package sweep lets tests prove that no secret leaves: tests record every
// response body and log line they capture into $SECRET_SWEEP_DIR, register
// the secrets they use, and after the whole test run `go run ./infra/cmd/sweep`
// searches every record for every secret. Without the variable, recording
// is a no-op.
package sweep

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pvetenant/backend/infra/pvesim"
)

// EnvDir names the folder records go to.
const EnvDir = "SECRET_SWEEP_DIR"

const secretsFile = "secrets.list"

var mu sync.Mutex

// Dir is the sweep folder, or "" when sweeping is off.
func Dir() string { return os.Getenv(EnvDir) }

// Register records secrets that must never appear in a record.
func Register(secrets ...string) {
	dir := Dir()
	if dir == "" {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	f, err := os.OpenFile(filepath.Join(dir, secretsFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	for _, s := range secrets {
		if len(s) >= 6 && !strings.ContainsAny(s, "\n") {
			fmt.Fprintln(f, s)
		}
	}
}

// Record stores what a test saw (answers, log lines) under a label.
func Record(label string, data []byte) {
	dir := Dir()
	if dir == "" || len(data) == 0 {
		return
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, label) + "-" + hex.EncodeToString(id[:]) + ".rec"
	_ = os.WriteFile(filepath.Join(dir, name), data, 0o600)
}

// Builtin are the secrets the project's fixtures always use.
func Builtin() []string {
	return []string{pvesim.PresetTokenSecret, pvesim.PresetReadOnlySecret, pvesim.PresetPassword + "\x00", pvesim.PresetReadOnlyPassword + "\x00"}
}

// Finding is a secret found in a record.
type Finding struct {
	File   string
	Secret string // shown shortened
}

// Scan searches every record in dir for every registered and built-in secret.
func Scan(dir string) (files int, bytes int64, findings []Finding, err error) {
	secrets := map[string]bool{}
	for _, s := range Builtin() {
		// Short fixture passwords ("pvesim") would match ordinary words;
		// they are checked only in their quoted JSON or key=value forms.
		if strings.HasSuffix(s, "\x00") {
			p := strings.TrimSuffix(s, "\x00")
			secrets[`"`+p+`"`] = true
			secrets["="+p] = true
			continue
		}
		secrets[s] = true
	}
	if f, err := os.Open(filepath.Join(dir, secretsFile)); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			secrets[sc.Text()] = true
		}
		f.Close()
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, nil, err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".rec") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return files, bytes, findings, err
		}
		files++
		bytes += int64(len(b))
		text := string(b)
		for s := range secrets {
			if strings.Contains(text, s) {
				short := s
				if len(short) > 8 {
					short = short[:4] + "…"
				}
				findings = append(findings, Finding{File: e.Name(), Secret: short})
			}
		}
	}
	return files, bytes, findings, nil
}
