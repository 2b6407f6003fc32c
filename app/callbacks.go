package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// CallbacksConfig bounds what partners may send.
type CallbacksConfig struct {
	// MaxAudioBytes is the largest decoded recording accepted (50 MiB when zero).
	MaxAudioBytes int64
	// ResultDeadline is CallsConfig.ResultDeadline: a callback without a
	// result on a call past it writes the call down as no_result, as every
	// reader already sees it (domain.DefaultResultDeadline when zero).
	ResultDeadline time.Duration
}

// DefaultMaxAudioBytes bounds a decoded recording.
const DefaultMaxAudioBytes = 50 << 20

// Callbacks applies what partners post back: tasks, lead updates and call
// results, with their recordings, onto the lead's history.
type Callbacks struct {
	store    unitOfWork[callbackRepos] // applying callbacks
	reads    unitOfWork[callbackReads]
	content  unitOfWork[audioRefs] // deleting unreferenced recordings
	clock    ports.Clock
	random   ports.Random
	audio    ports.AudioStore
	receipts ports.CallbackReceipts
	cfg      CallbacksConfig
	logger   *slog.Logger
}

// NewCallbacks builds the service.
// Its parameters stay a list: fx injects each by type (cmd/callconnect/serve.go provides it as is).
func NewCallbacks(store ports.Store, clock ports.Clock, random ports.Random, audio ports.AudioStore, receipts ports.CallbackReceipts, cfg CallbacksConfig, logger *slog.Logger) *Callbacks {
	if cfg.MaxAudioBytes <= 0 {
		cfg.MaxAudioBytes = DefaultMaxAudioBytes
	}
	if cfg.ResultDeadline <= 0 {
		cfg.ResultDeadline = domain.DefaultResultDeadline
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Callbacks{
		store:   narrow(store, func(r ports.Repositories) callbackRepos { return r }),
		reads:   narrow(store, func(r ports.Repositories) callbackReads { return r }),
		content: narrow(store, func(r ports.Repositories) audioRefs { return r }),
		clock:   clock, random: random, audio: audio, receipts: receipts, cfg: cfg, logger: logger}
}

// Idempotent is a request's Idempotency-Key with a hash of what it asked
// (method, path, body); Key "" means the request has none.
type Idempotent struct {
	Key         string
	RequestHash string
}

// Error codes of callbacks.
const (
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	CodeLeadAmbiguous        = "lead_ambiguous"
	CodeLeadNotIdentified    = "lead_not_identified"
)

// MaxAudioBytes is the largest decoded recording a callback may carry.
func (s *Callbacks) MaxAudioBytes() int64 { return s.cfg.MaxAudioBytes }

// Spools are the audio store's spools of one callback's recordings: the
// partner protocol decodes each recording into the writer Open gives as the
// body streams in, so neither the body nor a recording is ever held whole in
// memory, and each byte is read, decoded and hashed once. Nothing is stored
// until the callback is applied. Close them when the request is over.
type Spools struct {
	ctx    context.Context
	audio  ports.AudioStore
	spools map[int]ports.AudioSpool
	stored map[int]string // the keys of the recordings stored, by ReceivedAudio.Index
}

// NewSpools starts the spools of one callback.
func (s *Callbacks) NewSpools(ctx context.Context) *Spools {
	return &Spools{ctx: ctx, audio: s.audio, spools: map[int]ports.AudioSpool{}, stored: map[int]string{}}
}

// Open opens the spool of the recording at index.
func (sp *Spools) Open(index int) (io.Writer, error) {
	w, err := sp.audio.Spool(sp.ctx)
	if err != nil {
		return nil, fmt.Errorf("spooling a recording: %w", err)
	}
	sp.spools[index] = w
	return w, nil
}

// StoredSHA256 is the content address (SHA-256, lowercase hex) of the
// recording at index (its ReceivedAudio.Index) once this request stored it,
// and "" when it stored none there. A recording is matched to the answer's
// recording_sha256s by it: the answer leaves out the recordings of
// duplicate interactions, so the order of the body's recordings is not the
// order of the answer's.
func (sp *Spools) StoredSHA256(index int) string { return sp.stored[index] }

// Close discards the spools; the recordings stored stay.
func (sp *Spools) Close() {
	for _, w := range sp.spools {
		_ = w.Close()
	}
	sp.spools = nil
}

// CallbackRequest is what a callback carries besides its body: the
// partner's token, the spools its recordings were decoded into as the body
// streamed in, the call ids of its URL and its Idempotency-Key.
type CallbackRequest struct {
	Token  domain.PartnerToken
	Spools *Spools
	// PathCallID is the result endpoint's {idligacao}; "" for the others.
	PathCallID string
	// QueryCallID is the idligacao of the query string; "" when none.
	QueryCallID string
	Idempotent  Idempotent
}

// Task applies the task callback (POST /api/cvio/lead_tarefas/cadastrar).
func (s *Callbacks) Task(ctx context.Context, req CallbackRequest, cb domain.TaskCallback) (domain.CallbackReceipt, error) {
	callID, err := domain.MergeCallID("", req.QueryCallID, cb.CallID)
	if err != nil {
		return domain.CallbackReceipt{}, err
	}
	return s.apply(ctx, callback{CallbackRequest: req, kind: "task", interactions: cb.Interactions,
		find: func(ctx context.Context, r callbackRepos, env domain.Environment) (target, error) {
			return resolve(ctx, r, env, lookup{callID: callID, phone: cb.Phone})
		}})
}

// Lead applies the lead callback (POST /api/cvio/lead): the interactions,
// and the lead's name and e-mail when the partner allows the change.
func (s *Callbacks) Lead(ctx context.Context, req CallbackRequest, cb domain.LeadCallback) (domain.CallbackReceipt, error) {
	callID, err := domain.MergeCallID("", req.QueryCallID, cb.CallID)
	if err != nil {
		return domain.CallbackReceipt{}, err
	}
	return s.apply(ctx, callback{CallbackRequest: req, kind: "lead", interactions: cb.Interactions,
		find: func(ctx context.Context, r callbackRepos, env domain.Environment) (target, error) {
			t, err := resolve(ctx, r, env, lookup{callID: callID, email: cb.Email, phone: cb.Phone})
			if err != nil || !cb.AllowUpdate {
				return t, err
			}
			return updateLead(ctx, r, t, cb)
		}})
}

// updateLead changes the name and e-mail of the lead a lead callback
// found, as the callback says, and stores it.
func updateLead(ctx context.Context, r callbackRepos, t target, cb domain.LeadCallback) (target, error) {
	in := t.lead.Input()
	// The phone as it was typed (a foreign number keeps its '+'), so the
	// lead rebuilt here is the same number, with the same match key.
	in.Phone = t.lead.Phone().Typed()
	if cb.Name != "" {
		in.Name = cb.Name
	}
	// The e-mail that found the lead cannot also change it.
	if cb.Email != "" && t.by != "email" {
		in.Email = cb.Email
	}
	lead, err := domain.NewLead(in)
	if err != nil {
		return t, err
	}
	t.lead = lead
	return t, r.PutLead(ctx, lead)
}

// Result applies a call's result (POST /api/cvio/ligacoes/{idligacao}/resultado).
func (s *Callbacks) Result(ctx context.Context, req CallbackRequest, cb domain.ResultCallback) (domain.CallbackReceipt, error) {
	callID, err := domain.MergeCallID(req.PathCallID, req.QueryCallID, cb.CallID)
	if err != nil {
		return domain.CallbackReceipt{}, err
	}
	interaction := domain.PartnerInteraction{Type: domain.InteractionTypeCall, Description: cb.Description, Audio: cb.Audio}
	if interaction.Description == "" {
		interaction.Description = resultDescription(cb)
	}
	outcome := cb
	return s.apply(ctx, callback{CallbackRequest: req, kind: "result", interactions: []domain.PartnerInteraction{interaction},
		find: func(ctx context.Context, r callbackRepos, env domain.Environment) (target, error) {
			return resolve(ctx, r, env, lookup{callID: callID})
		},
		changeCall: func(call *domain.Call) error {
			if call.Status() == outcome.Outcome.CallStatus() && call.Reason() == outcome.Reason {
				return nil // the same result again
			}
			return domain.RecordCallResult(call, outcome.Outcome, outcome.Reason)
		}})
}

func resultDescription(cb domain.ResultCallback) string {
	if cb.Outcome == domain.OutcomeCompleted {
		return "Ligação realizada"
	}
	d := "Ligação não realizada: " + cb.Reason
	if cb.ReasonText != "" {
		d += " (" + cb.ReasonText + ")"
	}
	return d
}

// callbackRepos is what applying a callback reads and writes, in one
// transaction: the lead and call it lands on, their history, the call's
// new status and the answer kept for its Idempotency-Key.
type callbackRepos interface {
	GetEnvironment(ctx context.Context, id string) (domain.Environment, error)
	callbackTargets
	PutLead(ctx context.Context, l domain.Lead) error
	historyWrites
	PutCall(ctx context.Context, c domain.Call) error
	PutIdempotentAnswer(ctx context.Context, a ports.IdempotentAnswer) error
}

// callbackTargets finds the lead and the call a callback is about.
type callbackTargets interface {
	LockCall(ctx context.Context, envID, id string) (domain.Call, error)
	LatestOpenCall(ctx context.Context, envID, leadID string) (domain.Call, error)
	GetLead(ctx context.Context, envID, id string) (domain.Lead, error)
	FindLeadsByEmail(ctx context.Context, envID, email string) ([]domain.Lead, error)
	FindLeadsMatchingPhone(ctx context.Context, envID string, phone domain.Phone) ([]domain.Lead, error)
}

// historyWrites adds a callback's interactions, with their recordings, to
// a lead's history.
type historyWrites interface {
	HasInteraction(ctx context.Context, envID, leadID, fingerprint string) (bool, error)
	AddInteraction(ctx context.Context, i domain.Interaction) error
	PutRecording(ctx context.Context, r domain.Recording) error
	LockRecordingContent(ctx context.Context, sha256 string) error
}

// callbackReads is what reading recordings, histories and kept answers reads.
type callbackReads interface {
	GetEnvironment(ctx context.Context, id string) (domain.Environment, error)
	GetRecording(ctx context.Context, envID, id string) (domain.Recording, error)
	ListInteractions(ctx context.Context, envID, leadID string) ([]domain.Interaction, error)
	GetIdempotentAnswer(ctx context.Context, scope, key string) (ports.IdempotentAnswer, error)
}

// audioRefs counts, under the content lock, the recordings that refer to an
// audio object, so that an unreferenced one is deleted safely.
type audioRefs interface {
	LockRecordingContent(ctx context.Context, sha256 string) error
	RecordingsWithSHA256(ctx context.Context, sha256 string) (int, error)
}

// target is what a callback lands on.
type target struct {
	lead domain.Lead
	call *domain.Call // nil when the callback could not be tied to a call
	by   string       // what identified the lead: call, email or phone
}

// lookup is how a callback names what it is about: a call, or else a lead
// by e-mail or phone.
type lookup struct {
	callID string
	email  string
	phone  domain.Phone
}

// resolve finds the lead (and call) a callback is about (rule 11): the call
// when its id is given; otherwise the lead by e-mail or phone within the
// environment, and then its most recent open call, if any.
func resolve(ctx context.Context, r callbackTargets, env domain.Environment, l lookup) (target, error) {
	if l.callID != "" {
		call, err := r.LockCall(ctx, env.ID(), l.callID)
		if err != nil {
			return target{}, callNotFound(err, l.callID)
		}
		lead, err := r.GetLead(ctx, env.ID(), call.LeadID())
		if err != nil {
			return target{}, notFound(err, domain.CodeLeadNotFound, "idligacao", fmt.Sprintf("the lead of call %q", l.callID))
		}
		return target{lead: lead, call: &call, by: "call"}, nil
	}
	leads, field, by, err := findLead(ctx, r, env, l.email, l.phone)
	if err != nil {
		return target{}, err
	}
	switch len(leads) {
	case 0:
		return target{}, domain.NotFound(domain.CodeLeadNotFound, field, "no lead of this environment has this "+strings.TrimPrefix(field, "body."))
	case 1:
	default:
		return target{}, &domain.Error{Kind: domain.KindConflict, Code: CodeLeadAmbiguous, Field: field,
			Message: fmt.Sprintf("%d leads have this %s; send idligacao", len(leads), strings.TrimPrefix(field, "body."))}
	}
	t := target{lead: leads[0], by: by}
	call, err := r.LatestOpenCall(ctx, env.ID(), t.lead.ID())
	switch {
	case err == nil:
		locked, err := r.LockCall(ctx, env.ID(), call.ID())
		if err != nil {
			return target{}, err
		}
		t.call = &locked
	case !errors.Is(err, ports.ErrNotFound):
		return target{}, err
	}
	return t, nil
}

// findLead finds the leads a callback without a call id names: by e-mail,
// then by phone — a partner that knows the lead's phone but holds an old
// e-mail still finds it. field is where the search that decided was (the
// e-mail's, or the phone's once the e-mail found nobody), by what found it.
func findLead(ctx context.Context, r callbackTargets, env domain.Environment, email string, phone domain.Phone) (leads []domain.Lead, field, by string, err error) {
	if email == "" && phone.IsZero() {
		return nil, "", "", &domain.Error{Kind: domain.KindInvalid, Code: CodeLeadNotIdentified, Field: "idligacao",
			Message: "the callback names no call (idligacao) and no lead (email or telefone)"}
	}
	if email != "" {
		leads, err = r.FindLeadsByEmail(ctx, env.ID(), email)
		if err != nil || len(leads) > 0 || phone.IsZero() {
			return leads, "body.email", "email", err
		}
	}
	leads, err = r.FindLeadsMatchingPhone(ctx, env.ID(), phone)
	return leads, "body.telefone", "phone", err
}

// settle changes the call as the callback's interactions report
// (domain.CallbackOutcome: explicit status and motivo, then a recording,
// then the article's words in a description). The same result again
// changes nothing; words in a description never overturn a result the call
// already has, while explicit fields or a recording that contradict it are
// refused (409) as the result endpoint refuses them.
func settle(call *domain.Call, interactions []domain.PartnerInteraction) error {
	o, from, ok := domain.CallbackOutcome(interactions)
	if !ok {
		return nil
	}
	if call.Status() == o.Outcome.CallStatus() && (o.Outcome == domain.OutcomeCompleted || call.Reason() == o.Reason) {
		return nil
	}
	if from == domain.OutcomeFromDescription && (call.Status() == domain.CallCompleted || call.Status() == domain.CallNotCompleted) {
		return nil
	}
	return domain.RecordCallResult(call, o.Outcome, o.Reason)
}

// storedAudio is a recording written to the audio store before its row.
type storedAudio struct {
	key         string
	size        int64
	contentType string
	spool       ports.AudioSpool // open until the request ends, to write the object again if it was deleted meanwhile
}

// callback is one callback to apply: the request, its kind and
// interactions, and how its kind finds its target and changes its call.
type callback struct {
	CallbackRequest
	kind         string // task, lead or result
	interactions []domain.PartnerInteraction
	// find finds the lead and call the callback lands on (and, for the
	// lead callback, updates the lead).
	find func(ctx context.Context, r callbackRepos, env domain.Environment) (target, error)
	// changeCall changes the call as the callback says; nil: as its
	// interactions report (settle).
	changeCall func(*domain.Call) error
}

// scope is where the callback's Idempotency-Key belongs: its environment
// and kind.
func (cb callback) scope() string { return cb.Token.EnvID() + "/" + cb.kind }

// landing is a callback's transaction under way: where it lands, when, and
// the answer as it is being made.
type landing struct {
	env        domain.Environment
	target     target
	now        time.Time
	answer     domain.CallbackReceipt
	duplicated []string // keys of the recordings of duplicate interactions
}

// apply is the shape every callback shares: replay a known Idempotency-Key;
// decode and store the recordings (outside the transaction: the object is
// written before its row commits); then, in one transaction, find the
// target, change the call, add the history and keep the answer. Objects
// that end up without a row are deleted: all of them when the transaction
// fails, those of the interactions left out as duplicates when it commits.
func (s *Callbacks) apply(ctx context.Context, cb callback) (domain.CallbackReceipt, error) {
	if !validIdempotencyKey(cb.Idempotent.Key) {
		return domain.CallbackReceipt{}, &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidField, Field: "Idempotency-Key",
			Message: "must be 1 to 255 printable ASCII characters"}
	}
	if cb.Idempotent.Key != "" {
		if prior, done, err := s.replay(ctx, cb.scope(), cb.Idempotent); done || err != nil {
			return prior, err
		}
	}
	audios, written, err := s.storeAudios(ctx, cb)
	if err != nil {
		return domain.CallbackReceipt{}, err
	}
	var l *landing
	err = s.store.Tx(ctx, func(ctx context.Context, r callbackRepos) error {
		var err error
		l, err = s.land(ctx, r, cb, audios)
		return err
	})
	if err != nil {
		s.cleanup(context.WithoutCancel(ctx), written)
		if errors.Is(err, ports.ErrIdempotencyConflict) {
			// A concurrent request with the same key won: answer as it did.
			body, done, rerr := s.replay(ctx, cb.scope(), cb.Idempotent)
			if done || rerr != nil {
				return body, rerr
			}
		}
		return domain.CallbackReceipt{}, err
	}
	// A duplicate's recording was stored before the transaction could tell;
	// a row (the original's, usually) may still refer to its content, which
	// cleanup checks under the content lock.
	s.cleanup(context.WithoutCancel(ctx), l.duplicated)
	return l.answer, nil
}

