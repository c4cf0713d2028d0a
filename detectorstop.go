package mesosgot

import (
	"github.com/mesos/mesos-go/api/v0/detector"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"
)

// mesos-go v0.0.11's scheduler driver cancels its master detector only
// when it aborts: a driver stopped with Stop leaves the detector running,
// and for -master=zk://... that is a ZooKeeper client that goes on
// watching (and redialling) the ensemble for the life of the process.
// keepDetector builds the detector through the documented
// DriverConfig.NewDetector hook (the driver's own default, detector.New of
// the master, unless the caller set one) and keeps it, so that the job's
// messenger can cancel it when the driver stops (Cancel may be called more
// than once).
func (s *GoTaskScheduler) keepDetector(cfg *sched.DriverConfig) {
	build := cfg.NewDetector
	master := cfg.Master
	if build == nil {
		build = func() (detector.Master, error) { return detector.New(master) }
	}
	cfg.NewDetector = func() (detector.Master, error) {
		d, err := build()
		if err != nil || d == nil {
			return d, err
		}
		s.detMu.Lock()
		s.dets = append(s.dets, d)
		s.detMu.Unlock()
		return d, nil
	}
}

// cancelDetector cancels the detectors built for s's drivers.
func (s *GoTaskScheduler) cancelDetector() {
	s.detMu.Lock()
	dets := s.dets
	s.dets = nil
	s.detMu.Unlock()
	for _, d := range dets {
		d.Cancel()
	}
}
