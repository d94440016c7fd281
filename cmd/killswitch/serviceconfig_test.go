package main

import (
	"strings"
	"testing"

	"github.com/killswitch/killswitch/bot"
)

// TestServiceConfigKeys: service.workers and service.queue default to the
// bot's defaults, are read when set, are bounded, and the section's
// unknown keys are errors.
func TestServiceConfigKeys(t *testing.T) {
	base := "aws:\n  backend: sim\n"
	cfg, err := parseConfig([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Service.Workers != bot.DefaultWorkers || cfg.Service.Queue != bot.DefaultQueue {
		t.Fatalf("defaults: workers %d, queue %d", cfg.Service.Workers, cfg.Service.Queue)
	}
	cfg, err = parseConfig([]byte(base + "service:\n  workers: 3\n  queue: 500\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Service.Workers != 3 || cfg.Service.Queue != 500 {
		t.Fatalf("set: workers %d, queue %d", cfg.Service.Workers, cfg.Service.Queue)
	}
	for extra, want := range map[string]string{
		"service:\n  workers: -1\n":    "service.workers -1: between 1 and 256",
		"service:\n  workers: 1000\n":  "service.workers 1000: between 1 and 256",
		"service:\n  queue: -5\n":      "service.queue -5: between 1 and 100000",
		"service:\n  queue: 1000000\n": "service.queue 1000000: between 1 and 100000",
		"service:\n  threads: 4\n":     `configuration:4: unknown key "threads" in service (valid keys there: workers, queue)`,
	} {
		if _, err := parseConfig([]byte(base + extra)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", strings.TrimSpace(extra), err, want)
		}
	}
}
