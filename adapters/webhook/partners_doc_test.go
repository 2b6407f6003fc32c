//go:build unix

package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"callconnect/adapters/webhook"
	"callconnect/ports"
)

// partnersDoc is the partner guide whose verification snippets these tests run.
const partnersDoc = "../../docs/partners.md"

// docBlock returns the fenced code block that follows the HTML comment
// marker (<!-- snippet: verify-go -->) in the partner guide.
func docBlock(t *testing.T, marker string) string {
	t.Helper()
	doc, err := os.ReadFile(partnersDoc)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- " + regexp.QuoteMeta(marker) + " -->\\s*```[a-z]*\\n(.*?)\\n```")
	m := re.FindSubmatch(doc)
	if m == nil {
		t.Fatalf("%s has no fenced block after <!-- %s -->", partnersDoc, marker)
	}
	return string(m[1])
}

// snippetServer is one of the guide's verification programs, running.
type snippetServer struct {
	url string
	out *lockedBuffer // what the program printed, for failure messages
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startSnippet runs cmd (in its own process group, so that `go run`'s child
// goes too) and waits until a line of its output matches ready; the first
// group of ready, when there is one, is the address it listens on, else addr.
func startSnippet(t *testing.T, cmd *exec.Cmd, ready *regexp.Regexp, addr string) *snippetServer {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})

	s := &snippetServer{out: &lockedBuffer{}}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.out, line)
			if m := ready.FindStringSubmatch(line); m != nil {
				a := addr
				if len(m) > 1 {
					a = m[1]
				}
				select {
				case found <- a:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	// `go run` compiles first: allow for a slow, shared machine.
	select {
	case a := <-found:
		s.url = "http://" + a + "/"
	case <-exited:
		t.Fatalf("%s exited before listening:\n%s", cmd.Path, s.out)
	case <-time.After(3 * time.Minute):
		t.Fatalf("%s did not start listening:\n%s", cmd.Path, s.out)
	}
	return s
}

// freePort returns a loopback port nothing listens on (for php -S, which
// cannot be told port 0).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func newSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return webhook.SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// The guide's Go program, as a partner would copy it: go run in a module of
// its own, standard library only.
func TestPartnersDocGoSnippetVerifies(t *testing.T) {
	// go test puts its own toolchain first on PATH.
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module exemplo\n\ngo 1.22\n")
	writeFile(t, filepath.Join(dir, "main.go"), docBlock(t, "snippet: verify-go"))
	secret := newSecret(t)
	cmd := exec.Command(goBin, "run", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "WEBHOOK_SECRET="+secret, "HOST=127.0.0.1", "PORT=0")
	s := startSnippet(t, cmd, regexp.MustCompile(`ouvindo em (\S+)`), "")
	checkVerifier(t, s, secret)
}

// The guide's Node.js program, built-in modules only.
func TestPartnersDocNodeSnippetVerifies(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed to run the partner guide's Node.js snippet (apt-get install nodejs)")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "server.js")
	writeFile(t, file, docBlock(t, "snippet: verify-node"))
	secret := newSecret(t)
	cmd := exec.Command(node, file)
	cmd.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret, "HOST=127.0.0.1", "PORT=0")
	s := startSnippet(t, cmd, regexp.MustCompile(`ouvindo em (\S+)`), "")
	checkVerifier(t, s, secret)
}

// The guide's PHP script, served by PHP's built-in web server as a partner's
// web server would run it.
func TestPartnersDocPHPSnippetVerifies(t *testing.T) {
	php, err := exec.LookPath("php")
	if err != nil {
		t.Skip("php is not installed (apt-get install php-cli); .ci/run installs it")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "callconnect.php"), docBlock(t, "snippet: verify-php"))
	secret := newSecret(t)
	addr := "127.0.0.1:" + freePort(t)
	cmd := exec.Command(php, "-S", addr, "callconnect.php")
	cmd.Dir = dir
	// TMPDIR: where the script keeps the webhook-ids it has seen.
	cmd.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret, "TMPDIR="+t.TempDir())
	s := startSnippet(t, cmd, regexp.MustCompile(`Development Server .* started`), addr)
	checkVerifier(t, s, secret)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkVerifier sends the guide's example call to a running snippet, signed