// storeAudios stores the recordings of the callback's interactions, by
// interaction (nil for one without a recording), and returns the keys
// written. When one fails, those already written are cleaned up.
func (s *Callbacks) storeAudios(ctx context.Context, cb callback) (audios []*storedAudio, written []string, err error) {
	audios = make([]*storedAudio, len(cb.interactions))
	for i, in := range cb.interactions {
		if in.Audio == nil {
			continue
		}
		a, err := s.storeAudio(ctx, cb.Spools, in.Audio, fmt.Sprintf("interacoes[%d].audio_base64", i), cb.kind == "result")
		if err != nil {
			s.cleanup(ctx, written)
			return nil, nil, err
		}
		audios[i] = a
		written = append(written, a.key)
	}
	return audios, written, nil
}

// land is the callback's transaction: it finds the target, adds the
// interactions to the lead's history, changes the call and keeps the
// answer for the Idempotency-Key.
func (s *Callbacks) land(ctx context.Context, r callbackRepos, cb callback, audios []*storedAudio) (*landing, error) {
	env, err := r.GetEnvironment(ctx, cb.Token.EnvID())
	if err != nil {
		return nil, envNotFound(err, cb.Token.EnvID())
	}
	t, err := cb.find(ctx, r, env)
	if err != nil {
		return nil, err
	}
	l := &landing{env: env, target: t, now: s.clock.Now(), answer: domain.CallbackReceipt{LeadID: t.lead.ID(),
		InteractionIDs: []string{}, RecordingIDs: []string{}, RecordingSHA256s: []string{}}}
	for i, pi := range cb.interactions {
		if err := s.addInteraction(ctx, r, l, pi, audios[i]); err != nil {
			return nil, err
		}
	}
	if t.call != nil {
		if err := s.updateCall(ctx, r, cb, l); err != nil {
			return nil, err
		}
	}
	return l, s.keepAnswer(ctx, r, cb, l)
}

