package policies

import (
	"bytes"
	"encoding/json"
)

// Show renders the document called name with p as `killswitch policy show`
// prints it and the runbook pages quote it: the rendered document (whole,
// also when it is attached in parts), indented two spaces, keys sorted,
// ending in a newline.
func Show(name string, p Params) (string, error) {
	doc, err := Render(name, p)
	if err != nil {
		return "", err
	}
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return "", err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return b.String(), nil
}
