package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"callconnect/adapters/cvio"
	"callconnect/adapters/webhook"
)

// The partner tools read their secrets from the environment as well as from
// flags, so that they need not appear in a process list or a shell history.
const (
	simSecretEnv = "CALLCONNECT_SIM_SECRET"
	simTokenEnv  = "CALLCONNECT_SIM_TOKEN"
)

const partnerSimUsage = `usage: callconnect partner-sim [flags]

A reference partner: it receives Call Connect's calls as a correct partner
does (docs/partners.md) and reports their results back through the callbacks,
so that the whole loop can be watched without a telephony system.

Each POST is checked as the partner guide says: the three webhook-* headers,
a webhook-timestamp within 5 minutes of the clock, a v1 signature made with
the integration's secret over "<webhook-id>.<webhook-timestamp>.<raw body>"
(anything else is answered 401). A webhook-id already accepted is a retry of
the same call: answered 202 "repetida", and not dialled again. A test call
("teste": true) is answered 202 and nothing more. Any other call is answered
202 "aceita" and, after --delay, reported back once:

  realizada      a lead callback (POST .../api/cvio/lead?idligacao=…) with a
                 recording of a few seconds (a WAV, PCM 8 kHz mono), then a
                 task callback with the task "Ligação realizada";
  não realizada  a task callback with a reason drawn among the motivos,
                 through status/motivo or the description's words (--style).

The callbacks go to the "call-back do lead" and "call-back da tarefa" URLs the
call carries (or to --callback-base), with the partner token's email and token
headers and an Idempotency-Key, retried on 429, 5xx and network errors. Every
request received and every callback sent is logged (JSON, on stderr).

--fail-share and --timeout-share make it misbehave on a share of new calls
(503, or no answer until the sender gives up), to watch Call Connect retry.

The environment may carry the secrets instead of the flags:
  ` + simSecretEnv + `  the integration's signing secret (whsec_…)
  ` + simTokenEnv + `   the partner token

flags:
`

// simConfig is what partner-sim runs with.
type simConfig struct {
	Addr           string
	Secret         string
	Token          string
	Email          string
	Delay          time.Duration
	CompletedShare float64
	FailShare      float64
	TimeoutShare   float64
	Style          string
	CallbackBase   *url.URL // nil: the URLs the call carries
	MaxCalls       int
}

// The ways a não realizada reaches the service, and their mix.
const (
	simStyleFields = "fields" // status and motivo on the interaction
	simStyleWords  = "words"  // the article's words in descricao
	simStyleMixed  = "mixed"  // either, drawn per call
)

// Bounds of the simulator.
const (
	simMaxBody       = 1 << 20          // a call is a few KiB; the partner guide's snippets cap at 1 MiB too
	simTolerance     = 5 * time.Minute  // the webhook-timestamp window of the partner guide
	simRemember      = 24 * time.Hour   // how long an accepted webhook-id is remembered (the guide's advice)
	simHangAtMost    = 5 * time.Minute  // a request left hanging is answered 503 at last, if its sender is still there
	simCallbackTries = 4                // attempts per callback (429, 5xx, network errors)
	simRetryAfterMax = 30 * time.Second // the longest Retry-After honoured between them
	simTimeout       = time.Minute      // one callback attempt, recording included
)

// simMotivos are the partner's reasons for a call not made, with the words
// that say the same in a description (each read back as that motivo: see
// the table test of partnersim_test.go).
var simMotivos = []struct{ motivo, words string }{
	{"nao_atendida", "Ligação não atendida"},
	{"nao_completada", "Ligação não completada"},
	{"ocupado", "Telefone ocupado"},
	{"numero_invalido", "Número inválido"},
	{"cancelada", "Ligação cancelada"},
	{"outro", "Ligação não realizada"},
}

// partnerSimCommand is `callconnect partner-sim`: it serves until SIGINT or
// SIGTERM.
func partnerSimCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runPartnerSim(ctx, args, getenv, stdout, stderr, nil)
}

