package httpapi_test

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"callconnect/adapters/httpapi"
)

// A client that sends its request headers a byte at a time (slowloris) is
// cut off at the read-header timeout, while another client is served.
func TestSlowHeadersAreCutAtTheReadHeaderTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.NewServer(ln.Addr().String(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	// The server tells of each connection it accepts.
	accepted := make(chan net.Addr, 4)
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		if state == http.StateNew {
			select {
			case accepted <- c.RemoteAddr():
			default:
			}
		}
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "POST /api/cvio/lead HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	// Trickle a header, a byte every 250 ms, until the server closes the
	// connection (the read fails); the test gives up at four timeouts.
	stop := make(chan struct{})
	defer close(stop)
	trickled := make(chan struct{}, 1) // a value per byte, dropped when nobody takes it
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond): // shapes load: the slow client's pace
			}
			if _, err := io.WriteString(conn, "X"); err != nil {
				return
			}
			select {
			case trickled <- struct{}{}:
			default:
			}
		}
	}()
	cut := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		cut <- time.Since(start)
	}()

	// Once the server has accepted the slow client's connection and a byte
	// of its header has gone out, a client that sends its request at once
	// is served meanwhile.
	select {
	case addr := <-accepted:
		if addr.String() != conn.LocalAddr().String() {
			t.Fatalf("the server accepted a connection from %s, not from the slow client %s", addr, conn.LocalAddr())
		}
	case <-time.After(httpapi.ReadHeaderTimeout):
		t.Fatal("the server did not accept the slow client's connection")
	}
	select {
	case <-trickled:
	case <-time.After(httpapi.ReadHeaderTimeout):
		t.Fatal("the slow client could not send a byte of its header")
	}
	res, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("a normal request while a slow one holds a connection: %d", res.StatusCode)
	}

	var elapsed time.Duration
	select {
	case elapsed = <-cut:
	case <-time.After(4 * httpapi.ReadHeaderTimeout):
		t.Fatalf("the connection is still open after %s of trickled headers", time.Since(start))
	}
	if elapsed < httpapi.ReadHeaderTimeout-time.Second || elapsed > httpapi.ReadHeaderTimeout+2*time.Second {
		t.Fatalf("cut after %s, want about the read-header timeout (%s)", elapsed, httpapi.ReadHeaderTimeout)
	}
}

// A valid partner token of another environment cannot reach this
// environment's calls, by the result path or by idligacao: 404, and nothing
// is written here.
func TestAnotherEnvironmentsTokenCannotReachThisOnesCalls(t *testing.T) {
	r := newCallbackRig(t, rigConfig{})
	callID := r.placeCall("1")
	before := r.get(env + "/calls/" + callID)
	otherTok := r.created(r.post("/v1/environments/other/partner-tokens", map[string]any{"email": partnerEmail}))["token"].(string)

	wantProblem(t, r.partner("/api/cvio/ligacoes/"+callID+"/resultado", `{"status": "realizada", "descricao": "alheia"}`, "token", otherTok),
		http.StatusNotFound, "call_not_found", "path.idligacao")
	wantProblem(t, r.partner("/api/cvio/lead_tarefas/cadastrar?idligacao="+callID, `{"interacoes": [{"tipo": "L", "descricao": "alheia"}]}`, "token", otherTok),
		http.StatusNotFound, "call_not_found", "query.idligacao")
	wantProblem(t, r.partner("/api/cvio/lead?idligacao="+callID, `{"interacoes": [{"tipo": "L", "descricao": "alheia"}]}`, "token", otherTok),
		http.StatusNotFound, "call_not_found", "query.idligacao")

	r.noHistory("1", "2")
	if h := r.ok(r.get("/v1/environments/other/leads/1"))["history"].([]any); len(h) != 0 {
		t.Fatalf("the other environment's lead got history: %v", h)
	}
	same(t, before, r.get(env+"/calls/"+callID))
}
