package mesosgot

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

//go:noinline
func panicsHere() { panic("boom") }

func TestPanicStackHeadStartsAtThePanickingFunction(t *testing.T) {
	var stack []byte
	func() {
		defer func() {
			_ = recover()
			stack = debug.Stack()
		}()
		panicsHere()
	}()
	head := panicStackHead(stack, 2)
	lines := strings.Split(head, "\n")
	assert.Contains(t, lines[0], "mesosgot.panicsHere(")
	assert.Contains(t, lines[1], "panicstack_test.go:")
	assert.Len(t, lines, 5, "two frames of two lines, then an ellipsis:\n%s", head)
	assert.Equal(t, "\t...", lines[4])
	assert.NotContains(t, head, "runtime/debug")
	assert.NotContains(t, head, "goroutine ")
}

func TestPanicStackHeadOfUnusualInput(t *testing.T) {
	assert.Equal(t, "", panicStackHead(nil, 3))
	assert.Equal(t, "\tf()\n\tx.go:1", panicStackHead([]byte("f()\n\tx.go:1\n"), 3), "no panic frame: from the top")
}
