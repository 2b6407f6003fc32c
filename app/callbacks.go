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
	store    ports.Store
	clock    ports.Clock
	random   ports.Random
	audio    ports.AudioStore
	receipts ports.CallbackReceipts
	cfg      CallbacksConfig
	logger   *slog.Logger
}

// NewCallbacks builds the service.
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
	return &Callbacks{store: store, clock: clock, random: random, audio: audio, receipts: receipts, cfg: cfg, logger: logger}
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

// Task applies the task callback (POST /api/cvio/lead_tarefas/cadastrar).
func (s *Callbacks) Task(ctx context.Context, tok domain.PartnerToken, cb domain.TaskCallback, body *Spools, queryCallID string, idem Idempotent) (domain.CallbackReceipt, error) {
	callID, err := domain.MergeCallID("", queryCallID, cb.CallID)
	if err != nil {
		return domain.CallbackReceipt{}, err
	}
	return s.apply(ctx, tok, "task", idem, body, cb.Interactions, func(ctx context.Context, r ports.Repositories, env domain.Environment) (target, error) {
		return s.resolve(ctx, r, env, callID, "", cb.Phone)
	}, nil)
}

// Lead applies the lead callback (POST /api/cvio/lead): the interactions,
// and the lead's name and e-mail when the partner allows the change.
func (s *Callbacks) Lead(ctx context.Context, tok domain.PartnerToken, cb domain.LeadCallback, body *Spools, queryCallID string, idem Idempotent) (domain.CallbackReceipt, error) {
	callID, err := domain.MergeCallID("", queryCallID, cb.CallID)
	if err != nil {
		return domain.CallbackReceipt{}, err
	}
	return s.apply(ctx, tok, "lead", idem, body, cb.Interactions, func(ctx context.Context, r ports.Repositories, env domain.Environment) (target, error) {
		t, err := s.resolve(ctx, r, env, callID, cb.Email, cb.Phone)
		if err != nil || !cb.AllowUpdate {
			return t, err
		}
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
	}, nil)
}

