//go:build unix

package moto_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/killswitch/killswitch/test/moto"
)

// A python3 without moto gives an error that says how to install it.
func TestStartWithoutMoto(t *testing.T) {
	dir := t.TempDir()
	stub := "#!/bin/sh\necho \"/usr/bin/python3: No module named moto\" >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "python3"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	_, err := moto.Start()
	if err == nil || !strings.Contains(err.Error(), "pip install 'moto[server]'") || !strings.Contains(err.Error(), "No module named moto") {
		t.Errorf("Start without moto: err = %v, want the cause and the install command", err)
	}

	t.Setenv("PATH", t.TempDir())
	if _, err := moto.Start(); err == nil || !strings.Contains(err.Error(), "python3 not found") {
		t.Errorf("Start without python3: err = %v", err)
	}
}