// addInteraction adds one of the callback's interactions, with its
// recording a (nil: none), to the lead's history, unless the lead has it
// already: a duplicate is counted in the answer, and its recording's key
// noted for clean-up.
func (s *Callbacks) addInteraction(ctx context.Context, r callbackRepos, l *landing, pi domain.PartnerInteraction, a *storedAudio) error {
	in := pi.Input(l.env.TimeZone())
	in.ID, in.EnvID, in.LeadID, in.OccurredAt = s.random.NewID(), l.env.ID(), l.target.lead.ID(), l.now
	if l.target.call != nil {
		in.CallID = l.target.call.ID()
	}
	var rec *domain.Recording
	if a != nil {
		if err := s.ensureStored(ctx, r, a); err != nil {
			return err
		}
		made, err := domain.NewRecording(domain.RecordingInput{ID: s.random.NewID(), EnvID: l.env.ID(), LeadID: l.target.lead.ID(),
			CallID: in.CallID, SHA256: a.key, Size: a.size, ContentType: a.contentType, CreatedAt: l.now})
		if err != nil {
			return err
		}
		rec = &made
		in.RecordingID, in.RecordingSHA256 = made.ID(), a.key
	}
	interaction, err := domain.NewInteraction(in)
	if err != nil {
		return err
	}
	dup, err := r.HasInteraction(ctx, l.env.ID(), l.target.lead.ID(), interaction.Fingerprint())
	if err != nil {
		return err
	}
	if dup {
		l.answer.Duplicates++
		if rec != nil && !slices.Contains(l.duplicated, rec.SHA256()) {
			l.duplicated = append(l.duplicated, rec.SHA256())
		}
		return nil
	}
	if rec != nil {
		if err := r.PutRecording(ctx, *rec); err != nil {
			return err
		}
		l.answer.RecordingIDs = append(l.answer.RecordingIDs, rec.ID())
		l.answer.RecordingSHA256s = append(l.answer.RecordingSHA256s, rec.SHA256())
	}
	if err := r.AddInteraction(ctx, interaction); err != nil {
		return err
	}
	l.answer.InteractionIDs = append(l.answer.InteractionIDs, interaction.ID())
	return nil
}

