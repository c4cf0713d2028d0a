package main

import (
	"flag"
	"runtime/metrics"
)

// setFlag sets a flag of flag.CommandLine (glog's log_dir) when v is set.
func setFlag(name, v string) error {
	if v == "" {
		return nil
	}
	return flag.Set(name, v)
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

// heapInuseMB returns the bytes of live and not-yet-swept heap objects, in MiB.
func heapInuseMB() float64 {
	metrics.Read(heapSample)
	return float64(heapSample[0].Value.Uint64()) / (1 << 20)
}
