package mesosgot

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// taskDataVersion1 is the first byte of TaskInfo.Data as mesosgot writes it.
const taskDataVersion1 byte = 1

// encodeTaskData packs a task's args and env into TaskInfo.Data: a version
// byte, then length-prefixed strings (env sorted by key). Any bytes round-trip.
func encodeTaskData(args []string, env map[string]string) []byte {
	buf := []byte{taskDataVersion1}
	putStr := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(args)))
	for _, a := range args {
		putStr(a)
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf = binary.AppendUvarint(buf, uint64(len(keys)))
	for _, k := range keys {
		putStr(k)
		putStr(env[k])
	}
	return buf
}

// decodeTaskData reverses encodeTaskData. Empty data means no args and no env.
func decodeTaskData(data []byte) (args []string, env map[string]string, err error) {
	env = map[string]string{}
	if len(data) == 0 {
		return nil, env, nil
	}
	if data[0] != taskDataVersion1 {
		return nil, nil, fmt.Errorf("task data: unknown version byte 0x%02x", data[0])
	}
	rest := data[1:]
	next := func() (uint64, error) {
		n, k := binary.Uvarint(rest)
		if k <= 0 {
			return 0, fmt.Errorf("task data: truncated length")
		}
		rest = rest[k:]
		return n, nil
	}
	str := func() (string, error) {
		n, err := next()
		if err != nil {
			return "", err
		}
		if n > uint64(len(rest)) {
			return "", fmt.Errorf("task data: string of %d bytes exceeds remaining %d", n, len(rest))
		}
		s := string(rest[:n])
		rest = rest[n:]
		return s, nil
	}
	count := func() (int, error) {
		n, err := next()
		if err != nil {
			return 0, err
		}
		// every entry takes at least one byte: garbage cannot make this allocate beyond the input
		if n > uint64(len(rest)) {
			return 0, fmt.Errorf("task data: implausible count %d", n)
		}
		return int(n), nil
	}
	na, err := count()
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i < na; i++ {
		a, err := str()
		if err != nil {
			return nil, nil, err
		}
		args = append(args, a)
	}
	ne, err := count()
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i < ne; i++ {
		k, err := str()
		if err != nil {
			return nil, nil, err
		}
		v, err := str()
		if err != nil {
			return nil, nil, err
		}
		env[k] = v
	}
	if len(rest) != 0 {
		return nil, nil, fmt.Errorf("task data: %d trailing bytes", len(rest))
	}
	return args, env, nil
}
