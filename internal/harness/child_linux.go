package harness

import (
	"os/exec"
	"syscall"
)

// configureChild makes the kernel kill the child when the harness dies, so
// an interrupted run leaves no process behind.
func configureChild(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
