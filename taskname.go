package mesosgot

import (
	"fmt"
	"strconv"
	"strings"

	log "github.com/golang/glog"
)

// maxMesosIDLen is the longest ID Mesos accepts (NAME_MAX: IDs name
// directories in the agent's sandbox tree).
const maxMesosIDLen = 255

// validateTaskName checks that the Mesos TaskIDs of count tasks named name
// (name-0 .. name-(count-1)) pass the Mesos master's task ID validation
// (common::validation::validateID in Mesos' src/common/validation.cpp, used
// by validateTaskID in src/master/validation.cpp): not empty, at most 255
// characters, not "." or "..", no control characters, no '/' or '\'. A
// task failing it would be refused by a real master with TASK_ERROR, so
// mesosgot refuses it before anything is launched. mesosgot also wants a
// non-empty name, since the name is what the executor looks task functions
// up by.
func validateTaskName(name string, count int) error {
	if name == "" {
		return fmt.Errorf("mesosgot: task name is empty")
	}
	if i := strings.IndexFunc(name, isMesosIDInvalidRune); i >= 0 {
		return fmt.Errorf("mesosgot: task name %q contains %q at byte %d: Mesos task IDs may not contain control characters, '/' or '\\'", name, name[i], i)
	}
	last := 0
	if count > 1 {
		last = count - 1
	}
	id := name + "-" + strconv.Itoa(last)
	if len(id) > maxMesosIDLen {
		return fmt.Errorf("mesosgot: task name %q (%d bytes): its Mesos task ID %s-%d would be %d bytes, over Mesos' limit of %d", abbrev(name), len(name), abbrev(name), last, len(id), maxMesosIDLen)
	}
	// name-N is never "." or "..", Mesos' other refusal.
	return nil
}

// isMesosIDInvalidRune reports the characters Mesos refuses in an ID: the
// bytes iscntrl() accepts (0x00-0x1f, 0x7f) and both path separators.
func isMesosIDInvalidRune(r rune) bool {
	return r < 0x20 || r == 0x7f || r == '/' || r == '\\'
}

// abbrev shortens a long name for an error message.
func abbrev(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:37] + "..."
}

// validateTasks checks every task request's name and count, with the
// task request named in the error.
func validateTasks(tasks []*AppTaskResourceInfo) error {
	for _, t := range tasks {
		if t == nil {
			continue
		}
		if t.Count < 0 {
			return fmt.Errorf("mesosgot: task %q: negative count %d", t.Name, t.Count)
		}
		if err := validateTaskName(t.Name, t.Count); err != nil {
			return err
		}
	}
	return nil
}

// noteSpawnError logs a refused task request where SpawnTask(s) is called,
// so the cause is next to the call in the log; the job fails with it when
// it is prepared (Err, Run).
func noteSpawnError(tasks []*AppTaskResourceInfo) {
	if err := validateTasks(tasks); err != nil {
		log.Errorf("%v (the job will not start)", err)
	}
}
