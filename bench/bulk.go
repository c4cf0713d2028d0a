package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	sched "github.com/mesos/mesos-go/api/v0/scheduler"

	"github.com/mesosgot/mesosgot"
	"github.com/mesosgot/mesosgot/localmesos"
)

// bulkTasks is the number of tasks of the bulk rows.
const bulkTasks = 8

// postLoop is the one-hop baseline: a sequential loop of HTTP POSTs of
// size bytes over loopback to a server that reads each body into memory
// and answers 202 Accepted (what a libprocess peer does), for d. It
// returns MB/s (10^6 bytes per second) and the CPU seconds the loop used
// (client and server, both in this process) per GB moved.
func postLoop(size int, d time.Duration) (mbps, cpuPerGB float64, err error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, 0, max(r.ContentLength, 0))
		buf := bytes.NewBuffer(body)
		if _, err := io.Copy(buf, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	data := make([]byte, size)
	url := "http://" + ln.Addr().String() + "/slave(1)/mesos.internal.ExecutorToFrameworkMessage"
	var moved int64
	t0, c0 := time.Now(), cpuSeconds()
	for time.Since(t0) < d {
		resp, err := client.Post(url, "application/x-protobuf", bytes.NewReader(data))
		if err != nil {
			return 0, 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return 0, 0, fmt.Errorf("POST: %s", resp.Status)
		}
		moved += int64(size)
	}
	return float64(moved) / time.Since(t0).Seconds() / 1e6, (cpuSeconds() - c0) / (float64(moved) / 1e9), nil
}

// oneWay runs a job of bulkTasks "source" tasks over c and returns the MB/s
// at which the app scheduler received total bytes of size-byte messages
// (from the request to the last byte), the CPU seconds all processes used
// in that time per GB received, and Run()'s error.
func oneWay(c *localmesos.Cluster, execPath string, size int, total int64) (mbps, cpuPerGB float64, err error) {
	count := int(max(total/int64(size)/bulkTasks, 1))
	appErr := make(chan error, 1)
	s := mesosgot.NewGoTaskScheduler("", localConf(c, execPath), nil)
	s.SpawnTask("source", bulkTasks, taskRes)
	s.RegisterSchedFunc(func(schedin <-chan mesosgot.GoTaskMsg, schedout chan<- mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent) {
		if !waitRunning(schedevent, bulkTasks, nil) {
			appErr <- errors.New("tasks did not run")
			return
		}
		go func() {
			for range schedevent {
			}
		}()
		t0, c0 := time.Now(), cpuSeconds()
		for i := 0; i < bulkTasks; i++ {
			schedout <- mesosgot.GoTaskMsg{TaskName: "source-" + strconv.Itoa(i), MessageData: fmt.Sprintf("%d %d", size, count)}
		}
		var got int64
		want := int64(count) * bulkTasks
		for n := int64(0); n < want; n++ {
			m, ok := <-schedin
			if !ok {
				appErr <- fmt.Errorf("schedin closed after %d of %d messages", n, want)
				return
			}
			got += int64(len(m.MessageData))
		}
		mbps = float64(got) / time.Since(t0).Seconds() / 1e6
		cpuPerGB = (cpuSeconds() - c0) / (float64(got) / 1e9)
		appErr <- nil
	})
	err = s.Run()
	if err == nil {
		err = <-appErr
	}
	return mbps, cpuPerGB, err
}

// helloJob runs a job of one echo task that exchanges one message, and
// returns how long Run() took. With mesosGoStop the driver is built
// without mesosgot's messenger, so the job ends through mesos-go's own
// Stop (which sleeps 2 s after unregistering).
func helloJob(c *localmesos.Cluster, execPath string, mesosGoStop bool) (time.Duration, error) {
	s := mesosgot.NewGoTaskScheduler("", localConf(c, execPath), nil)
	s.SpawnTask("echo", 1, taskRes)
	var got atomic.Bool
	s.RegisterSchedFunc(func(schedin <-chan mesosgot.GoTaskMsg, schedout chan<- mesosgot.GoTaskMsg, schedevent <-chan mesosgot.SchedEvent) {
		go func() {
			for range schedevent {
			}
		}()
		schedout <- mesosgot.GoTaskMsg{TaskName: "echo-0", MessageData: "hello"}
		if m, ok := <-schedin; ok && m.MessageData == "hello" {
			got.Store(true)
		}
	})
	t0 := time.Now()
	var err error
	if mesosGoStop {
		cfg := s.DriverConfig()
		if err := s.Err(); err != nil {
			return 0, err
		}
		cfg.NewMessenger = nil
		d, derr := sched.NewMesosSchedulerDriver(cfg)
		if derr != nil {
			return 0, derr
		}
		err = s.RunDriver(d)
	} else {
		err = s.Run()
	}
	el := time.Since(t0)
	if err == nil && !got.Load() {
		err = errors.New("no echo")
	}
	return el, err
}
