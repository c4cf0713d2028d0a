package mesosgot

import (
	"fmt"

	sched "github.com/mesos/mesos-go/api/v0/scheduler"
)

// newSchedulerDriver makes the real mesos-go driver.
func newSchedulerDriver(cfg sched.DriverConfig) (sched.SchedulerDriver, error) {
	return sched.NewMesosSchedulerDriver(cfg)
}

// prepareMaster starts the embedded local cluster when Master is "local".
func (schd *GoTaskScheduler) prepareMaster() error {
	if isLocalMaster(schd.conf.Master) {
		return fmt.Errorf("mesosgot: -master=%s: the embedded local cluster is not built yet", schd.conf.Master)
	}
	return nil
}