// Result applies a call's result (POST /api/cvio/ligacoes/{idligacao}/resultado).
func (s *Callbacks) Result(ctx context.Context, tok domain.PartnerToken, pathCallID, queryCallID string, cb domain.ResultCallback, body *Spools, idem Idempotent) (domain.CallbackReceipt, error) {
	callID, err := domain.MergeCallID(pathCallID, queryCallID, cb.CallID)
	if err != nil {
		return domain.CallbackReceipt{}, err
	}
	interaction := domain.PartnerInteraction{Type: domain.InteractionTypeCall, Description: cb.Description, Audio: cb.Audio}
	if interaction.Description == "" {
		interaction.Description = resultDescription(cb)
	}
	outcome := cb
	return s.apply(ctx, tok, "result", idem, body, []domain.PartnerInteraction{interaction},
		func(ctx context.Context, r ports.Repositories, env domain.Environment) (target, error) {
			return s.resolve(ctx, r, env, callID, "", domain.Phone{})
		},
		func(call *domain.Call) error {
			if call.Status() == outcome.Outcome.CallStatus() && call.Reason() == outcome.Reason {
				return nil // the same result again
			}
			return domain.RecordCallResult(call, outcome.Outcome, outcome.Reason)
		})
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

// target is what a callback lands on.
type target struct {
	lead domain.Lead
	call *domain.Call // nil when the callback could not be tied to a call
	by   string       // what identified the lead: call, email or phone
}

// resolve finds the lead (and call) a callback is about (rule 11): the call
// when its id is given; otherwise the lead by e-mail or phone within the
// environment, and then its most recent open call, if any.
func (s *Callbacks) resolve(ctx context.Context, r ports.Repositories, env domain.Environment, callID, email string, phone domain.Phone) (target, error) {
	if callID != "" {
		call, err := r.LockCall(ctx, env.ID(), callID)
		if err != nil {
			return target{}, callNotFound(err, callID)
		}
		lead, err := r.GetLead(ctx, env.ID(), call.LeadID())
		if err != nil {
			return target{}, notFound(err, domain.CodeLeadNotFound, "idligacao", fmt.Sprintf("the lead of call %q", callID))
		}
		return target{lead: lead, call: &call, by: "call"}, nil
	}
	leads, field, by, err := findLead(ctx, r, env, email, phone)
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
func findLead(ctx context.Context, r ports.Repositories, env domain.Environment, email string, phone domain.Phone) (leads []domain.Lead, field, by string, err error) {
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

// apply is the shape every callback shares: replay a known Idempotency-Key;
// decode and store the recordings (outside the transaction: the object is
// written before its row commits); then, in one transaction, find the
// target, change the call, add the history and keep the answer. Objects
// that end up without a row are deleted: all of them when the transaction
// fails, those of the interactions left out as duplicates when it commits.
func (s *Callbacks) apply(ctx context.Context, tok domain.PartnerToken, kind string, idem Idempotent, body *Spools, interactions []domain.PartnerInteraction,
	find func(ctx context.Context, r ports.Repositories, env domain.Environment) (target, error),
	changeCall func(*domain.Call) error) (domain.CallbackReceipt, error) {
	scope := tok.EnvID() + "/" + kind
	if !validIdempotencyKey(idem.Key) {
		return domain.CallbackReceipt{}, &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidField, Field: "Idempotency-Key",
			Message: "must be 1 to 255 printable ASCII characters"}
	}
	if idem.Key != "" {
		if prior, done, err := s.replay(ctx, scope, idem); done || err != nil {
			return prior, err
		}
	}

	audios := make([]*storedAudio, len(interactions))
	var written []string
	for i, in := range interactions {
		if in.Audio == nil {
			continue
		}
		a, err := s.storeAudio(ctx, body, in.Audio, fmt.Sprintf("interacoes[%d].audio_base64", i), kind == "result")
		if err != nil {
			s.cleanup(ctx, written)
			return domain.CallbackReceipt{}, err
		}
		audios[i] = a
		written = append(written, a.key)
	}

	var answer domain.CallbackReceipt
	var duplicated []string // keys of the recordings of duplicates
	err := s.store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		duplicated = duplicated[:0]
		env, err := r.GetEnvironment(ctx, tok.EnvID())
		if err != nil {
			return envNotFound(err, tok.EnvID())
		}
		t, err := find(ctx, r, env)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		ans := domain.CallbackReceipt{LeadID: t.lead.ID(), InteractionIDs: []string{}, RecordingIDs: []string{}, RecordingSHA256s: []string{}}
		for i, pi := range interactions {
			in := pi.Input(env.TimeZone())
			in.ID, in.EnvID, in.LeadID, in.OccurredAt = s.random.NewID(), env.ID(), t.lead.ID(), now
			if t.call != nil {
				in.CallID = t.call.ID()
			}
			var rec *domain.Recording
			if a := audios[i]; a != nil {
				if err := s.ensureStored(ctx, r, a); err != nil {
					return err
				}
				r, err := domain.NewRecording(domain.RecordingInput{ID: s.random.NewID(), EnvID: env.ID(), LeadID: t.lead.ID(),
					CallID: in.CallID, SHA256: a.key, Size: a.size, ContentType: a.contentType, CreatedAt: now})
				if err != nil {
					return err
				}
				rec = &r
				in.RecordingID, in.RecordingSHA256 = r.ID(), a.key
			}
			interaction, err := domain.NewInteraction(in)
			if err != nil {
				return err
			}
			dup, err := r.HasInteraction(ctx, env.ID(), t.lead.ID(), interaction.Fingerprint())
			if err != nil {
				return err
			}
			if dup {
				ans.Duplicates++
				if rec != nil && !slices.Contains(duplicated, rec.SHA256()) {
					duplicated = append(duplicated, rec.SHA256())
				}
				continue
			}
			if rec != nil {
				if err := r.PutRecording(ctx, *rec); err != nil {
					return err
				}
				ans.RecordingIDs = append(ans.RecordingIDs, rec.ID())
				ans.RecordingSHA256s = append(ans.RecordingSHA256s, rec.SHA256())
			}
			if err := r.AddInteraction(ctx, interaction); err != nil {
				return err
			}
			ans.InteractionIDs = append(ans.InteractionIDs, interaction.ID())
		}
		if t.call != nil {
			call := *t.call
			if changeCall != nil {
				err = changeCall(&call)
			} else {
				err = settle(&call, interactions)
			}
			if err != nil {
				return err
			}
			if call.Status() == domain.CallDelivered && call.StatusAt(now, s.cfg.ResultDeadline) == domain.CallNoResult {
				// No result came with it, and the deadline has passed: the
				// call is no_result, written down now rather than by the
				// next run of the periodic marker.
				if err := call.MarkNoResult(now, s.cfg.ResultDeadline); err != nil {
					return err
				}
			}
			if err := r.PutCall(ctx, call); err != nil {
				return err
			}
			ans.CallID, ans.CallStatus = call.ID(), call.Status()
		}
		answer = ans
		if idem.Key == "" {
			return nil
		}
		kept, err := s.receipts.EncodeReceipt(ans)
		if err != nil {
			return err
		}
		return r.PutIdempotentAnswer(ctx, ports.IdempotentAnswer{Scope: scope, Key: idem.Key, RequestHash: idem.RequestHash,
			StatusCode: 200, Body: kept, CreatedAt: now})
	})
	if err != nil {
		s.cleanup(context.WithoutCancel(ctx), written)
		if errors.Is(err, ports.ErrIdempotencyConflict) {
			// A concurrent request with the same key won: answer as it did.
			body, done, rerr := s.replay(ctx, scope, idem)
			if done || rerr != nil {
				return body, rerr
			}
		}
		return domain.CallbackReceipt{}, err
	}
	// A duplicate's recording was stored before the transaction could tell;
	// a row (the original's, usually) may still refer to its content, which
	// cleanup checks under the content lock.
	s.cleanup(context.WithoutCancel(ctx), duplicated)
	return answer, nil
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
	err = s.store.Read(ctx, func(ctx context.Context, r ports.Repositories) error {
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
func (s *Callbacks) ensureStored(ctx context.Context, r ports.Repositories, a *storedAudio) error {
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
		if _, err := deleteUnreferencedAudio(ctx, s.store, s.audio, key); err != nil {
			s.logger.WarnContext(ctx, "could not delete an unreferenced recording; a sweep will", "sha256", key, "error", err)
		}
	}
}

// deleteUnreferencedAudio deletes the object under key when no recording
// row refers to it, holding the content lock while it counts and deletes:
// a request committing a row for the same audio waits, then finds the
// object gone and writes it again (ensureStored).
func deleteUnreferencedAudio(ctx context.Context, store ports.Store, audio ports.AudioStore, key string) (deleted bool, err error) {
	err = store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
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
	err := s.store.Read(ctx, func(ctx context.Context, r ports.Repositories) error {
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
	err := s.store.Read(ctx, func(ctx context.Context, r ports.Repositories) error {
		var err error
		out, err = r.ListInteractions(ctx, envID, leadID)
		return err
	})
	return out, err
}
