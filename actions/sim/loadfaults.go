package sim

import (
	"fmt"
	"strings"
	"time"
)

// specFault is a fault injected from a YAML file (drills, slow-run tests):
//
//	faults:
//	  - {account: "111122223333", operation: UpdateAccessKey, latency: 500ms}
//	  - {account: "222222222222", operation: "*", throttle: true, times: 3}
type specFault struct {
	Account   string        `yaml:"account"`
	Operation string        `yaml:"operation"`
	Throttle  bool          `yaml:"throttle"`
	Times     int           `yaml:"times"`
	Latency   time.Duration `yaml:"latency"`
}

// MaxFaults bounds the faults a file may inject.
const MaxFaults = 100

func validOperation(op string) bool {
	if op == "" || len(op) > 64 {
		return false
	}
	for _, r := range op {
		if !(r == '*' || r == '.' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// injectFaults validates and injects a file's faults.
func injectFaults(o *Org, faults []specFault) error {
	if len(faults) > MaxFaults {
		return fmt.Errorf("faults: %d faults, at most %d", len(faults), MaxFaults)
	}
	known := map[string]bool{"": true}
	for _, a := range o.Accounts() {
		known[a] = true
	}
	for i, f := range faults {
		switch {
		case !known[f.Account]:
			return fmt.Errorf("faults[%d]: account %q is not in the organization", i, f.Account)
		case !validOperation(f.Operation):
			return fmt.Errorf("faults[%d]: operation %q: an SDK operation name such as UpdateAccessKey or IAM.ListUsers, or *", i, f.Operation)
		case f.Times < 0 || f.Times > 1_000_000:
			return fmt.Errorf("faults[%d]: times %d: between 0 (always) and 1000000", i, f.Times)
		case f.Latency < 0 || f.Latency > time.Minute:
			return fmt.Errorf("faults[%d]: latency %s: between 0 and 1m", i, f.Latency)
		case !f.Throttle && f.Latency == 0:
			return fmt.Errorf("faults[%d]: give throttle: true or a latency", i)
		}
		op := strings.TrimSpace(f.Operation)
		if op == "*" {
			op = ""
		}
		o.InjectFault(Fault{Account: f.Account, Operation: op, Throttle: f.Throttle, Times: f.Times, Latency: f.Latency})
	}
	return nil
}
