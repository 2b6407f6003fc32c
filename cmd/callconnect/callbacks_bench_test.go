package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Load of BenchmarkBinaryTaskCallbacks.
const (
	callbackPartners = 16
	callbackWarmUp   = time.Second
	callbackWindow   = 5 * time.Second
)

// taskCallbackBody is a partner's task callback (the lead found by its
// phone) as the partner protocol shows it.
const taskCallbackBody = `{
  "telefone": "PHONE",
  "interacoes": [{
    "tipo": "L",
    "descricao": "DESCRIPTION",
    "tarefa": {"nome": "Ligação externa", "data": "2024-03-19 14:00", "situacao": "C",
               "prioridade": "A", "tipo_responsavel": "G", "idresponsavel": 6065,
               "lembrete_tarefa": "S"}
  }]
}`

// BenchmarkBinaryTaskCallbacks has 16 partners, each with its own token,
// its own lead (found by phone) and its own keep-alive connection, post
// task callbacks (every descricao distinct, so none is a duplicate) to the
// built binary, as fast as they are answered, for callbackWindow after
// callbackWarmUp; once on the cluster without durability, once on the
// durable one, each on a database of its own. Reported: callbacks/s, and
// the CPU time a callback cost: service-cpu-ms/callback (the service),
// pg-cpu-ms/callback (PostgreSQL), load-cpu-ms/callback (this process, the
// partners). Its baseline is BenchmarkPgbench on the same cluster.
//
//	go test ./cmd/callconnect -run '^$' -bench BinaryTaskCallbacks -benchtime 1x -count 3
func BenchmarkBinaryTaskCallbacks(b *testing.B) {
	for _, cluster := range []string{nonDurable, durable} {
		b.Run(cluster, func(b *testing.B) {
			db := benchDatabase(b, clusterURL(b, cluster))
			c := benchHTTP(b)
			svc := api{p: benchService(b, db), c: c}
			svc.setUp(b, "http://127.0.0.1:9/calls", 0)
			type partner struct{ email, token, phone string }
			partners := make([]partner, callbackPartners)
			for i := range partners {
				p := &partners[i]
				p.email = fmt.Sprintf("parceiro%02d@parceiro.example.com", i)
				p.phone = fmt.Sprintf("489995%05d", i)
				svc.call(b, 200, "PUT", fmt.Sprintf("/v1/environments/acme/leads/b%02d", i),
					`{"name":"Lead `+strconv.Itoa(i)+`","phone":"`+p.phone+`","manager_id":"g1"}`)
				p.token = svc.partnerToken(b, p.email)
			}
			target := svc.url("/api/cvio/lead_tarefas/cadastrar")
			var seq atomic.Int64
			var firstErr error
			var once sync.Once
			// run posts from every partner until d has passed and returns
			// how many were answered.
			run := func(d time.Duration) int64 {
				var answered atomic.Int64
				deadline := time.Now().Add(d)
				var wg sync.WaitGroup
				for _, p := range partners {
					wg.Go(func() {
						pc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 30 * time.Second}
						defer pc.CloseIdleConnections()
						body := strings.Replace(taskCallbackBody, "PHONE", p.phone, 1)
						for time.Now().Before(deadline) {
							n := seq.Add(1)
							code, got, err := request(pc, "POST", target,
								[]byte(strings.Replace(body, "DESCRIPTION", "Ligação de carga "+strconv.FormatInt(n, 10), 1)),
								"email", p.email, "token", p.token)
							if err == nil && (code != 200 || !bytes.Contains(got, []byte(`"duplicates":0`))) {
								err = fmt.Errorf("task callback: %d %s", code, got)
							}
							if err != nil {
								once.Do(func() { firstErr = err })
								return
							}
							answered.Add(1)
						}
					})
				}
				wg.Wait()
				return answered.Load()
			}
			cpu := newCPUMeter(b, benchPool(b, db), svc.p)
			run(callbackWarmUp)
			b.ResetTimer()
			from := cpu.read()
			start := time.Now()
			n := run(callbackWindow)
			elapsed := time.Since(start)
			to := cpu.read()
			b.StopTimer()
			if firstErr != nil {
				b.Fatal(firstErr)
			}
			b.ReportMetric(float64(n)/elapsed.Seconds(), "callbacks/s")
			cpu.report(b, from, to, n, "callback")
			svc.p.stop(b)
		})
	}
}

