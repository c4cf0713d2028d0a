package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// clockTicks is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on
// Linux).
const clockTicks = 100

// cpuSeconds returns the CPU time (user and system) used so far by this
// process and its child processes (the executors localmesos started),
// running or exited: this process' own, its exited children's
// (RUSAGE_CHILDREN), and its running children's (/proc/<pid>/stat, in
// clock ticks). A figure taken across a window in which no child exits
// counts every process of the benchmark.
func cpuSeconds() float64 {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	t := 0.0
	for _, tv := range []syscall.Timeval{self.Utime, self.Stime, kids.Utime, kids.Stime} {
		t += float64(tv.Sec) + float64(tv.Usec)/1e6
	}
	return t + float64(childTicks())/clockTicks
}

// childTicks returns the CPU ticks (utime + stime) of this process'
// running children and their waited-for children.
func childTicks() int64 {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var n int64
	seen := map[string]bool{}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, pid := range strings.Fields(string(b)) {
			if seen[pid] {
				continue
			}
			seen[pid] = true
			n += procTicks(pid)
		}
	}
	return n
}

// procTicks returns utime + stime + cutime + cstime of process pid (0 if
// it is gone).
func procTicks(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command may contain spaces
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// after the command: state(0) ... utime(11) stime(12) cutime(13) cstime(14)
	if len(f) < 15 {
		return 0
	}
	var n int64
	for _, x := range f[11:15] {
		v, _ := strconv.ParseInt(x, 10, 64)
		n += v
	}
	return n
}
