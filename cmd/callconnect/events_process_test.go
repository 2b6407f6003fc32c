package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"callconnect/adapters/postgres/pgtest"
)

// eventFrame is a server-sent event as a client reads it; a comment or a
// retry hint has no event.
type eventFrame struct {
	id, event, data string
}

// readFrames reads the stream's frames into a channel, closed at the
// stream's end.
func readFrames(body *bufio.Reader) <-chan eventFrame {
	out := make(chan eventFrame, 64)
	go func() {
		defer close(out)
		var f eventFrame
		for {
			line, err := body.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if line == "" {
				out <- f
				f = eventFrame{}
				continue
			}
			name, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch name {
			case "id":
				f.id = value
			case "event":
				f.event = value
			case "data":
				f.data += value
			}
		}
	}()
	return out
}

// TestEventsAcrossProcessesAndSIGTERM runs the binary twice on one
// database: a stream of events opened on one process gets, within a second
// of its commit, the event of a call placed through the other, then the
// call's delivery to a fake partner; on SIGTERM the stream ends and the
// process stops cleanly at once, not after its shutdown timeout.
func TestEventsAcrossProcessesAndSIGTERM(t *testing.T) {
	pool := pgtest.NewEmptyPool(t)
	url := pool.Config().ConnString()
	fake := newPartner(t)
	a := startServiceEnv(t, url, deliveryEnv)
	configure(t, a, fake.srv.URL+"/calls", 1)
	const shutdownTimeout = 20 * time.Second
	b := startServiceEnv(t, url, append([]string{"CALLCONNECT_SHUTDOWN_TIMEOUT=" + shutdownTimeout.String()}, deliveryEnv...))

	req, _ := http.NewRequest(http.MethodGet, "http://"+b.addr+"/v1/environments/acme/events", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the stream: %d", res.StatusCode)
	}
	frames := readFrames(bufio.NewReader(res.Body))
	next := func(what string, within time.Duration) eventFrame {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case f, ok := <-frames:
				if !ok {
					t.Fatalf("%s: the stream ended\n%s", what, b.stderr)
				}
				if f.event != "" {
					return f
				}
			case <-deadline:
				t.Fatalf("%s: nothing within %s", what, within)
			}
		}
	}

	id := a.click(t, "l0")
	committed := time.Now()
	f := next("the click's event", time.Second)
	var ev struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			CallID string `json:"call_id"`
			Status string `json:"status"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(f.data), &ev); err != nil || f.event != "call.queued" || ev.Type != f.event || ev.ID != f.id ||
		ev.Data.CallID != id {
		t.Fatalf("the click's event: %+v (%v)", f, err)
	}
	t.Logf("the click on one process reached the other's stream %s after its commit", time.Since(committed).Round(time.Millisecond))
	if f := next("the delivery's event", 30*time.Second); f.event != "call.delivered" || !strings.Contains(f.data, `"call_id":"`+id+`"`) {
		t.Fatalf("the delivery's event: %+v", f)
	}

	stopped := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Whatever comes before the end (a keepalive) is let by; the end must
	// come well before the shutdown timeout.
	ended := time.After(shutdownTimeout / 2)
	for open := true; open; {
		select {
		case _, open = <-frames:
		case <-ended:
			t.Fatalf("the stream was still open %s after SIGTERM", shutdownTimeout/2)
		}
	}
	b.waitStopped(t)
	if took := time.Since(stopped); took > shutdownTimeout/2 {
		t.Fatalf("the service took %s to stop with a stream open; the stream must end as the server shuts down", took)
	}
}