// by the service's own signer, and checks each answer: 2xx when the
// signature holds, 401 when the body was changed, the secret is another or
// the timestamp is out of the five-minute window, and a repeat of a
// webhook-id accepted without being taken as new.
func checkVerifier(t *testing.T, s *snippetServer, secret string) {
	t.Helper()
	body := []byte(docBlock(t, "example: partner-call"))
	if !json.Valid(body) {
		t.Fatalf("the guide's example call is not JSON:\n%s", body)
	}
	client := webhook.New(webhook.Config{AllowPrivate: true})
	t.Cleanup(client.CloseIdleConnections)
	other := newSecret(t)
	now := time.Now()
	id := func(name string) string { return "msg_" + strings.ReplaceAll(t.Name()+"_"+name, "/", "_") }

	// deliver sends the call as the service does (headers, signature), through its client.
	deliver := func(webhookID string, ts time.Time, secrets ...string) (int, string) {
		t.Helper()
		resp := client.Deliver(context.Background(), ports.PartnerRequest{
			URL: s.url, Body: body, WebhookID: webhookID, Secrets: secrets, Timestamp: ts})
		if resp.Err != nil {
			t.Fatalf("delivering to the snippet: %v\n%s", resp.Err, s.out)
		}
		return resp.StatusCode, string(resp.Body)
	}
	// post sends sent with the headers given, for what the client would never do.
	post := func(sent []byte, headers map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(sent))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("posting to the snippet: %v\n%s", err, s.out)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	signed := func(webhookID string, ts time.Time, signedBody []byte) map[string]string {
		sig, err := webhook.Sign(webhookID, ts, signedBody, []string{secret})
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"webhook-id": webhookID, "webhook-timestamp": strconv.FormatInt(ts.Unix(), 10), "webhook-signature": sig}
	}

	cases := []struct {
		name     string
		send     func() (int, string)
		accepted bool
		says     string // in the body of an accepted answer
	}{
		{"good signature", func() (int, string) { return deliver(id("good"), now, secret) }, true, "aceita"},
		{"the same webhook-id again, as a retry sends it", func() (int, string) { return deliver(id("good"), now.Add(3*time.Second), secret) }, true, "repetida"},
		{"signed with a new and the previous secret (rotation)", func() (int, string) { return deliver(id("rotation"), now, other, secret) }, true, "aceita"},
		{"timestamp four minutes old", func() (int, string) { return deliver(id("late"), now.Add(-4*time.Minute), secret) }, true, "aceita"},
		{"tampered body", func() (int, string) {
			tampered := bytes.Replace(body, []byte("48999476357"), []byte("48999476350"), 1)
			if bytes.Equal(tampered, body) {
				t.Fatal("the example call has no lead phone to tamper with")
			}
			return post(tampered, signed(id("tampered"), now, body))
		}, false, ""},
		{"body re-serialised after signing", func() (int, string) {
			var v any
			_ = json.Unmarshal(body, &v)
			compact, _ := json.Marshal(v)
			return post(compact, signed(id("reserialised"), now, body))
		}, false, ""},
		{"wrong secret", func() (int, string) { return deliver(id("wrong-secret"), now, other) }, false, ""},
		{"timestamp six minutes old", func() (int, string) { return deliver(id("old"), now.Add(-6*time.Minute), secret) }, false, ""},
		{"timestamp six minutes ahead", func() (int, string) { return deliver(id("ahead"), now.Add(6*time.Minute), secret) }, false, ""},
		{"headers without the signature", func() (int, string) {
			h := signed(id("unsigned"), now, body)
			delete(h, "webhook-signature")
			return post(body, h)
		}, false, ""},
		{"an old request replayed under a fresh timestamp", func() (int, string) {
			h := signed(id("replayed"), now.Add(-10*time.Minute), body)
			h["webhook-timestamp"] = strconv.FormatInt(now.Unix(), 10)
			return post(body, h)
		}, false, ""},
	}
	for _, tc := range cases {
		status, answer := tc.send()
		switch {
		case tc.accepted && (status < 200 || status > 299):
			t.Errorf("%s: got %d %q, want 2xx\n%s", tc.name, status, answer, s.out)
		case tc.accepted && !strings.Contains(answer, tc.says):
			t.Errorf("%s: answer %q, want it to say %q", tc.name, answer, tc.says)
		case !tc.accepted && status != http.StatusUnauthorized:
			t.Errorf("%s: got %d %q, want 401\n%s", tc.name, status, answer, s.out)
		}
	}
}