// runPartnerSim parses args, serves until ctx ends and returns the exit
// code; ready, when set, is told the address listened on.
func runPartnerSim(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready func(addr string)) int {
	cfg, code := parseSimFlags(args, getenv, stdout, stderr)
	if code >= 0 {
		return code
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil)).With("component", "partner-sim")
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "callconnect partner-sim: %v\n", err)
		return 1
	}
	sim := newPartnerSim(cfg, logger, &http.Client{Timeout: simTimeout})
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("partner-sim listening", "url", "http://"+ln.Addr().String()+"/", "completed_share", cfg.CompletedShare,
		"fail_share", cfg.FailShare, "timeout_share", cfg.TimeoutShare, "delay", cfg.Delay.String(), "style", cfg.Style)
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err := <-served:
		logger.Error("partner-sim stopped serving", "error", err.Error())
		sim.close()
		return 1
	}
	// Hanging requests and pending reports end first, then the listener.
	dropped := sim.close()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	logger.Info("partner-sim stopped", "reports_dropped", dropped)
	return 0
}

// parseSimFlags reads the flags and the environment; code is -1 when the
// simulator is to run, else the exit code (0 after --help).
func parseSimFlags(args []string, getenv func(string) string, stdout, stderr io.Writer) (cfg simConfig, code int) {
	fs := flag.NewFlagSet("partner-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	var callbackBase string
	defineSimFlags(fs, &cfg, &callbackBase)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, partnerSimUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return cfg, 0
		}
		fmt.Fprintln(stderr, "run callconnect partner-sim --help for its flags")
		return cfg, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "callconnect partner-sim: unexpected arguments %q\n", fs.Args())
		return cfg, 2
	}
	if cfg.Secret == "" {
		cfg.Secret = strings.TrimSpace(getenv(simSecretEnv))
	}
	if cfg.Token == "" {
		cfg.Token = strings.TrimSpace(getenv(simTokenEnv))
	}
	if problems := cfg.check(callbackBase); len(problems) > 0 {
		fmt.Fprintf(stderr, "callconnect partner-sim:\n  %s\n", strings.Join(problems, "\n  "))
		return cfg, 2
	}
	return cfg, -1
}

// defineSimFlags defines partner-sim's flags on fs, into cfg and, for
// --callback-base (checked by check), callbackBase.
func defineSimFlags(fs *flag.FlagSet, cfg *simConfig, callbackBase *string) {
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8090", "address to listen on (host:port); the partner URL of the integration is http://ADDR/ (any path)")
	fs.StringVar(&cfg.Secret, "secret", "", "the integration's signing secret, whsec_… (default $"+simSecretEnv+")")
	fs.StringVar(&cfg.Token, "token", "", "the partner token to call back with (default $"+simTokenEnv+")")
	fs.StringVar(&cfg.Email, "email", "", "the partner token's e-mail, sent with it")
	fs.DurationVar(&cfg.Delay, "delay", 2*time.Second, "how long a call \"lasts\": the wait between accepting it and reporting back")
	fs.Float64Var(&cfg.CompletedShare, "completed-share", 0.7, "share of calls reported realizada (0..1); the rest are não realizada")
	fs.Float64Var(&cfg.FailShare, "fail-share", 0, "share of new calls answered 503, to watch retries (0..1)")
	fs.Float64Var(&cfg.TimeoutShare, "timeout-share", 0, "share of new calls left unanswered until the sender gives up (0..1)")
	fs.StringVar(&cfg.Style, "style", simStyleMixed, "how a não realizada is said: fields (status/motivo), words (descricao), or mixed")
	fs.StringVar(callbackBase, "callback-base", "", "post the callbacks to this base URL (e.g. http://127.0.0.1:8080) instead of the host of the URLs the call carries")
	fs.IntVar(&cfg.MaxCalls, "max-calls", 10000, "calls remembered at once (pending reports and accepted webhook-ids); a new call beyond is answered 503")
}

