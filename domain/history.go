package domain

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"time"
)

// Task is the task attached to an interaction on a lead's history. The
// codes are the CRM's (TaskStatus*, TaskPriority*, Responsible*), kept as
// the partner sent them.
type Task struct {
	Name            string
	DueAt           *time.Time
	Status          string
	Priority        string
	ResponsibleType string
	ResponsibleID   string
	Reminder        bool
}

// InteractionInput is what an interaction is built (or restored) from.
type InteractionInput struct {
	ID          string
	EnvID       string
	LeadID      string
	Type        string // InteractionTypeCall
	Description string
	Task        *Task
	CallID      string // "" when the result could not be tied to a call
	RecordingID string // "" without a recording
	// RecordingSHA256 is the content address of the recording (AudioKey);
	// set exactly when RecordingID is. It is part of the fingerprint: the
	// same words with another recording are another result.
	RecordingSHA256 string
	OccurredAt      time.Time
}

// Interaction is one entry of a lead's history (rule 8): a call's result,
// with its task and recording when there are.
type Interaction struct {
	id, envID, leadID string
	typ               string
	description       string
	task              *Task
	callID            string
	recordingID       string
	recordingSHA256   string
	occurredAt        time.Time
}

// NewInteraction validates in and returns the interaction.
func NewInteraction(in InteractionInput) (Interaction, error) {
	for _, f := range []struct{ name, v string }{{"id", in.ID}, {"env", in.EnvID}, {"lead_id", in.LeadID}} {
		if err := checkID(f.name, f.v); err != nil {
			return Interaction{}, err
		}
	}
	if in.Type != InteractionTypeCall {
		return Interaction{}, invalid("type", "must be %s (a call)", InteractionTypeCall)
	}
	if err := checkMultiline("description", in.Description, MaxDescriptionLength); err != nil {
		return Interaction{}, err
	}
	var task *Task
	if in.Task != nil {
		t, err := checkTask(*in.Task)
		if err != nil {
			return Interaction{}, err
		}
		task = &t
	}
	if err := checkOptionalID("call_id", in.CallID); err != nil {
		return Interaction{}, err
	}
	if err := checkOptionalID("recording_id", in.RecordingID); err != nil {
		return Interaction{}, err
	}
	if (in.RecordingID == "") != (in.RecordingSHA256 == "") {
		return Interaction{}, invalid("recording_sha256", "must be given exactly when recording_id is")
	}
	if in.RecordingSHA256 != "" && !validSHA256Hex(in.RecordingSHA256) {
		return Interaction{}, invalid("recording_sha256", "must be 64 lowercase hexadecimal digits")
	}
	if in.OccurredAt.IsZero() {
		return Interaction{}, invalid("occurred_at", "is required")
	}
	return Interaction{id: in.ID, envID: in.EnvID, leadID: in.LeadID, typ: in.Type, description: in.Description,
		task: task, callID: in.CallID, recordingID: in.RecordingID, recordingSHA256: in.RecordingSHA256,
		occurredAt: in.OccurredAt}, nil
}

func checkTask(t Task) (Task, error) {
	if err := checkText("task.name", t.Name, false, MaxNameLength); err != nil {
		return Task{}, err
	}
	for _, f := range []struct{ name, v string }{{"task.status", t.Status}, {"task.priority", t.Priority},
		{"task.responsible_type", t.ResponsibleType}} {
		if len(f.v) > MaxTaskCodeLength || !isASCIILetters(f.v) {
			return Task{}, invalid(f.name, "must be a code of at most %d letters", MaxTaskCodeLength)
		}
	}
	if err := checkOptionalID("task.responsible_id", t.ResponsibleID); err != nil {
		return Task{}, err
	}
	if t.DueAt != nil {
		due := *t.DueAt
		t.DueAt = &due
	}
	return t, nil
}

func validSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (i Interaction) ID() string              { return i.id }
func (i Interaction) EnvID() string           { return i.envID }
func (i Interaction) LeadID() string          { return i.leadID }
func (i Interaction) Type() string            { return i.typ }
func (i Interaction) Description() string     { return i.description }
func (i Interaction) CallID() string          { return i.callID }
func (i Interaction) RecordingID() string     { return i.recordingID }
func (i Interaction) RecordingSHA256() string { return i.recordingSHA256 }
func (i Interaction) OccurredAt() time.Time   { return i.occurredAt }