// BenchmarkBinaryRecording20MiB posts a lead callback carrying a 20 MiB MP3
// in base64 (about 27 MiB of JSON) to the built binary, whose recordings go
// to a directory (the filesystem store), and times it from the request's
// start to its answer; next to it, in the same run, the baseline: writing
// the same 20 MiB to a new file in a sibling directory on the same
// filesystem (os.Create, write, fsync, close). The cluster is the one
// without durability. Reported: ingest-ms, write-fsync-ms, post-discard-ms
// (the same request to a server in this process that only reads the
// body: what the transport alone takes), and the service
// process's resident memory: rss-before-MiB just before the request (after
// a small warm-up callback), peak-rss-MiB its peak since the process
// started (VmHWM) read after the request, and rss-growth-MiB the
// difference. The Go heap's growth is measured in process by
// adapters/httpapi's BenchmarkRecording20MiB, which can read the heap.
//
//	go test ./cmd/callconnect -run '^$' -bench BinaryRecording20MiB -benchtime 1x -count 3
func BenchmarkBinaryRecording20MiB(b *testing.B) {
	const size = 20 << 20
	audio := make([]byte, size)
	copy(audio, "ID3\x03\x00\x00\x00\x00\x00\x39")
	if _, err := rand.Read(audio[10:]); err != nil {
		b.Fatal(err)
	}
	leadBody := func(desc string, audio []byte) []byte {
		return []byte(`{"permitir_alteracao": true, "nome": "Lead da gravação", "email": "gravacao@example.com",
 "interacoes": [{"tipo": "L", "descricao": "` + desc + `", "audio_base64": "` + base64.StdEncoding.EncodeToString(audio) + `"}]}`)
	}
	big := leadBody("Gravação de 20 MiB", audio)
	small := leadBody("Gravação pequena", append([]byte("ID3\x03\x00\x00\x00\x00\x00\x39TPE1"), make([]byte, 4096)...))

	dir := b.TempDir()
	recordings, direct := filepath.Join(dir, "recordings"), filepath.Join(dir, "direct")
	for _, d := range []string{recordings, direct} {
		if err := os.Mkdir(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	db := benchDatabase(b, clusterURL(b, nonDurable))
	c := benchHTTP(b)
	svc := api{p: benchService(b, db, "CALLCONNECT_RECORDINGS_DIR="+recordings), c: c}
	svc.setUp(b, "http://127.0.0.1:9/calls", 0)
	svc.call(b, 200, "PUT", "/v1/environments/acme/leads/rec", `{"name":"Lead da gravação","email":"gravacao@example.com","manager_id":"g1"}`)
	token := svc.partnerToken(b, "parceiro@example.com")
	post := func(body []byte) {
		code, got, err := request(c, "POST", svc.url("/api/cvio/lead"), body, "email", "parceiro@example.com", "token", token)
		if err != nil {
			b.Fatal(err)
		}
		if code != 200 || !bytes.Contains(got, []byte(`"recording_ids":["`)) {
			b.Fatalf("lead callback: %d %s", code, got)
		}
	}
	post(small) // the connection open, the code paths warm
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	b.Cleanup(sink.Close)
	if code, _, err := request(c, "POST", sink.URL, small); err != nil || code != 200 {
		b.Fatalf("POST to the sink: %d %v", code, err)
	}

	b.ResetTimer()
	start := time.Now()
	f, err := os.Create(filepath.Join(direct, "recording.mp3"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.Write(audio); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	write := time.Since(start)

	// The transport alone: the same body to a server that only reads it.
	start = time.Now()
	if code, _, err := request(c, "POST", sink.URL, big); err != nil || code != 200 {
		b.Fatalf("POST to the sink: %d %v", code, err)
	}
	transport := time.Since(start)

	before, _ := memory(b, svc.p.cmd.Process.Pid)
	start = time.Now()
	post(big)
	ingest := time.Since(start)
	_, peak := memory(b, svc.p.cmd.Process.Pid)
	b.StopTimer()
	b.ReportMetric(ms(ingest), "ingest-ms")
	b.ReportMetric(ms(write), "write-fsync-ms")
	b.ReportMetric(ms(transport), "post-discard-ms")
	b.ReportMetric(float64(before)/mib, "rss-before-MiB")
	b.ReportMetric(float64(peak)/mib, "peak-rss-MiB")
	b.ReportMetric(float64(peak-before)/mib, "rss-growth-MiB")
	svc.p.stop(b)
}
