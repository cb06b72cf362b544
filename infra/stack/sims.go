package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/pvetenant/backend/infra/pvesim"
)

// startSims starts the demo simulators with the ports, certificates and
// guest statuses saved in dir/pvesim/<name>.json by an earlier run (a fresh
// folder gives fresh ones), so a server pinned or added by hand keeps
// working across restarts.
func startSims(dir string, out io.Writer) (map[string]*pvesim.Sim, error) {
	sims := map[string]*pvesim.Sim{}
	for _, d := range demoServers {
		cfg, err := pvesim.Preset(d.preset)
		if err != nil {
			return sims, err
		}
		s, err := pvesim.New(cfg)
		if err != nil {
			return sims, err
		}
		path := simStatePath(dir, d.name)
		saved, ok, err := pvesim.LoadSaved(path)
		if err != nil {
			return sims, err
		}
		if ok {
			if err := s.Restore(saved); err != nil {
				return sims, fmt.Errorf("%s: %w", path, err)
			}
		}
		if err := s.Start(); err != nil && ok {
			// The saved port was taken between the check and the listen:
			// keep the certificate and guests, take any port.
			fresh := saved
			fresh.Port = 0
			if s, err = pvesim.New(cfg); err != nil {
				return sims, err
			}
			if err := s.Restore(fresh); err != nil {
				return sims, err
			}
			if err := s.Start(); err != nil {
				return sims, err
			}
		} else if err != nil {
			return sims, err
		}
		sims[d.name] = s
		if ok && saved.Port != s.Port() {
			fmt.Fprintf(out, "  %s: port %d is taken now, moved to %d\n", d.name, saved.Port, s.Port())
		}
	}
	return sims, saveSims(dir, sims, nil)
}

func simStatePath(dir, name string) string { return filepath.Join(dir, "pvesim", name+".json") }

// saveSims writes each simulator's state when it differs from last (which
// it updates); last nil writes all.
func saveSims(dir string, sims map[string]*pvesim.Sim, last map[string]string) error {
	for name, s := range sims {
		sv, err := s.Save()
		if err != nil {
			return err
		}
		b, _ := json.Marshal(sv)
		if last != nil && last[name] == string(b) {
			continue
		}
		if err := pvesim.WriteSaved(simStatePath(dir, name), sv); err != nil {
			return err
		}
		if last != nil {
			last[name] = string(b)
		}
	}
	return nil
}

// keepSimsSaved saves guest status changes (a VM started from the page)
// every second until ctx ends, then once more.
func keepSimsSaved(ctx context.Context, dir string, sims map[string]*pvesim.Sim, logf func(error)) {
	last := map[string]string{}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := saveSims(dir, sims, last); err != nil {
				logf(err)
			}
			return
		case <-t.C:
			if err := saveSims(dir, sims, last); err != nil {
				logf(err)
			}
		}
	}
}