// check returns what is wrong with the settings, one line each, and sets
// CallbackBase from callbackBase.
func (cfg *simConfig) check(callbackBase string) []string {
	var problems []string
	if cfg.Secret == "" {
		problems = append(problems, "--secret (or "+simSecretEnv+"): the integration's signing secret is required")
	} else if _, err := webhook.Sign("msg_check", time.Now(), nil, []string{cfg.Secret}); err != nil {
		problems = append(problems, "--secret: must be whsec_ followed by base64, as the integration showed it")
	}
	if cfg.Token == "" {
		problems = append(problems, "--token (or "+simTokenEnv+"): the partner token to call back with is required")
	}
	if cfg.Email == "" {
		problems = append(problems, "--email: the partner token's e-mail is required")
	}
	if cfg.Delay < 0 {
		problems = append(problems, "--delay: must not be negative")
	}
	for _, s := range []struct {
		name string
		v    float64
	}{{"--completed-share", cfg.CompletedShare}, {"--fail-share", cfg.FailShare}, {"--timeout-share", cfg.TimeoutShare}} {
		if math.IsNaN(s.v) || s.v < 0 || s.v > 1 {
			problems = append(problems, s.name+": must be between 0 and 1")
		}
	}
	if cfg.FailShare+cfg.TimeoutShare > 1 {
		problems = append(problems, "--fail-share and --timeout-share: together at most 1")
	}
	if !slices.Contains([]string{simStyleFields, simStyleWords, simStyleMixed}, cfg.Style) {
		problems = append(problems, "--style: must be fields, words or mixed")
	}
	if callbackBase != "" {
		u, err := url.Parse(callbackBase)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			problems = append(problems, "--callback-base: must be an absolute http(s) URL without query, such as http://127.0.0.1:8080")
		} else {
			cfg.CallbackBase = u
		}
	}
	if cfg.MaxCalls < 1 {
		problems = append(problems, "--max-calls: must be at least 1")
	}
	return problems
}

// simCall is what the simulator reads of a call; the rest of the body is
// only logged.
type simCall struct {
	IDLigacao    string  `json:"idligacao"`
	Telefone     *string `json:"telefone"`
	Data         string  `json:"data"`
	CallbackLead string  `json:"call-back do lead"`
	CallbackTask string  `json:"call-back da tarefa"`
	ModoDiscagem string  `json:"modo_discagem"`
	Teste        bool    `json:"teste"`
	Acionador    struct {
		Tipo string `json:"tipo"`
		ID   string `json:"id"`
	} `json:"acionador"`
}

// partnerSim serves the partner URL and reports each accepted call back.
type partnerSim struct {
	cfg    simConfig
	log    *slog.Logger
	client *http.Client
	now    func() time.Time
	draw   func() float64 // uniform in [0, 1): the simulator's dice
	// recording is the audio every realizada carries, made once.
	recording string

	ctx    context.Context // ends when the simulator stops
	cancel context.CancelFunc
	wg     sync.WaitGroup // pending reports

	mu      sync.Mutex
	closed  bool
	seen    map[string]*simSeen // accepted webhook-ids
	order   []string            // seen's ids, oldest first
	pending int                 // accepted calls not yet reported
}

type simSeen struct {
	at   time.Time
	done bool // reported (or given up): may be forgotten to make room
}

func newPartnerSim(cfg simConfig, logger *slog.Logger, client *http.Client) *partnerSim {
	ctx, cancel := context.WithCancel(context.Background())
	return &partnerSim{cfg: cfg, log: logger, client: client, now: time.Now, draw: rand.Float64,
		recording: base64.StdEncoding.EncodeToString(simRecording()),
		ctx:       ctx, cancel: cancel, seen: map[string]*simSeen{}}
}

// close stops the simulator: requests left hanging are let go, pending
// reports are abandoned; it returns how many were, once all have ended.
func (s *partnerSim) close() int {
	s.mu.Lock()
	s.closed = true
	dropped := s.pending
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return dropped
}

func simAnswer(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text+"\n")
}

