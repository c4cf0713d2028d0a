// Command testexec is the executor binary of mesosgot's own tests over the
// embedded local cluster: it registers a few task functions that exercise
// the library (sequence echo, waiting, an executor that exits mid-job).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/mesosgot/mesosgot"
)

func main() {
	flag.Parse()
	e := mesosgot.NewGoTaskExecutor(nil)
	// seq echoes messages numbered 0, 1, 2, ... and fails on a gap, repeat or reorder.
	e.RegisterTaskFunc("seq", func(in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg, args []string, env map[string]string) error {
		next := 0
		for m := range in {
			if m.MessageData != fmt.Sprint(next) {
				return fmt.Errorf("%s: got %q, want %d", env["MESOSGOT_TASK_NAME"], m.MessageData, next)
			}
			next++
			out <- mesosgot.GoTaskMsg{MessageData: m.MessageData}
		}
		return nil
	})
	// wait waits for in to close.
	e.RegisterTaskFunc("wait", func(in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg, args []string, env map[string]string) error {
		for range in {
		}
		return nil
	})
	// exit kills the whole executor process when it gets a message.
	e.RegisterTaskFunc("exit", func(in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg, args []string, env map[string]string) error {
		<-in
		os.Exit(3)
		return nil
	})
	e.RegisterTaskFunc("fail", func(in <-chan mesosgot.GoTaskMsg, out chan<- mesosgot.GoTaskMsg, args []string, env map[string]string) error {
		m, ok := <-in
		if !ok {
			return nil
		}
		return fmt.Errorf("%s: asked to fail: %s", args[0], m.MessageData)
	})
	if err := e.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "testexec:", err)
		os.Exit(1)
	}
}