// updateCall changes the callback's call as it says (changeCall, or else
// what its interactions report), writes it down as no_result when no
// result came and the result deadline has passed, and stores it.
func (s *Callbacks) updateCall(ctx context.Context, r callbackRepos, cb callback, l *landing) error {
	call := *l.target.call
	var err error
	if cb.changeCall != nil {
		err = cb.changeCall(&call)
	} else {
		err = settle(&call, cb.interactions)
	}
	if err != nil {
		return err
	}
	if call.Status() == domain.CallDelivered && call.StatusAt(l.now, s.cfg.ResultDeadline) == domain.CallNoResult {
		// No result came with it, and the deadline has passed: the
		// call is no_result, written down now rather than by the
		// next run of the periodic marker.
		if err := call.MarkNoResult(l.now, s.cfg.ResultDeadline); err != nil {
			return err
		}
	}
	if err := r.PutCall(ctx, call); err != nil {
		return err
	}
	l.answer.CallID, l.answer.CallStatus = call.ID(), call.Status()
	return nil
}

// keepAnswer keeps the answer under the callback's Idempotency-Key, if it
// has one, for a repeated request to get it again.
func (s *Callbacks) keepAnswer(ctx context.Context, r callbackRepos, cb callback, l *landing) error {
	if cb.Idempotent.Key == "" {
		return nil
	}
	kept, err := s.receipts.EncodeReceipt(l.answer)
	if err != nil {
		return err
	}
	return r.PutIdempotentAnswer(ctx, ports.IdempotentAnswer{Scope: cb.scope(), Key: cb.Idempotent.Key,
		RequestHash: cb.Idempotent.RequestHash, StatusCode: 200, Body: kept, CreatedAt: l.now})
}