// Task returns a copy of the interaction's task, or nil.
func (i Interaction) Task() *Task {
	if i.task == nil {
		return nil
	}
	t := *i.task
	if t.DueAt != nil {
		due := *t.DueAt
		t.DueAt = &due
	}
	return &t
}

// Input returns the values i was built from, copies included.
func (i Interaction) Input() InteractionInput {
	return InteractionInput{ID: i.id, EnvID: i.envID, LeadID: i.leadID, Type: i.typ, Description: i.description,
		Task: i.Task(), CallID: i.callID, RecordingID: i.recordingID, RecordingSHA256: i.recordingSHA256,
		OccurredAt: i.occurredAt}
}

// Fingerprint identifies what the interaction says, not when it was said:
// the lowercase hex SHA-256 over the environment, lead, type, description,
// task (due time as an instant, whatever its zone), call and recording
// content. A partner that posts the same result again (without an
// Idempotency-Key) produces the same fingerprint, so the repeat can be
// recognised and not recorded twice. The id and the time are left out.
func (i Interaction) Fingerprint() string {
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field("interaction/v1")
	field(i.envID)
	field(i.leadID)
	field(i.typ)
	field(i.description)
	if t := i.task; t == nil {
		field("no task")
	} else {
		field("task")
		field(t.Name)
		if t.DueAt == nil {
			field("")
		} else {
			field(t.DueAt.UTC().Format(time.RFC3339Nano))
		}
		field(t.Status)
		field(t.Priority)
		field(t.ResponsibleType)
		field(t.ResponsibleID)
		if t.Reminder {
			field("reminder")
		} else {
			field("no reminder")
		}
	}
	field(i.callID)
	field(i.recordingSHA256)
	return hex.EncodeToString(h.Sum(nil))
}

// RecordingInput is what a recording is built (or restored) from.
type RecordingInput struct {
	ID          string
	EnvID       string
	LeadID      string
	CallID      string // "" when the recording came without a call
	SHA256      string // AudioKey of the content: its address in the audio store
	Size        int64
	ContentType string // one of AudioContentTypes (SniffAudio)
	CreatedAt   time.Time
}

// Recording is a call's audio, kept in the audio store under its SHA-256.
type Recording struct {
	id, envID, leadID, callID string
	sha256                    string
	size                      int64
	contentType               string
	createdAt                 time.Time
}

// NewRecording validates in and returns the recording.
func NewRecording(in RecordingInput) (Recording, error) {
	for _, f := range []struct{ name, v string }{{"id", in.ID}, {"env", in.EnvID}, {"lead_id", in.LeadID}} {
		if err := checkID(f.name, f.v); err != nil {
			return Recording{}, err
		}
	}
	if err := checkOptionalID("call_id", in.CallID); err != nil {
		return Recording{}, err
	}
	if !validSHA256Hex(in.SHA256) {
		return Recording{}, invalid("sha256", "must be 64 lowercase hexadecimal digits")
	}
	if in.Size <= 0 {
		return Recording{}, invalid("size", "must be positive")
	}
	if !slices.Contains(AudioContentTypes, in.ContentType) {
		return Recording{}, invalid("content_type", "must be one of the supported audio types")
	}
	if in.CreatedAt.IsZero() {
		return Recording{}, invalid("created_at", "is required")
	}
	return Recording{id: in.ID, envID: in.EnvID, leadID: in.LeadID, callID: in.CallID, sha256: in.SHA256,
		size: in.Size, contentType: in.ContentType, createdAt: in.CreatedAt}, nil
}

func (r Recording) ID() string           { return r.id }
func (r Recording) EnvID() string        { return r.envID }
func (r Recording) LeadID() string       { return r.leadID }
func (r Recording) CallID() string       { return r.callID }
func (r Recording) SHA256() string       { return r.sha256 }
func (r Recording) Size() int64          { return r.size }
func (r Recording) ContentType() string  { return r.contentType }
func (r Recording) CreatedAt() time.Time { return r.createdAt }

// Input returns the values r was built from.
func (r Recording) Input() RecordingInput {
	return RecordingInput{ID: r.id, EnvID: r.envID, LeadID: r.leadID, CallID: r.callID, SHA256: r.sha256,
		Size: r.size, ContentType: r.contentType, CreatedAt: r.createdAt}
}