// ServeHTTP answers a call as a partner would: refuses what is not a
// signed call, answers test calls and retries without dialling, fails or
// hangs the share the flags ask for, and accepts the rest.
func (s *partnerSim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		simAnswer(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	log := s.log.With("webhook_id", r.Header.Get("webhook-id"), "remote", r.RemoteAddr)
	call, ok := s.readCall(w, r, log)
	if !ok {
		return
	}
	log = log.With("idligacao", call.IDLigacao)
	log.Info("call received", "teste", call.Teste, "lead_telefone", deref(call.Telefone), "acionador",
		call.Acionador.Tipo+" "+call.Acionador.ID, "modo_discagem", call.ModoDiscagem, "data", call.Data)
	if call.Teste {
		// A test call tries the endpoint: nobody is to be dialled.
		log.Info("answered", "status", http.StatusAccepted, "why", "test call: not dialled")
		simAnswer(w, http.StatusAccepted, "teste")
		return
	}
	id := r.Header.Get("webhook-id")
	if s.accepted(id) {
		log.Info("answered", "status", http.StatusAccepted, "why", "webhook-id already accepted: a retry, not dialled again")
		simAnswer(w, http.StatusAccepted, "repetida")
		return
	}
	if call.CallbackLead == "" || call.CallbackTask == "" {
		log.Warn("request refused", "status", http.StatusBadRequest, "reason", "no callback URLs")
		simAnswer(w, http.StatusBadRequest, "faltam as URLs de call-back")
		return
	}
	if s.misbehave(w, r, log) {
		return
	}
	s.acceptCall(w, id, call, log)
}

// readCall reads and verifies the signed call of r; false means w has the
// refusal.
func (s *partnerSim) readCall(w http.ResponseWriter, r *http.Request, log *slog.Logger) (simCall, bool) {
	var call simCall
	// The raw bytes: the signature is over them, not over their JSON.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, simMaxBody))
	if err != nil {
		log.Warn("request refused", "status", http.StatusRequestEntityTooLarge, "reason", err.Error())
		simAnswer(w, http.StatusRequestEntityTooLarge, "corpo acima de 1 MiB ou ilegível")
		return call, false
	}
	if err := verifyWebhook(r.Header, body, s.cfg.Secret, s.now()); err != nil {
		log.Warn("request refused", "status", http.StatusUnauthorized, "reason", err.Error(),
			"webhook_timestamp", r.Header.Get("webhook-timestamp"), "body", excerptText(body, 200))
		simAnswer(w, http.StatusUnauthorized, err.Error())
		return call, false
	}
	if err := json.Unmarshal(body, &call); err != nil || call.IDLigacao == "" {
		log.Warn("request refused", "status", http.StatusBadRequest, "reason", "not a call: JSON without idligacao", "body", excerptText(body, 200))
		simAnswer(w, http.StatusBadRequest, "JSON inválido ou sem idligacao")
		return call, false
	}
	return call, true
}

// misbehave fails (--fail-share) or leaves hanging (--timeout-share) the
// share of new calls the flags ask for; true means it did.
func (s *partnerSim) misbehave(w http.ResponseWriter, r *http.Request, log *slog.Logger) bool {
	switch d := s.draw(); {
	case d < s.cfg.FailShare:
		log.Info("answered", "status", http.StatusServiceUnavailable, "why", "--fail-share: a simulated failure")
		simAnswer(w, http.StatusServiceUnavailable, "falha simulada")
		return true
	case d < s.cfg.FailShare+s.cfg.TimeoutShare:
		log.Info("left hanging", "why", "--timeout-share: no answer until the sender gives up")
		t := time.NewTimer(simHangAtMost)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			log.Info("sender gave up on the hanging request")
		case <-s.ctx.Done():
			simAnswer(w, http.StatusServiceUnavailable, "partner-sim parando")
		case <-t.C:
			simAnswer(w, http.StatusServiceUnavailable, "tempo esgotado simulado")
		}
		return true
	}
	return false
}

// acceptCall accepts call, webhook-id id, to report it back later, unless
// it is a retry or the simulator is full.
func (s *partnerSim) acceptCall(w http.ResponseWriter, id string, call simCall, log *slog.Logger) {
	switch s.accept(id, call, log) {
	case simRepeat:
		log.Info("answered", "status", http.StatusAccepted, "why", "webhook-id already accepted: a retry, not dialled again")
		simAnswer(w, http.StatusAccepted, "repetida")
	case simFull:
		log.Warn("answered", "status", http.StatusServiceUnavailable, "why", "--max-calls calls pending, or stopping")
		w.Header().Set("Retry-After", "5")
		simAnswer(w, http.StatusServiceUnavailable, "ocupado")
	default:
		log.Info("answered", "status", http.StatusAccepted, "why", "accepted: reporting back in "+s.cfg.Delay.String())
		simAnswer(w, http.StatusAccepted, "aceita")
	}
}

