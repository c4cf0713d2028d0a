package mesosgot

import (
	"strconv"
	"syscall"
	"testing"

	"github.com/mesosgot/mesosgot/internal/proctest"
)

// reapExecutors kills, at the end of the test, every executor that agent
// (a mesos-agent process) said it started. The agents of the process tests
// have work dirs of their own, so they checkpoint and their executors
// outlive them by design (recovery after an agent restart): none may
// outlive the test, passing or failing. Each executor runs in its own
// process group.
func reapExecutors(t *testing.T, agent *proctest.Proc) {
	t.Cleanup(func() {
		for _, m := range executorStarted.FindAllStringSubmatch(agent.Output(), -1) {
			if pid, err := strconv.Atoi(m[1]); err == nil && pid > 1 {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	})
}
