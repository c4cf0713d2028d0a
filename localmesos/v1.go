package localmesos

import (
	"net/http"

	log "github.com/golang/glog"
)

// v1Refusal is the body of the answer to a v1 scheduler API call.
const v1Refusal = "localmesos serves only the v0 (libprocess) scheduler API: /api/v1/scheduler is not served; use a v0 driver such as mesos-go's api/v0/scheduler\n"

// refuseV1 answers a v1 HTTP scheduler API call (which Mesos 1.x serves at
// /api/v1/scheduler) with 501 Not Implemented and a body saying why, and
// logs it, instead of a silent 404 that leaves a v1 scheduler retrying.
func refuseV1(w http.ResponseWriter, r *http.Request) {
	log.Warningf("localmesos: refused a v1 scheduler API call %s %s from %s: the v1 API is not served", r.Method, r.URL.Path, r.RemoteAddr)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotImplemented)
	_, _ = w.Write([]byte(v1Refusal))
}
