package mesosgot

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	log "github.com/golang/glog"
)

// serve starts the status server on addr (host:port; port 0 picks a free
// one): /status is the job's status as JSON, / a page that shows it.
func (m *monitor) serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mesosgot: -status_address %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", m.serveStatus)
	mux.HandleFunc("GET /{$}", servePage)
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.srvDone = make(chan struct{})
	m.url = "http://" + ln.Addr().String() + "/"
	go func() {
		defer close(m.srvDone)
		if err := m.srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Errorf("mesosgot: status server on %s: %v", ln.Addr(), err)
		}
	}()
	return nil
}

// closeServer stops the status server, if any, and waits for it.
func (m *monitor) closeServer() {
	if m.srv == nil {
		return
	}
	if err := m.srv.Close(); err != nil {
		log.Warningf("mesosgot: closing the status server: %v", err)
	}
	<-m.srvDone
}

// serveStatus writes the last snapshot as JSON.
func (m *monitor) serveStatus(w http.ResponseWriter, r *http.Request) {
	st := m.live()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(st); err != nil {
		log.V(1).Infof("mesosgot: writing /status to %s: %v", r.RemoteAddr, err)
	}
}

// servePage writes the status page.
func servePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if _, err := w.Write([]byte(statusPage)); err != nil {
		log.V(1).Infof("mesosgot: writing the status page to %s: %v", r.RemoteAddr, err)
	}
}

