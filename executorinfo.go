package mesosgot

import (
	"net"
	"strings"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
)

// prepareArtifacts makes the executor binary fetchable: a URL is used as
// it is, a local path is served by the artifact server.
func (schd *GoTaskScheduler) prepareArtifacts(bindIP, advertiseIP net.IP) error {
	p := schd.conf.ExecutorPath
	if isURL(p) {
		schd.executorURI = p // the user's: cached only if it says so (Mesos' advice: a fresh URI per content)
		return nil
	}
	a, err := startArtifactServer(bindIP, advertiseIP, schd.conf.ArtifactPort, p)
	if err != nil {
		return err
	}
	schd.executorURI = a.url
	schd.executorCache = true // the URL names the binary's version (artifacts.go)
	schd.addCleanup(a.close)
	return nil
}

// executorTmpDir is the executor's TMPDIR: its sandbox, so that its log
// files (glog writes them to TMPDIR) live and go with the sandbox.
const executorTmpDir = `TMPDIR="${MESOS_SANDBOX:-${TMPDIR:-/tmp}}" `

// executorInfo is the ExecutorInfo of the executor on one agent: fetch the
// binary from executorURI into the sandbox and run it there, with the
// sandbox as its TMPDIR.
func (schd *GoTaskScheduler) executorInfo(execID string) *mesos.ExecutorInfo {
	// exec: the executor replaces the shell, so signals (and a local
	// cluster's parent-death signal) reach it, and its exit status is its own.
	cmd := executorTmpDir + "exec ./" + shellQuote(urlBase(schd.executorURI))
	for _, a := range schd.conf.ExecutorArgs {
		cmd += " " + shellQuote(a)
	}
	return &mesos.ExecutorInfo{
		ExecutorId: util.NewExecutorID(execID),
		Name:       proto.String("mesosgot executor"),
		Source:     proto.String("mesosgot"),
		Command: &mesos.CommandInfo{
			Value: proto.String(cmd),
			Uris: []*mesos.CommandInfo_URI{{
				Value:      proto.String(schd.executorURI),
				Executable: proto.Bool(true),
				// An agent's fetcher downloads a cached URI once and copies
				// it into each sandbox (Mesos' fetcher cache).
				Cache: proto.Bool(schd.executorCache),
			}},
		},
		Resources: toMesosResources(schd.conf.ExecutorResources),
	}
}

// shellQuote quotes s for sh -c.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || r == '=' || r == ':' || r == ',' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
