package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"callconnect/domain"
)

// LeadPath names a lead of an environment.
type LeadPath struct {
	EnvPath
	LeadID string `path:"lead_id" pattern:"^[A-Za-z0-9._~-]{1,64}$" maxLength:"64" doc:"Lead id, chosen by the CRM." example:"1"`
}

// Ref is an id and a display name, as the CRM names a stage or a development.
type Ref struct {
	ID   string `json:"id" pattern:"^[A-Za-z0-9._~-]{1,64}$" example:"16"`
	Name string `json:"name,omitempty" maxLength:"200" example:"Em Atendimento"`
}

// LeadSettings is the body of PUT /v1/environments/{env}/leads/{lead_id}.
type LeadSettings struct {
	Name         string     `json:"name" maxLength:"200" doc:"The lead's name." example:"Lead do Teste"`
	Email        string     `json:"email,omitempty" maxLength:"254" doc:"Plain e-mail address." example:"lead.teste@example.com"`
	Phone        string     `json:"phone,omitempty" maxLength:"40" doc:"Phone number (8 to 15 digits, separators allowed); stored as digits." example:"48999476359"`
	Score        *int       `json:"score,omitempty" nullable:"true" doc:"Integer score, 0 to 1000000." example:"27"`
	RegisteredAt *time.Time `json:"registered_at,omitempty" nullable:"true" doc:"When the lead was registered (RFC 3339)." example:"2020-02-04T16:49:57-03:00"`
	MainMedia    string     `json:"main_media,omitempty" maxLength:"200" doc:"Main media (mídia principal)."`
	Origin       string     `json:"origin,omitempty" maxLength:"200" doc:"Origin (origem)." example:"Painel Gestor"`
	Stage        *Ref       `json:"stage,omitempty" doc:"Stage (situação). Absent: none."`
	Developments []Ref      `json:"developments,omitempty" maxItems:"100" doc:"Developments (empreendimentos) the lead is interested in."`
	ManagerID    string     `json:"manager_id,omitempty" pattern:"^[A-Za-z0-9._~-]{0,64}$" doc:"The owning manager (gestor)." example:"1"`
	BrokerID     string     `json:"broker_id,omitempty" pattern:"^[A-Za-z0-9._~-]{0,64}$" doc:"The owning broker (corretor)." example:"2"`
	AgencyID     string     `json:"agency_id,omitempty" pattern:"^[A-Za-z0-9._~-]{0,64}$" doc:"The owning agency (imobiliária); its agency users are owners too." example:"3"`
}

// Lead is a prospect and its owners.
type Lead struct {
	ID           string     `json:"id" example:"1"`
	Name         string     `json:"name" example:"Lead do Teste"`
	Email        string     `json:"email" doc:"Empty when none."`
	Phone        string     `json:"phone" doc:"Digits only; empty when none." example:"48999476359"`
	Score        *int       `json:"score,omitempty" doc:"Absent when none." example:"27"`
	RegisteredAt *time.Time `json:"registered_at,omitempty" doc:"Absent when none."`
	MainMedia    string     `json:"main_media"`
	Origin       string     `json:"origin"`
	Stage        *Ref       `json:"stage,omitempty" doc:"Absent when none."`
	Developments []Ref      `json:"developments" nullable:"false"`
	ManagerID    string     `json:"manager_id"`
	BrokerID     string     `json:"broker_id"`
	AgencyID     string     `json:"agency_id"`
}

// LeadWithHistory is a lead as GET returns it.
type LeadWithHistory struct {
	Lead
	History []HistoryItem `json:"history" nullable:"false" doc:"Interactions recorded on the lead, newest first. Always an array."`
}

// HistoryItem is one interaction on a lead's history (type L: a call).
type HistoryItem struct {
	ID           string    `json:"id" example:"01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"`
	Type         string    `json:"type" doc:"L for a call (Ligação)." example:"L"`
	Description  string    `json:"description" example:"Ligação realizada com sucesso para o lead"`
	Task         *Task     `json:"task" doc:"The task the partner attached; null when none."`
	CallID       *string   `json:"call_id" doc:"The call the interaction is about; null when the partner's callback could not be tied to one."`
	RecordingID  *string   `json:"recording_id" doc:"The call's recording; null when none came."`
	RecordingURL *string   `json:"recording_url" doc:"Where the recording is served (bearer token); null when none came." example:"/v1/environments/acme/recordings/01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"`
	OccurredAt   time.Time `json:"occurred_at" doc:"When Call Connect recorded it."`
}

