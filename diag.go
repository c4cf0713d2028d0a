package mesosgot

import (
	"fmt"
	"io"
	"os"
	"strings"

	log "github.com/golang/glog"
)

// The job's own lines (an admission warning, where the logs are, a kept
// sandbox) go to the config's DiagOutput, stderr by default, each starting
// with "mesosgot: "; they are also in the glog INFO log. The failure itself
// is logged at ERROR, which glog copies to stderr by default.

// diagOut returns where the job's own lines go.
func (s *GoTaskScheduler) diagOut() io.Writer {
	if w := s.conf.DiagOutput; w != nil {
		return w
	}
	return os.Stderr
}

// diagf prints one of the job's own lines (and logs it at INFO).
func (s *GoTaskScheduler) diagf(format string, args ...any) {
	line := "mesosgot: " + fmt.Sprintf(format, args...)
	log.InfoDepth(1, line)
	s.diagMu.Lock()
	defer s.diagMu.Unlock()
	fmt.Fprintln(s.diagOut(), line)
}

// reportEnd tells a user whose job failed where to look further: the
// scheduler's log files (glog writes them to $TMPDIR unless -log_dir or
// -logtostderr says otherwise) and, with -master=local, the kept sandbox.
func (j *schedJob) reportEnd() {
	log.Flush() // a main that returns next would lose the buffered log
	if j.jobErr == nil {
		return
	}
	if names, err := log.Names("INFO"); err == nil && len(names) > 0 {
		j.s.diagf("scheduler log: %s", strings.Join(names, " "))
	}
	if dir := j.s.keptSandbox; dir != "" {
		j.s.diagf("sandbox of the failed job kept at %s (executor logs under slaves/*/frameworks/*/executors/*/runs/*/)", dir)
	}
}
