package proxmox

import (
	"encoding/json"
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
		var env struct {
			Data []json.RawMessage `json:"data"`
		}
		elements := -1 // unknown: the body is not an envelope with a data array
		if json.Unmarshal(body, &env) == nil {
			elements = len(env.Data)
		}
		if res, _, err := DecodeResources(body); err == nil {
			if elements >= 0 && len(res) > elements {
				t.Fatalf("%d resources from %d elements", len(res), elements)
			}
			for _, r := range res {
				_ = r.IsGuest()
				_ = r.TagList()
			}
		}
		if nodes, _, err := decodeNodes(body); err == nil && elements >= 0 && len(nodes) > elements {
			t.Fatalf("%d nodes from %d elements", len(nodes), elements)
		}
		_, _, _ = decodeClusterStatus(body)
	})
}