// verifyWebhook checks a request as the partner guide asks: the three
// webhook-* headers, a timestamp within simTolerance of now, and a v1
// signature made with secret, computed by the service's own signer and
// compared in constant time. The error says why, in the guide's words.
func verifyWebhook(h http.Header, body []byte, secret string, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("faltam cabeçalhos webhook-*")
	}
	if strings.Trim(ts, "0123456789") != "" || len(ts) > 18 {
		return errors.New("webhook-timestamp inválido")
	}
	secs, _ := strconv.ParseInt(ts, 10, 64)
	at := time.Unix(secs, 0)
	if d := now.Sub(at); d > simTolerance || d < -simTolerance {
		return errors.New("webhook-timestamp fora da janela de 5 minutos")
	}
	want, err := webhook.Sign(id, at, body, []string{secret})
	if err != nil {
		return errors.New("webhook-id inválido")
	}
	wantMAC, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(want, "v1,"))
	// Several signatures during a secret's rotation: any one will do.
	for _, sig := range strings.Fields(sigs) {
		version, value, _ := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(value)
		if version == "v1" && err == nil && hmac.Equal(got, wantMAC) {
			return nil
		}
	}
	return errors.New("assinatura não confere")
}

type simAcceptance int

const (
	simNew simAcceptance = iota
	simRepeat
	simFull
)

// accepted says whether the webhook-id was accepted before.
func (s *partnerSim) accepted(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.seen[id]
	return ok
}

// accept remembers a new call and starts its report; a webhook-id accepted
// meanwhile is a repeat, and no room (or a stopping simulator) is full.
func (s *partnerSim) accept(id string, call simCall, log *slog.Logger) simAcceptance {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[id]; ok {
		return simRepeat
	}
	if s.closed || s.pending >= s.cfg.MaxCalls {
		return simFull
	}
	// Forget what is old, and the oldest reported calls while there is no
	// room: a pending call is never forgotten, so it is reported once.
	kept := s.order[:0]
	for _, old := range s.order {
		if e := s.seen[old]; e.done && (now.Sub(e.at) > simRemember || len(s.seen) >= s.cfg.MaxCalls) {
			delete(s.seen, old)
			continue
		}
		kept = append(kept, old)
	}
	s.order = kept
	s.seen[id] = &simSeen{at: now}
	s.order = append(s.order, id)
	s.pending++
	s.wg.Add(1)
	go s.report(id, call, log)
	return simNew
}

// remembered is how many webhook-ids the simulator holds, and how many of
// their calls are still to be reported.
func (s *partnerSim) remembered() (ids, pending int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen), s.pending
}

// report waits the call's "duration", then reports its result once; the
// log's "reported" comes once the call is no longer pending.
func (s *partnerSim) report(id string, call simCall, log *slog.Logger) {
	defer s.wg.Done()
	outcome := s.dial(call, log)
	s.mu.Lock()
	s.pending--
	if e, ok := s.seen[id]; ok {
		e.done = true
	}
	s.mu.Unlock()
	if outcome != nil {
		log.Info("reported", outcome...)
	}
}

