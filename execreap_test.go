package mesosgot

import (
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mesosgot/mesosgot/internal/proctest"
)

var executorStarted = regexp.MustCompile(`executor \S+ of framework \S+ started on agent .*\(pid (\d+),`)

// reapExecutors kills, at the end of the test, agent (a mesos-agent
// process) and then every executor it said it started. The agents of the
// process tests have work dirs of their own, so they checkpoint and their
// executors outlive them by design (recovery after an agent restart): none
// may outlive the test, passing or failing. Each executor runs in its own
// process group. Call it for every agent process, a restarted one too.
func reapExecutors(t *testing.T, agent *proctest.Proc) {
	t.Cleanup(func() {
		_ = syscall.Kill(-agent.Pid(), syscall.SIGKILL) // no new executor from here on
		_ = agent.Wait(10 * time.Second)
		for _, m := range executorStarted.FindAllStringSubmatch(agent.Output(), -1) {
			if pid, err := strconv.Atoi(m[1]); err == nil && pid > 1 {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	})
}
