package pvesim

import "testing"

// NewTestSim builds and starts a simulator for a test and closes it in
// t.Cleanup. It lives outside _test files so other packages' tests can use
// it. The test fails immediately if the config is invalid.
func NewTestSim(t testing.TB, cfg Config) *Sim {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("pvesim.New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("pvesim.Start: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// MustPreset is Preset for tests and examples: it panics on an unknown name.
func MustPreset(name string) Config {
	cfg, err := Preset(name)
	if err != nil {
		panic(err)
	}
	return cfg
}
