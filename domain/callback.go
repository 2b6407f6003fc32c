package domain

import (
	"strings"
	"time"
)

// Limits on what one partner callback may carry.
const (
	MaxInteractions      = 50     // interactions per callback
	MaxDescriptionLength = 10_000 // bytes of descricao
	MaxNameLength        = 200    // bytes of nome (lead, task) and of motivo
	MaxTaskCodeLength    = 2      // bytes of situacao, prioridade, tipo_responsavel
)

// InteractionTypeCall is the history type of a call ("Ligação"), the only
// interaction type Call Connect records.
const InteractionTypeCall = "L"

// Task codes as the CRM writes them. Other letters are stored as sent: the
// CRM may have codes this service does not know, and it is the CRM that
// shows them.
const (
	TaskStatusDone    = "C" // situação: concluída
	TaskStatusPending = "P" // situação: pendente

	TaskPriorityHigh   = "A" // prioridade: alta
	TaskPriorityMedium = "M" // prioridade: média
	TaskPriorityLow    = "B" // prioridade: baixa

	ResponsibleManager = "G" // tipo_responsavel: gestor
	ResponsibleBroker  = "C" // tipo_responsavel: corretor
	ResponsibleAgency  = "I" // tipo_responsavel: imobiliária
)

// TaskCallback is the body of POST /api/cvio/lead_tarefas/cadastrar.
type TaskCallback struct {
	Phone        Phone  // telefone: finds the lead when CallID does not; zero when absent
	CallID       string // idligacao, when the body carries it
	Interactions []PartnerInteraction
}

// LeadCallback is the body of POST /api/cvio/lead.
type LeadCallback struct {
	AllowUpdate  bool   // permitir_alteracao
	Name         string // nome; "" when absent
	Email        string // email as sent (trimmed); matched case-insensitively
	Phone        Phone  // telefone; zero when absent
	CallID       string // idligacao, when the body carries it
	Interactions []PartnerInteraction
}

// PartnerInteraction is one element of "interacoes". Both callbacks read the
// same shape: the article's own example gives partners the task URL for both
// callbacks, so a lead-shaped interaction (with audio_base64) may well arrive
// at the task endpoint, and a task at the lead endpoint.
type PartnerInteraction struct {
	Type        string       // always InteractionTypeCall
	Description string       // descricao (may span lines)
	Task        *PartnerTask // tarefa; nil when absent
	// Audio is the recording, decoded as the body was read; nil when there
	// is none.
	Audio *ReceivedAudio
	// Outcome is what the interaction says of its call: explicit status and
	// motivo fields, or nil when it carries none (InteractionOutcome then
	// reads the recording and the description).
	Outcome *ReportedOutcome
}

// PartnerTask is a "tarefa" as the partner sent it.
type PartnerTask struct {
	Name            string     // nome
	Due             *CivilTime // data; nil when absent
	Status          string     // situacao: TaskStatus* or another code of the CRM
	Priority        string     // prioridade: TaskPriority* or another code
	ResponsibleType string     // tipo_responsavel: Responsible* or another code
	ResponsibleID   string     // idresponsavel
	Reminder        bool       // lembrete_tarefa
}

// Task returns the history task, its due time read in loc (the environment's zone).
func (t PartnerTask) Task(loc *time.Location) Task {
	task := Task{Name: t.Name, Status: t.Status, Priority: t.Priority, ResponsibleType: t.ResponsibleType,
		ResponsibleID: t.ResponsibleID, Reminder: t.Reminder}
	if t.Due != nil {
		due := t.Due.In(loc)
		task.DueAt = &due
	}
	return task
}

// Input returns the history entry this interaction becomes; the caller
// fills in the ids, the call, the recording and the time.
func (p PartnerInteraction) Input(loc *time.Location) InteractionInput {
	in := InteractionInput{Type: p.Type, Description: p.Description}
	if p.Task != nil {
		t := p.Task.Task(loc)
		in.Task = &t
	}
	return in
}

// MergeCallID combines the call ids a callback may carry (path, query
// string, body; "" where absent): they must agree. The result is "" when
// none is given.
func MergeCallID(path, query, body string) (string, error) {
	id := ""
	for _, c := range []struct{ field, v string }{{"idligacao", path}, {"query.idligacao", query}, {"body.idligacao", body}} {
		v := strings.TrimSpace(c.v)
		if v == "" {
			continue
		}
		if !ValidID(v) {
			return "", invalid(c.field, "must be a call id")
		}
		if id != "" && v != id {
			return "", invalid(c.field, "names another call than the rest of the request")
		}
		id = v
	}
	return id, nil
}

// CallbackReceipt is what a partner callback recorded, as the partner is
// answered: the lead it landed on, the call (if any) and its status after,
// the history entries and recordings written, and how many interactions
// were left out as exact repeats of ones the lead already had.
type CallbackReceipt struct {
	LeadID           string
	CallID           string     // "" when the callback could not be tied to a call
	CallStatus       CallStatus // "" without a call
	InteractionIDs   []string
	RecordingIDs     []string
	RecordingSHA256s []string // the content addresses of RecordingIDs, in order
	Duplicates       int
}