// statusPage is the whole status page: no external assets. It fetches
// /status every second and renders it with textContent only (task names
// are never parsed as HTML).
const statusPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mesosgot job</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2430}
header{background:#1d2430;color:#fff;padding:14px 24px;display:flex;align-items:center;gap:16px;flex-wrap:wrap}
header h1{font-size:18px;margin:0;font-weight:600}
.badge{padding:3px 10px;border-radius:12px;font-weight:600;font-size:14px;background:#6b7280;color:#fff}
.p-running{background:#2563eb}.p-finished{background:#16a34a}.p-failed{background:#dc2626}
.p-waiting,.p-registering{background:#d97706}.p-draining,.p-stopping{background:#7c3aed}
.meta{font-size:13px;color:#cbd5e1}
main{padding:16px 24px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:16px}
.card{background:#fff;border-radius:8px;padding:10px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:110px}
.card .v{font-size:22px;font-weight:600}.card .k{font-size:12px;color:#6b7280;text-transform:uppercase;letter-spacing:.04em}
table{border-collapse:collapse;width:100%;background:#fff;border-radius:8px;overflow:hidden;box-shadow:0 1px 2px rgba(0,0,0,.08);margin-bottom:16px;font-size:14px}
th,td{text-align:left;padding:6px 12px;border-bottom:1px solid #eef0f3}
th{background:#f9fafb;font-size:12px;color:#6b7280;text-transform:uppercase;letter-spacing:.04em}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.s{padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;background:#e5e7eb}
.s-TASK_RUNNING{background:#dbeafe;color:#1e40af}.s-TASK_FINISHED{background:#dcfce7;color:#166534}
.s-TASK_FAILED,.s-TASK_LOST,.s-TASK_ERROR{background:#fee2e2;color:#991b1b}
.s-TASK_KILLED{background:#ede9fe;color:#5b21b6}.s-WAITING,.s-TASK_STAGING{background:#fef3c7;color:#92400e}
#error{display:none;background:#fee2e2;color:#991b1b;border-radius:8px;padding:10px 16px;margin-bottom:16px;font-family:ui-monospace,monospace;white-space:pre-wrap}
#conn{font-size:13px}
h2{font-size:15px;margin:8px 0}
</style>
</head>
<body>
<header>
<h1>mesosgot job</h1>
<span id="phase" class="badge">loading</span>
<span class="meta">elapsed <span id="elapsed">-</span></span>
<span class="meta">master <span id="master">-</span></span>
<span class="meta">framework <span id="framework">-</span></span>
<span class="meta" id="conn">connecting</span>
</header>
<main>
<noscript>This page needs JavaScript; the raw status is at <a href="status">/status</a>.</noscript>
<div id="error"></div>
<div class="cards" id="counts">
<div class="card"><div class="v" id="c-total">-</div><div class="k">tasks</div></div>
<div class="card"><div class="v" id="c-waiting">-</div><div class="k">waiting</div></div>
<div class="card"><div class="v" id="c-staging">-</div><div class="k">staging</div></div>
<div class="card"><div class="v" id="c-running">-</div><div class="k">running</div></div>
<div class="card"><div class="v" id="c-finished">-</div><div class="k">finished</div></div>
<div class="card"><div class="v" id="c-stopped">-</div><div class="k">stopped</div></div>
<div class="card"><div class="v" id="c-failed">-</div><div class="k">failed</div></div>
</div>
<div class="cards">
<div class="card"><div class="v" id="m-in">-</div><div class="k">msgs in /s</div></div>
<div class="card"><div class="v" id="m-out">-</div><div class="k">msgs out /s</div></div>
<div class="card"><div class="v" id="m-total">-</div><div class="k">msgs in / out</div></div>
<div class="card"><div class="v" id="q-app">-</div><div class="k">queued to app</div></div>
<div class="card"><div class="v" id="q-tasks">-</div><div class="k">queued to tasks</div></div>
<div class="card"><div class="v" id="retx">-</div><div class="k">retransmits</div></div>
</div>
<h2>Tasks</h2>
<table><thead><tr><th>task</th><th>state</th><th>agent</th><th>msgs in</th><th>msgs out</th><th>queued</th></tr></thead>
<tbody id="tasks"></tbody></table>
<h2>Links to executors</h2>
<table><thead><tr><th>executor</th><th>agent</th><th>frames sent</th><th>frames received</th><th>in flight</th><th>retransmits</th><th>timeouts</th></tr></thead>
<tbody id="links"></tbody></table>
</main>
<script>
"use strict";
function $(id){return document.getElementById(id)}
function set(id,v){$(id).textContent=String(v)}
function fmtDur(s){s=Math.floor(s);var h=Math.floor(s/3600),m=Math.floor(s%3600/60),x=s%60;
 return (h?h+"h ":"")+(h||m?m+"m ":"")+x+"s"}
function cell(tr,text,cls){var td=document.createElement("td");td.textContent=String(text);if(cls)td.className=cls;tr.appendChild(td);return td}
function rows(tbody,items,fill){var frag=document.createDocumentFragment();
 items.forEach(function(it){var tr=document.createElement("tr");fill(tr,it);frag.appendChild(tr)});
 tbody.replaceChildren(frag)}
var ended=false;
function render(st){
 var ph=$("phase");ph.textContent=st.phase;ph.className="badge p-"+st.phase;
 set("elapsed",fmtDur(st.elapsed_seconds));set("master",st.master||"-");set("framework",st.framework_id||"-");
 var c=st.counts||{};["total","waiting","staging","running","finished","stopped","failed"].forEach(function(k){set("c-"+k,c[k]||0)});
 set("m-in",Math.round(st.msgs_in_per_sec));set("m-out",Math.round(st.msgs_out_per_sec));
 set("m-total",st.msgs_in+" / "+st.msgs_out);set("q-app",st.queue_to_app);set("q-tasks",st.queue_to_tasks);set("retx",st.retransmits);
 var e=$("error");if(st.error){e.textContent=st.error;e.style.display="block"}else{e.style.display="none"}
 rows($("tasks"),st.tasks||[],function(tr,t){tr.dataset.task=t.name;cell(tr,t.name);
  var td=cell(tr,"");var s=document.createElement("span");s.className="s s-"+t.state;s.textContent=t.state;td.appendChild(s);
  cell(tr,t.agent||"-");cell(tr,t.msgs_in,"n");cell(tr,t.msgs_out,"n");cell(tr,t.queued,"n")});
 rows($("links"),st.links||[],function(tr,l){cell(tr,l.executor);cell(tr,l.agent);cell(tr,l.frames_sent,"n");
  cell(tr,l.frames_recv,"n");cell(tr,l.inflight,"n");cell(tr,l.retransmits,"n");cell(tr,l.timeouts,"n")});
 ended=st.phase==="finished"||st.phase==="failed";
 set("conn","updated "+new Date().toLocaleTimeString());
}
function poll(){
 fetch("status",{cache:"no-store"}).then(function(r){if(!r.ok)throw new Error("HTTP "+r.status);return r.json()})
 .then(function(st){render(st)})
 .catch(function(err){set("conn",(ended?"job ended; ":"")+"status server unreachable ("+err.message+"): showing the last status")})
 .finally(function(){setTimeout(poll,1000)});
}
poll();
</script>
</body>
</html>
`
