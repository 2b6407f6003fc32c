package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"callconnect/adapters/postgres/pgtest"
)

func TestPprofAddrSetting(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string // "": refused
	}{
		{map[string]string{"CALLCONNECT_PPROF_ADDR": ""}, "-"},
		{map[string]string{"CALLCONNECT_PPROF_ADDR": "127.0.0.1:6060"}, "127.0.0.1:6060"},
		{map[string]string{"CALLCONNECT_PPROF_ADDR": "6060"}, ""},
		{map[string]string{"CALLCONNECT_PPROF_ADDR": "127.0.0.1:8080"}, ""}, // HTTP_ADDR's default
		{map[string]string{"CALLCONNECT_PPROF_ADDR": "127.0.0.1:9090", "CALLCONNECT_METRICS_ADDR": "127.0.0.1:9090"}, ""},
	} {
		c, err := LoadConfig(envOf(tc.env))
		switch {
		case tc.want == "" && (err == nil || !strings.Contains(err.Error(), "CALLCONNECT_PPROF_ADDR: must")):
			t.Errorf("%v: got %v, want it refused", tc.env, err)
		case tc.want == "-" && (err != nil || c.PprofAddr != ""):
			t.Errorf("%v: %v, PprofAddr %q, want none", tc.env, err, c.PprofAddr)
		case tc.want != "" && tc.want != "-" && (err != nil || c.PprofAddr != tc.want):
			t.Errorf("%v: %v, PprofAddr %q", tc.env, err, c.PprofAddr)
		}
	}
}

// TestPprofOnItsOwnAddress: with CALLCONNECT_PPROF_ADDR the binary serves
// Go's profiler there, and never on the API's port.
func TestPprofOnItsOwnAddress(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewEmptyPool(t)
	addr := freeAddr(t)
	p := startServiceEnv(t, pool.Config().ConnString(), []string{"CALLCONNECT_PPROF_ADDR=" + addr})
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("http://" + addr + "/debug/pprof/cmdline"); code != http.StatusOK || !strings.Contains(body, "serve") {
		t.Errorf("the profiler's cmdline: %d %q", code, body)
	}
	if code, _ := get("http://" + addr + "/debug/pprof/heap?debug=1"); code != http.StatusOK {
		t.Errorf("the profiler's heap: %d", code)
	}
	if code, _ := get("http://" + p.addr + "/debug/pprof/cmdline"); code == http.StatusOK {
		t.Error("the API's port serves the profiler")
	}
	p.stop(t)
}