// validIdempotencyKey accepts no key, or 1 to 255 printable ASCII characters.
func validIdempotencyKey(k string) bool {
	if len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// replay answers a repeated Idempotency-Key: the first answer for the same
// request, a conflict for another one. done is false when the key is new.
func (s *Callbacks) replay(ctx context.Context, scope string, idem Idempotent) (prior domain.CallbackReceipt, done bool, err error) {
	var a ports.IdempotentAnswer
	err = s.reads.Read(ctx, func(ctx context.Context, r callbackReads) error {
		var err error
		a, err = r.GetIdempotentAnswer(ctx, scope, idem.Key)
		return err
	})
	if errors.Is(err, ports.ErrNotFound) || err == nil && s.clock.Now().Sub(a.CreatedAt) > ports.IdempotencyRetention {
		return domain.CallbackReceipt{}, false, nil
	}
	if err != nil {
		return domain.CallbackReceipt{}, false, err
	}
	if a.RequestHash != idem.RequestHash {
		return domain.CallbackReceipt{}, true, &domain.Error{Kind: domain.KindConflict, Code: CodeIdempotencyKeyReused, Field: "Idempotency-Key",
			Message: "this Idempotency-Key was used for another request"}
	}
	prior, err = s.receipts.DecodeReceipt(a.Body)
	return prior, true, err
}

// storeAudio checks one recording, decoded into its spool as the body was
// read, and stores it under its content address.
func (s *Callbacks) storeAudio(ctx context.Context, body *Spools, audio *domain.ReceivedAudio, field string, topLevel bool) (*storedAudio, error) {
	if topLevel {
		field = "audio_base64"
	}
	ct, err := audio.ContentType()
	if err != nil {
		if de, ok := domain.AsError(err); ok && de.Field == "audio_base64" {
			c := *de
			c.Field = field
			return nil, &c
		}
		return nil, err
	}
	sp := body.spools[audio.Index]
	if sp == nil {
		return nil, fmt.Errorf("storing the recording: recording %d has no spool", audio.Index)
	}
	key, size, err := sp.Store(ctx, ct)
	if err != nil {
		return nil, fmt.Errorf("storing the recording: %w", err)
	}
	body.stored[audio.Index] = key
	return &storedAudio{key: key, size: size, contentType: ct, spool: sp}, nil
}

// ensureStored makes sure, in the transaction that is about to commit a's
// row, that its object exists: it takes the content lock (so no deleter can
// run until the row is visible) and writes the object again if a deleter
// (a failed request with the same audio, or the sweep) removed it after
// this request stored it.
func (s *Callbacks) ensureStored(ctx context.Context, r historyWrites, a *storedAudio) error {
	if err := r.LockRecordingContent(ctx, a.key); err != nil {
		return err
	}
	obj, err := s.audio.Open(ctx, a.key)
	if err == nil {
		return obj.Close()
	}
	if !errors.Is(err, ports.ErrNotFound) {
		return fmt.Errorf("checking the stored recording: %w", err)
	}
	if _, _, err := a.spool.Store(ctx, a.contentType); err != nil {
		return fmt.Errorf("storing the recording again: %w", err)
	}
	return nil
}

// cleanup deletes stored objects that no recording row refers to.
func (s *Callbacks) cleanup(ctx context.Context, keys []string) {
	for _, key := range keys {
		if _, err := deleteUnreferencedAudio(ctx, s.content, s.audio, key); err != nil {
			s.logger.WarnContext(ctx, "could not delete an unreferenced recording; a sweep will", "sha256", key, "error", err)
		}
	}
}

// deleteUnreferencedAudio deletes the object under key when no recording
// row refers to it, holding the content lock while it counts and deletes:
// a request committing a row for the same audio waits, then finds the
// object gone and writes it again (ensureStored).
func deleteUnreferencedAudio(ctx context.Context, store unitOfWork[audioRefs], audio ports.AudioStore, key string) (deleted bool, err error) {
	err = store.Tx(ctx, func(ctx context.Context, r audioRefs) error {
		if err := r.LockRecordingContent(ctx, key); err != nil {
			return err
		}
		n, err := r.RecordingsWithSHA256(ctx, key)
		if err != nil || n > 0 {
			return err
		}
		if err := audio.Delete(ctx, key); err != nil {
			return err
		}
		deleted = true
		return nil
	})
	return deleted, err
}

// Recording opens a recording of the environment for reading.
func (s *Callbacks) Recording(ctx context.Context, envID, recordingID string) (domain.Recording, ports.AudioObject, error) {
	var rec domain.Recording
	err := s.reads.Read(ctx, func(ctx context.Context, r callbackReads) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		var err error
		rec, err = r.GetRecording(ctx, envID, recordingID)
		return notFound(err, CodeRecordingNotFound, "recording_id", fmt.Sprintf("recording %q", recordingID))
	})
	if err != nil {
		return domain.Recording{}, ports.AudioObject{}, err
	}
	obj, err := s.audio.Open(ctx, rec.SHA256())
	if err != nil {
		return domain.Recording{}, ports.AudioObject{}, fmt.Errorf("opening recording %s: %w", rec.ID(), err)
	}
	return rec, obj, nil
}

// CodeRecordingNotFound: no such recording in the environment.
const CodeRecordingNotFound = "recording_not_found"

// History returns the lead's history, newest first.
func (s *Callbacks) History(ctx context.Context, envID, leadID string) ([]domain.Interaction, error) {
	var out []domain.Interaction
	err := s.reads.Read(ctx, func(ctx context.Context, r callbackReads) error {
		var err error
		out, err = r.ListInteractions(ctx, envID, leadID)
		return err
	})
	return out, err
}