// Task is the task attached to an interaction, with the CRM's codes as the partner sent them.
type Task struct {
	Name            string     `json:"name" example:"Ligação externa"`
	DueAt           *time.Time `json:"due_at" doc:"When the task is due, read in the environment's time zone; null when none." example:"2024-03-19T14:00:00-03:00"`
	Status          string     `json:"status" doc:"situacao: C (concluída), P (pendente) or another code of the CRM; empty when none." example:"C"`
	Priority        string     `json:"priority" doc:"prioridade: A (alta), M (média), B (baixa) or another code; empty when none." example:"A"`
	ResponsibleType string     `json:"responsible_type" doc:"tipo_responsavel: G (gestor), C (corretor), I (imobiliária) or another code; empty when none." example:"G"`
	ResponsibleID   string     `json:"responsible_id" doc:"idresponsavel; empty when none." example:"6065"`
	Reminder        bool       `json:"reminder" doc:"lembrete_tarefa."`
}

func historyOf(envID string, is []domain.Interaction) []HistoryItem {
	out := make([]HistoryItem, 0, len(is))
	for _, i := range is {
		item := HistoryItem{ID: i.ID(), Type: i.Type(), Description: i.Description(), OccurredAt: i.OccurredAt()}
		if t := i.Task(); t != nil {
			item.Task = &Task{Name: t.Name, DueAt: t.DueAt, Status: t.Status, Priority: t.Priority,
				ResponsibleType: t.ResponsibleType, ResponsibleID: t.ResponsibleID, Reminder: t.Reminder}
		}
		if id := i.CallID(); id != "" {
			item.CallID = &id
		}
		if id := i.RecordingID(); id != "" {
			u := recordingLocation(envID, id)
			item.RecordingID, item.RecordingURL = &id, &u
		}
		out = append(out, item)
	}
	return out
}

type putLeadInput struct {
	LeadPath
	Body LeadSettings
}

type getLeadInput struct {
	LeadPath
}

type leadOutput struct {
	Body Lead
}

type leadWithHistoryOutput struct {
	Body LeadWithHistory
}

func leadOf(l domain.Lead) Lead {
	in := l.Input()
	out := Lead{ID: in.ID, Name: in.Name, Email: in.Email, Phone: in.Phone, Score: in.Score, RegisteredAt: in.RegisteredAt,
		MainMedia: in.MainMedia, Origin: in.Origin, ManagerID: in.ManagerID, BrokerID: in.BrokerID, AgencyID: in.AgencyID,
		Developments: make([]Ref, 0, len(in.Developments))}
	if in.Stage != nil {
		out.Stage = &Ref{ID: in.Stage.ID, Name: in.Stage.Name}
	}
	for _, d := range in.Developments {
		out.Developments = append(out.Developments, Ref{ID: d.ID, Name: d.Name})
	}
	return out
}

func (h *handlers) registerLeads(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "putLead",
		Method:      http.MethodPut,
		Path:        "/v1/environments/{env}/leads/{lead_id}",
		Summary:     "Create or replace a lead",
		Description: "Creates the lead or replaces all its fields, owners included; optional fields left out become empty. " +
			"Idempotent. The environment must exist; owners are referenced by user id and need not exist yet.",
		Tags:   []string{tagLeads},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *putLeadInput) (*leadOutput, error) {
		b := in.Body
		li := domain.LeadInput{EnvID: in.Env, ID: in.LeadID, Name: b.Name, Email: b.Email, Phone: b.Phone, Score: b.Score,
			RegisteredAt: b.RegisteredAt, MainMedia: b.MainMedia, Origin: b.Origin, ManagerID: b.ManagerID,
			BrokerID: b.BrokerID, AgencyID: b.AgencyID}
		if b.Stage != nil {
			li.Stage = &domain.Ref{ID: b.Stage.ID, Name: b.Stage.Name}
		}
		for _, d := range b.Developments {
			li.Developments = append(li.Developments, domain.Ref{ID: d.ID, Name: d.Name})
		}
		l, err := h.svc.Configuration.PutLead(ctx, li)
		if err != nil {
			return nil, err
		}
		return &leadOutput{Body: leadOf(l)}, nil
	})

	register(api, h, huma.Operation{
		OperationID: "getLead",
		Method:      http.MethodGet,
		Path:        "/v1/environments/{env}/leads/{lead_id}",
		Summary:     "Read a lead with its history",
		Description: "Returns the lead and its history, newest first: the interactions partners posted back " +
			"(type L, a call), each with its task, its call and the link to its recording when there are. " +
			"The history is empty until a partner posts a result.",
		Tags:   []string{tagLeads},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *getLeadInput) (*leadWithHistoryOutput, error) {
		l, err := h.svc.Configuration.GetLead(ctx, in.Env, in.LeadID)
		if err != nil {
			return nil, err
		}
		history := []HistoryItem{}
		if h.svc.Callbacks != nil {
			is, err := h.svc.Callbacks.History(ctx, in.Env, in.LeadID)
			if err != nil {
				return nil, err
			}
			history = historyOf(in.Env, is)
		}
		return &leadWithHistoryOutput{Body: LeadWithHistory{Lead: leadOf(l), History: history}}, nil
	})
}
