package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// checkVerdicts runs partner-check against target and returns its exit
// code, its report and each check's verdict by label ("(a)" → "PASS").
func checkVerdicts(t *testing.T, target string, extra ...string) (int, string, map[string]string) {
	t.Helper()
	var out, errb strings.Builder
	code := runPartnerCheck(context.Background(), append([]string{target, "--secret", simTestSecret, "--timeout", "5s"}, extra...),
		envOf(nil), &out, &errb)
	verdicts := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(PASS|FAIL) (\([a-e]\))`).FindAllStringSubmatch(out.String(), -1) {
		verdicts[m[2]] = m[1]
	}
	if errb.Len() > 0 {
		t.Logf("stderr: %s", errb.String())
	}
	return code, out.String(), verdicts
}

// guidePartner verifies as the partner guide's snippets do, with one rule
// left out or got wrong when told, to see each check catch its rule.
type guidePartner struct {
	noSignature      bool // accepts any signature
	noWindow         bool // accepts any timestamp
	refusesRepeats   bool // answers a webhook-id already accepted 409
	trustsRepeatedID bool // answers a webhook-id already accepted 202 before verifying anything

	mu   sync.Mutex
	seen map[string]bool
}

func (p *guidePartner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get("webhook-id")
	p.mu.Lock()
	repeat := p.seen[id]
	p.mu.Unlock()
	if repeat && p.trustsRepeatedID {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	secret, now := simTestSecret, time.Now()
	if p.noWindow {
		// Judged at the request's own time, the window always holds.
		secs, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		now = time.Unix(secs, 0)
	}
	if err := verifyWebhook(r.Header, body, secret, now); err != nil && !(p.noSignature && strings.Contains(err.Error(), "assinatura")) {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if repeat && p.refusesRepeats {
		http.Error(w, "já recebida", http.StatusConflict)
		return
	}
	p.mu.Lock()
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	p.seen[id] = true
	p.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// partner-check passes against partner-sim, the reference partner, and
// fails, check by check, against partners that get a rule wrong.
func TestPartnerCheckVerdicts(t *testing.T) {
	_, sim, _ := testSim(t, nil)
	cases := []struct {
		name    string
		handler http.Handler // nil: partner-sim
		want    string       // the verdicts of (a) to (e)
	}{
		{"partner-sim", nil, "PPPPP"},
		{"a partner that accepts everything", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }), "PFFFP"},
		{"a partner that refuses everything", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) }), "FPPPF"},
		{"a partner that fails everything", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }), "FFFFF"},
		{"a partner that redirects", http.RedirectHandler("https://elsewhere.example.com/", http.StatusFound), "FFFFF"},
		{"the guide, signature unchecked", &guidePartner{noSignature: true}, "PFPFP"},
		{"the guide, timestamp unchecked", &guidePartner{noWindow: true}, "PPFPP"},
		{"the guide, repeats trusted unverified", &guidePartner{trustsRepeatedID: true}, "PPPFP"},
		{"the guide, repeats refused", &guidePartner{refusesRepeats: true}, "PPPPF"},
		{"the guide", &guidePartner{}, "PPPPP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := sim.URL + "/calls"
			if tc.handler != nil {
				srv := httptest.NewServer(tc.handler)
				t.Cleanup(srv.Close)
				target = srv.URL + "/callconnect"
			}
			code, out, verdicts := checkVerdicts(t, target)
			got := ""
			for _, label := range []string{"(a)", "(b)", "(c)", "(d)", "(e)"} {
				got += verdicts[label][:min(1, len(verdicts[label]))]
			}
			wantCode := 0
			if strings.Contains(tc.want, "F") {
				wantCode = 1
			}
			if got != tc.want || code != wantCode {
				t.Fatalf("verdicts %s exit %d, want %s exit %d:\n%s", got, code, tc.want, wantCode, out)
			}
			if !strings.Contains(out, "5 checks: "+map[bool]string{true: "5 passed, 0 failed", false: ""}[wantCode == 0]) {
				t.Fatalf("no summary line:\n%s", out)
			}
		})
	}
}

// Each check reports what was sent — method, URL, headers with the
// signature's value left out, the body's start — and what came back; the
// body is a real test call as the service encodes it.
func TestPartnerCheckReportsWhatWasSentAndReceived(t *testing.T) {
	var (
		mu         sync.Mutex
		signatures []string
		bodies     [][]byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		signatures, bodies = append(signatures, r.Header.Get("webhook-signature")), append(bodies, body)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "aceita pelo parceiro de teste")
	}))
	t.Cleanup(srv.Close)
	_, out, _ := checkVerdicts(t, srv.URL+"/hook")
	if len(bodies) != 5 {
		t.Fatalf("%d requests, want 5", len(bodies))
	}
	for _, sig := range signatures {
		if sig == "" || strings.Contains(out, strings.TrimPrefix(sig, "v1,")) {
			t.Fatalf("the report shows the signature %q:\n%s", sig, out)
		}
	}
	for _, want := range []string{"sent:     POST " + srv.URL + "/hook", "Webhook-Id: msg_teste_", "Webhook-Timestamp: ", "(10 minutes ago)",
		"Webhook-Signature: v1,… (signed with another, random secret; value not shown)", `body (1`, `{"idlead":"teste_lead"`,
		"received: 200 OK", `"aceita pelo parceiro de teste"`, "why it matters:"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	var call map[string]any
	if err := json.Unmarshal(bodies[0], &call); err != nil {
		t.Fatal(err)
	}
	id, _ := call["idligacao"].(string)
	if call["teste"] != true || !strings.HasPrefix(id, "teste_") || call["call-back do lead"] == nil ||
		call["modo_discagem"] != "telefone" || call["acionador"].(map[string]any)["tipo"] != "corretor" {
		t.Fatalf("the sample call is not a test call as the service sends it: %s", bodies[0])
	}
	if string(bodies[3]) != string(bodies[0]) || string(bodies[4]) != string(bodies[0]) || signatures[3] != signatures[0] || signatures[4] == signatures[0] {
		t.Fatal("(d) must resend (a)'s body and signature, (e) (a)'s body with a new signature")
	}
}

// A partner that does not answer within --timeout fails the checks that
// wait for an answer, naming the timeout.
func TestPartnerCheckTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	code, out, verdicts := checkVerdicts(t, srv.URL, "--timeout", "200ms")
	if code != 1 || len(verdicts) != 5 || strings.Contains(out, "PASS") || !strings.Contains(out, "received: nothing after") ||
		!strings.Contains(out, "Timeout") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// Usage errors exit 2 naming the problem; the URL may come before or after
// the flags; the secret may come from WEBHOOK_SECRET; --help says that
// private and loopback URLs are allowed.
func TestPartnerCheckCommandLine(t *testing.T) {
	srv := httptest.NewServer(&guidePartner{})
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		args []string
		env  map[string]string
		code int
		says string
	}{
		{[]string{"partner-check"}, nil, 2, "one URL is required"},
		{[]string{"partner-check", srv.URL}, nil, 2, "--secret (or WEBHOOK_SECRET)"},
		{[]string{"partner-check", srv.URL, "--secret", "whsec"}, nil, 2, "--secret: must be whsec_"},
		{[]string{"partner-check", "ftp://x", "--secret", simTestSecret}, nil, 2, "URL: must be an absolute http(s) URL"},
		{[]string{"partner-check", srv.URL, srv.URL, "--secret", simTestSecret}, nil, 2, "got 2 arguments"},
		{[]string{"partner-check", srv.URL, "--secret", simTestSecret, "--timeout", "0s"}, nil, 2, "--timeout"},
		{[]string{"partner-check", srv.URL, "--secret", simTestSecret, "--dial-mode", "fax"}, nil, 2, "--dial-mode"},
		{[]string{"partner-check", "--bogus"}, nil, 2, "--help"},
		{[]string{"partner-check", "--secret", simTestSecret, srv.URL}, nil, 0, "5 passed"},
		{[]string{"partner-check", srv.URL, "--secret", simTestSecret, "--dial-mode", "extension"}, nil, 0, "5 passed"},
		{[]string{"partner-check", srv.URL}, map[string]string{"WEBHOOK_SECRET": simTestSecret}, 0, "5 passed"},
		{[]string{"partner-check", "--help"}, nil, 0, "loopback and private addresses"},
	} {
		var out, errb strings.Builder
		code := run(tc.args, envOf(tc.env), &out, &errb)
		if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.says) {
			t.Errorf("%q: exit %d, want %d saying %q:\n%s%s", tc.args, code, tc.code, tc.says, out.String(), errb.String())
		}
	}
}

// The partner guide's Go program, built and run as a partner would, passes
// every check: the guide and the check agree on what a partner does.
func TestPartnerCheckPassesThePartnerGuidesGoProgram(t *testing.T) {
	guide, err := os.ReadFile("../../docs/partners.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- snippet: verify-go -->\\s*```go\\n(.*?)\\n```").FindSubmatch(guide)
	if m == nil {
		t.Fatal("docs/partners.md has no ```go block after <!-- snippet: verify-go -->")
	}
	dir := t.TempDir()
	for name, text := range map[string]string{"main.go": string(m[1]), "go.mod": "module snippet\n\ngo 1.22\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-o", "partner", ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the guide's Go program: %v\n%s", err, out)
	}
	_, port, _ := net.SplitHostPort(freeAddr(t))
	cmd := exec.Command(filepath.Join(dir, "partner"))
	cmd.Env = append(os.Environ(), "WEBHOOK_SECRET="+simTestSecret, "HOST=127.0.0.1", "PORT="+port)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "ouvindo em") {
				close(listening)
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		t.Fatal("the guide's Go program did not listen within 30s")
	}
	if code, out, _ := checkVerdicts(t, "http://127.0.0.1:"+port+"/"); code != 0 || !strings.Contains(out, "5 passed, 0 failed") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
