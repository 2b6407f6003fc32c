package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"callconnect/adapters/postgres/pgtest"
)

// What an operator relies on, in the real binary: /metrics on an address of
// its own (and not on the API's) with the queue's and the pool's figures,
// one access log line per request carrying the caller's trace id, and the
// healthcheck command.
func TestOperatingTheService(t *testing.T) {
	metricsAddr := freeAddr(t)
	// GOGC empty counts as unset: the process collects at defaultGCPercent.
	p := startServiceEnv(t, pgtest.NewEmptyPool(t).Config().ConnString(), []string{"CALLCONNECT_METRICS_ADDR=" + metricsAddr, "GOGC="})

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	if code, _ := p.get(t, "/healthz", "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01"); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
	if code, _ := p.get(t, "/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the API's address with CALLCONNECT_METRICS_ADDR set: %d, want 404", code)
	}
	res, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var metrics strings.Builder
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		metrics.WriteString(sc.Text() + "\n")
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics on CALLCONNECT_METRICS_ADDR: %d", res.StatusCode)
	}
	for _, series := range []string{
		`callconnect_jobs{kind="deliver_call",state="available"} 0`,
		`callconnect_jobs{kind="deliver_call",state="running"} 0`,
		`callconnect_jobs{kind="deliver_call",state="retryable"} 0`,
		"callconnect_db_pool_acquired_conns ", "callconnect_db_pool_idle_conns ", "callconnect_db_pool_total_conns ",
		"callconnect_db_pool_max_conns ", "callconnect_db_pool_acquires_total ", "callconnect_db_pool_acquire_duration_seconds_total ",
		"callconnect_db_pool_empty_acquires_total ",
		`http_server_requests_total{method="GET",route="/healthz",status="200"} 1`,
		fmt.Sprintf("go_gc_gogc_percent %d", defaultGCPercent),
	} {
		if !strings.Contains(metrics.String(), "\n"+series) {
			t.Errorf("/metrics has no %s", series)
		}
	}

	// docs/operations.md documents every metric of the service's own.
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(metrics.String(), "\n") {
		name, ok := strings.CutPrefix(l, "# TYPE ")
		if name, _, _ = strings.Cut(name, " "); !ok || !(strings.HasPrefix(name, "callconnect_") || strings.HasPrefix(name, "http_server_")) {
			continue
		}
		short := "`…" + strings.TrimPrefix(name, "callconnect_db_pool") + "`" // the table's shorthand for the pool's
		if !strings.Contains(string(doc), "`"+name) && !strings.Contains(string(doc), short) {
			t.Errorf("docs/operations.md does not document the metric %s", name)
		}
	}

	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	check := exec.Command(bin, "healthcheck")
	check.Env = []string{"HTTP_ADDR=" + p.addr}
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("callconnect healthcheck against the running service: %v\n%s", err, out)
	}

	// The access log line of the /healthz request. Each line is written as
	// its request ends, which a clean stop waits for.
	p.stop(t)
	var line map[string]any
	for _, l := range strings.Split(p.stderr.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "http request" && m["route"] == "/healthz" && m["trace_id"] == traceID {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no access log line for /healthz with the caller's trace id in:\n%s", p.stderr)
	}
	if line["method"] != "GET" || line["status"] != 200.0 || line["bytes"] == 0.0 || line["duration_ms"] == nil || line["level"] != "INFO" {
		t.Errorf("access log line %v", line)
	}
}
