package main

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// configKeys returns every key of the configuration struct t as the README
// writes it: section.key, from the yaml tags.
func configKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == t.PkgPath() {
			out = append(out, configKeys(f.Type, key+".")...)
			continue
		}
		out = append(out, key)
	}
	return out
}

// TestREADMEDocumentsEveryConfigKey: the README's configuration reference
// names every key of Config (a new key fails this until it is documented).
func TestREADMEDocumentsEveryConfigKey(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "### Configuration reference")
	if start < 0 {
		t.Fatal("README.md has no \"### Configuration reference\" section")
	}
	section := readme[start:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	keys := configKeys(reflect.TypeOf(Config{}), "")
	if len(keys) < 20 {
		t.Fatalf("only %d keys found: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.Contains(section, "| `"+k+"` |") {
			t.Errorf("README.md's configuration reference has no row for `%s`", k)
		}
	}
}
