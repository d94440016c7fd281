//go:build unix

package moto

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the server in its own process group, so Stop reaches
// every process python starts and a Ctrl-C of `go test` is not forwarded to it
// twice.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends SIGTERM (or SIGKILL) to the server's process group.
func signalGroup(cmd *exec.Cmd, kill bool) error {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}
