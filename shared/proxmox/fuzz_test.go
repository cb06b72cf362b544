package proxmox

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecoders: whatever a server sends, the tolerant decoders answer a
// value or an error, never a panic, and never more entries than elements.
func FuzzDecoders(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"data":[{"type":"lxc","vmid":"101","maxcpu":1.5},"garbage",{"id":7}]}`))
	f.Add([]byte(`{"data":null}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		if res, _, err := DecodeResources(body); err == nil {
			for _, r := range res {
				_ = r.IsGuest()
				_ = r.TagList()
			}
		}
		_, _, _ = DecodeNodes(body)
		_, _, _ = DecodeClusterStatus(body)
	})
}
