// Command mesos-local runs a local Mesos cluster — a master and agents on one
// host speaking the Mesos v0 libprocess protocol — as a process, like
// Mesos's own mesos-local. Point any v0 framework's -master at the address
// it prints. SIGINT or SIGTERM shuts it down, taking its executors with it.
//
// Usage:
//
//	mesos-local [-ip 127.0.0.1] [-port 5050] [-num_slaves 1]
//	            [-resources "cpus:4;mem:4096;disk:10000;ports:[31000-32000]"]
//	            [-work_dir DIR] [-credentials FILE] [-drop P] [-dup P]
//
// The credentials file holds one "principal secret" pair per line (or Mesos'
// JSON form {"credentials":[{"principal":..,"secret":..}]}); when given,
// frameworks must authenticate with SASL CRAM-MD5.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mesosgot/mesosgot/localmesos"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mesos-local:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		ip        = flag.String("ip", "127.0.0.1", "IPv4 address to listen on")
		port      = flag.Int("port", 5050, "master port (0 = any free port)")
		slaves    = flag.Int("num_slaves", 1, "number of agents")
		resources = flag.String("resources", localmesos.DefaultResources, "resources of each agent")
		workDir   = flag.String("work_dir", "", "sandboxes root (default: a temporary directory, removed at exit)")
		credsFile = flag.String("credentials", "", `file of "principal secret" lines; when set, authentication is required`)
		drop      = flag.Float64("drop", 0, "probability of dropping each framework message")
		dup       = flag.Float64("dup", 0, "probability of duplicating each framework message")
		grace     = flag.Duration("executor_shutdown_grace_period", 3*time.Second, "time an executor has to exit after shutdown before it is killed")
	)
	flag.Parse()

	cfg := localmesos.Config{
		Agents:                *slaves,
		Resources:             *resources,
		WorkDir:               *workDir,
		IP:                    *ip,
		Port:                  *port,
		ExecutorShutdownGrace: *grace,
		Logf: func(format string, args ...any) {
			fmt.Printf("%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
		},
	}
	if *drop > 0 || *dup > 0 {
		cfg.Faults = &localmesos.Faults{Drop: *drop, Dup: *dup}
	}
	if *credsFile != "" {
		creds, err := readCredentials(*credsFile)
		if err != nil {
			return err
		}
		cfg.Credentials = creds
	}

	c, err := localmesos.Start(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("mesos-local: master %s (pid %s), %d agent(s), work dir %s\n", c.MasterAddr(), c.MasterPID(), *slaves, c.WorkDir())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	fmt.Printf("mesos-local: %v: shutting down\n", s)
	signal.Stop(sig)
	if err := c.Close(); err != nil {
		return err
	}
	st := c.Stats()
	fmt.Printf("mesos-local: done: %d framework(s), %d task(s) launched, %d framework message(s) carried, %d dropped, %d duplicated\n",
		st.FrameworksRegistered, st.TasksLaunched, st.FrameworkMessages, st.FrameworkMsgsDropped, st.FrameworkMsgsDuped)
	return nil
}

// readCredentials reads "principal secret" lines, or Mesos' JSON credentials.
func readCredentials(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return parseCredentials(path, b)
}

// parseCredentials parses the contents b of the credentials file path.
func parseCredentials(path string, b []byte) (map[string]string, error) {
	creds := map[string]string{}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var doc struct {
			Credentials []struct{ Principal, Secret string } `json:"credentials"`
		}
		if err := json.Unmarshal(t, &doc); err != nil {
			return nil, fmt.Errorf("credentials %s: %w", path, err)
		}
		for i, c := range doc.Credentials {
			if c.Principal == "" || c.Secret == "" {
				return nil, fmt.Errorf("credentials %s: entry %d: empty principal or secret", path, i+1)
			}
			creds[c.Principal] = c.Secret
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			f := strings.Fields(line)
			if len(f) != 2 {
				return nil, fmt.Errorf("credentials %s:%d: want \"principal secret\"", path, n)
			}
			creds[f[0]] = f[1]
		}
	}
	if len(creds) == 0 {
		return nil, fmt.Errorf("credentials %s: no credentials", path)
	}
	return creds, nil
}