// dial plays the call: it waits --delay, draws the outcome and sends the
// callbacks; it returns what to log of the outcome, nil when the simulator
// stopped first.
func (s *partnerSim) dial(call simCall, log *slog.Logger) []any {
	received := s.now()
	t := time.NewTimer(s.cfg.Delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.ctx.Done():
		log.Info("report abandoned: partner-sim stopping")
		return nil
	}
	style := s.cfg.Style
	if style == simStyleMixed {
		style = simStyleFields
		if s.draw() < 0.5 {
			style = simStyleWords
		}
	}
	due := simDue(call.Data, s.now().Sub(received))
	if s.draw() < s.cfg.CompletedShare {
		lead, task := simCompleted(call, style, s.recording, due)
		if err := s.callback(log, "lead", call.CallbackLead, call.IDLigacao+"-lead", lead); err != nil {
			return []any{"outcome", "realizada", "style", style, "error", err.Error()}
		}
		err := s.callback(log, "task", call.CallbackTask, call.IDLigacao+"-tarefa", task)
		return []any{"outcome", "realizada", "style", style, "error", errText(err)}
	}
	m := simMotivos[int(s.draw()*float64(len(simMotivos)))%len(simMotivos)]
	err := s.callback(log, "task", call.CallbackTask, call.IDLigacao+"-tarefa", simNotCompleted(call, style, m.motivo, m.words, due))
	return []any{"outcome", "nao_realizada", "motivo", m.motivo, "style", style, "error", errText(err)}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// simCompleted is a realizada's two callbacks: the lead callback with the
// recording (which says realizada by itself), then the task callback with
// the task "Ligação realizada", its status in a field or in the words of
// its description as style says.
func simCompleted(call simCall, style, recording, due string) (lead, task map[string]any) {
	lead = map[string]any{
		"idligacao":          call.IDLigacao,
		"permitir_alteracao": false,
		"interacoes": []map[string]any{{
			"tipo":         "L",
			"descricao":    fmt.Sprintf("Ligação realizada pelo partner-sim (ligação %s, gravação de %d s)", call.IDLigacao, simRecordingSeconds),
			"audio_base64": recording,
		}},
	}
	interaction := map[string]any{"tipo": "L", "descricao": "Ligação realizada (partner-sim, ligação " + call.IDLigacao + ")",
		"tarefa": simTask("Ligação realizada", due, call)}
	if style == simStyleFields {
		interaction["status"] = "realizada"
	}
	return lead, map[string]any{"idligacao": call.IDLigacao, "interacoes": []map[string]any{interaction}}
}

// simNotCompleted is a não realizada's task callback: with style fields,
// status and motivo beside a description without the article's words (so
// that the fields alone say it); with words, the words alone.
func simNotCompleted(call simCall, style, motivo, words, due string) map[string]any {
	interaction := map[string]any{"tipo": "L", "descricao": words + " (partner-sim, ligação " + call.IDLigacao + ")",
		"tarefa": simTask(words, due, call)}
	if style == simStyleFields {
		interaction["descricao"] = "Resultado informado pelo partner-sim (ligação " + call.IDLigacao + ")"
		interaction["status"], interaction["motivo"] = "nao_realizada", motivo
	}
	return map[string]any{"idligacao": call.IDLigacao, "interacoes": []map[string]any{interaction}}
}

// simTask is the interaction's task: done, due when the call ended.
// Its responsible is who pressed Ligar.
func simTask(name, due string, call simCall) map[string]any {
	t := map[string]any{"nome": name, "situacao": "C", "prioridade": "M", "tipo_responsavel": simResponsible(call.Acionador.Tipo)}
	if call.Acionador.ID != "" {
		t["idresponsavel"] = call.Acionador.ID
	}
	if due != "" {
		t["data"] = due
	}
	return t
}

// simResponsible is the task's tipo_responsavel for the acionador's tipo.
func simResponsible(tipo string) string {
	switch tipo {
	case "gestor":
		return "G"
	case "imobiliaria":
		return "I"
	}
	return "C"
}

// simDue is when the call ended in the environment's local time: the
// click's time as the call carries it (already local), plus the time taken.
// "" when the call's data cannot be read.
func simDue(data string, took time.Duration) string {
	clicked, err := time.Parse(cvio.PartnerTimeLayout, data)
	if err != nil {
		return ""
	}
	return clicked.Add(took).Format("2006-01-02 15:04:05")
}

// callback posts one callback body, retrying what is worth retrying with
// the same Idempotency-Key; it logs every attempt and returns the last
// error.
func (s *partnerSim) callback(log *slog.Logger, kind, rawURL, idempotencyKey string, body any) error {
	target, err := simCallbackURL(rawURL, s.cfg.CallbackBase)
	if err != nil {
		log.Error("callback not sent", "callback", kind, "url", rawURL, "error", err.Error())
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	p := simPost{kind: kind, target: target, idempotencyKey: idempotencyKey, body: b}
	for attempt := 1; ; attempt++ {
		wait, err := s.post(log, p, attempt)
		if err == nil || attempt == simCallbackTries || wait < 0 {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return s.ctx.Err()
		}
	}
}

// simPost is one callback to post: its kind (for the log and errors),
// where, its Idempotency-Key and its body.
type simPost struct {
	kind, target, idempotencyKey string
	body                         []byte
}

// post makes one attempt; wait is how long to wait before the next one,
// negative when another would not help.
func (s *partnerSim) post(log *slog.Logger, p simPost, attempt int) (wait time.Duration, err error) {
	kind, target, body := p.kind, p.target, p.body
	ctx, cancel := context.WithTimeout(s.ctx, simTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return -1, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("email", s.cfg.Email)
	req.Header.Set("token", s.cfg.Token)
	req.Header.Set("Idempotency-Key", p.idempotencyKey)
	started := s.now()
	backoff := time.Duration(1<<(attempt-1)) * time.Second
	res, err := s.client.Do(req)
	if err != nil {
		log.Warn("callback failed", "callback", kind, "url", target, "attempt", attempt, "error", err.Error())
		return backoff, err
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	log.Info("callback sent", "callback", kind, "url", target, "attempt", attempt, "bytes", len(body),
		"status", res.StatusCode, "duration_ms", s.now().Sub(started).Milliseconds(), "answer", excerptText(answer, 500))
	switch {
	case res.StatusCode/100 == 2:
		return 0, nil
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode/100 == 5:
		if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && secs >= 0 {
			backoff = min(time.Duration(secs)*time.Second, simRetryAfterMax)
		}
		return backoff, fmt.Errorf("%s callback answered %d", kind, res.StatusCode)
	}
	return -1, fmt.Errorf("%s callback answered %d", kind, res.StatusCode)
}

// simCallbackURL is where a callback goes: the URL the call carries, or,
// with base set, the same callback on base's scheme and host (and path
// prefix), from /api/cvio/ on.
func simCallbackURL(raw string, base *url.URL) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("not an http(s) URL: %q", raw)
	}
	if base == nil {
		return u.String(), nil
	}
	path := u.Path
	if i := strings.Index(path, "/api/cvio/"); i >= 0 {
		path = path[i:]
	}
	u.Scheme, u.Host, u.User = base.Scheme, base.Host, nil
	u.Path, u.RawPath = strings.TrimSuffix(base.Path, "/")+path, ""
	return u.String(), nil
}

// excerptText is the start of b as one line of text, for a log.
func excerptText(b []byte, max int) string {
	s := strings.ToValidUTF8(string(b[:min(len(b), max)]), "\uFFFD")
	s = strings.TrimRight(s, "\n")
	if len(b) > max {
		s += "…"
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// The recording of a realizada: a short melody, as 16-bit PCM at 8 kHz
// mono in a WAV file (telephone quality, and a format the service takes).
const (
	simSampleRate       = 8000
	simRecordingSeconds = 3
)

// simRecording renders the melody: an arpeggio up and back down, each note
// with a soft attack and release so that it plays without clicks, then a
// moment of silence, simRecordingSeconds in all.
func simRecording() []byte {
	notes := []float64{523.25, 659.25, 783.99, 1046.50, 783.99, 659.25, 523.25} // C5 E5 G5 C6 G5 E5 C5
	total := simSampleRate * simRecordingSeconds
	noteLen := total * 9 / 10 / len(notes)
	samples := make([]int16, total)
	attack, release := simSampleRate/100, simSampleRate/20 // 10 ms, 50 ms
	for n, f := range notes {
		for i := 0; i < noteLen; i++ {
			env := 1.0
			if i < attack {
				env = float64(i) / float64(attack)
			} else if left := noteLen - i; left < release {
				env = float64(left) / float64(release)
			}
			t := float64(i) / simSampleRate
			// A touch of the octave above makes it less of a test tone.
			v := 0.8*math.Sin(2*math.Pi*f*t) + 0.2*math.Sin(4*math.Pi*f*t)
			samples[n*noteLen+i] = int16(v * env * 0.5 * math.MaxInt16)
		}
	}
	return wavPCM16(samples, simSampleRate)
}

// wavPCM16 wraps mono 16-bit samples in a RIFF/WAVE file: the RIFF header,
// a 16-byte fmt chunk (PCM), and the data chunk.
func wavPCM16(samples []int16, rate int) []byte {
	const channels, bits = 1, 16
	data := len(samples) * 2
	var b bytes.Buffer
	b.Grow(44 + data)
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + data))
	b.WriteString("WAVE")
	b.WriteString("fmt ")
	le(uint32(16))
	le(uint16(1)) // PCM
	le(uint16(channels))
	le(uint32(rate))
	le(uint32(rate * channels * bits / 8)) // byte rate
	le(uint16(channels * bits / 8))        // block align
	le(uint16(bits))
	b.WriteString("data")
	le(uint32(data))
	le(samples)
	return b.Bytes()
}
