package mesosgot

import "strings"

// panicStackFrames is how many frames of a task's panic stack its failure
// message carries (the full stack is in the executor's log).
const panicStackFrames = 8

// panicStackHead returns the first frames of stack (as debug.Stack gives it,
// taken in a deferred recover) from the panicking function on: the frames of
// debug.Stack, the deferred function and runtime.gopanic are left out, and
// at most frames frames (two lines each) follow, indented by one tab; the
// frames of mesosgot that called the task are left out too.
func panicStackHead(stack []byte, frames int) string {
	trimmed := strings.TrimRight(string(stack), "\n")
	if trimmed == "" {
		return ""
	}
	lines := strings.Split(trimmed, "\n")
	if len(lines) > 0 && strings.HasPrefix(lines[0], "goroutine ") {
		lines = lines[1:]
	}
	// Frames come in pairs: "pkg.func(...)" then "\tfile:line +0x..".
	// Skip everything up to and including the runtime's panic frame.
	start := 0
	for i := 0; i+1 < len(lines); i += 2 {
		if strings.HasPrefix(lines[i], "panic(") || strings.HasPrefix(lines[i], "runtime.gopanic(") {
			start = i + 2
			break
		}
	}
	lines = lines[start:]
	// mesosgot's own frames, which called the task, say nothing to its author.
	for i := 0; i+1 < len(lines); i += 2 {
		if strings.HasPrefix(lines[i], "github.com/mesosgot/mesosgot.AppTaskFunc.Run(") ||
			strings.HasPrefix(lines[i], "github.com/mesosgot/mesosgot.(*DefAppTaskExecutor).RunTaskWithArgs(") ||
			strings.HasPrefix(lines[i], "github.com/mesosgot/mesosgot.(*execTask).run(") {
			lines = lines[:i]
			break
		}
	}
	if n := 2 * frames; len(lines) > n {
		lines = append(lines[:n:n], "\t...")
	}
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("\t" + strings.TrimLeft(l, "\t"))
	}
	return b.String()
}
