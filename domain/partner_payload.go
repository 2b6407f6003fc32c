package domain

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// PartnerTimeLayout is how the partner JSON writes times: local time of the
// environment, to the second.
const PartnerTimeLayout = "2006-01-02 15:04:05"

// Callback paths on the environment's public base URL (CONTRACT.md).
const (
	LeadCallbackPath = "/api/cvio/lead"
	TaskCallbackPath = "/api/cvio/lead_tarefas/cadastrar"
)

// partnerPerson is an owner object of the partner JSON.
type partnerPerson struct {
	ID       string  `json:"id"`
	Nome     *string `json:"nome"`
	Telefone *string `json:"telefone"`
	Ramal    *string `json:"ramal"`
}

type partnerRef struct {
	ID   string  `json:"id"`
	Nome *string `json:"nome"`
}

type partnerActor struct {
	Tipo string `json:"tipo"`
	ID   string `json:"id"`
}

// partnerPayload is the JSON sent to the partner when Ligar is pressed, with
// the contract's keys in the contract's order (keys with spaces included).
type partnerPayload struct {
	IDLead         string         `json:"idlead"`
	Gestor         *partnerPerson `json:"gestor"`
	Imobiliaria    *partnerPerson `json:"imobiliaria"`
	Corretor       *partnerPerson `json:"corretor"`
	Situacao       *partnerRef    `json:"situacao"`
	Nome           string         `json:"nome"`
	Email          *string        `json:"email"`
	Telefone       *string        `json:"telefone"`
	Score          *string        `json:"score"`
	DataCad        *string        `json:"data_cad"`
	MidiaPrincipal *string        `json:"midia_principal"`
	Origem         *string        `json:"origem"`
	Empreendimento []partnerRef   `json:"empreendimento"`
	Data           string         `json:"data"`
	CallbackLead   string         `json:"call-back do lead"`
	CallbackTarefa string         `json:"call-back da tarefa"`
	IDLigacao      string         `json:"idligacao"`
	Acionador      partnerActor   `json:"acionador"`
	ModoDiscagem   string         `json:"modo_discagem"`
}

// PartnerPayloadInput is what the partner JSON is built from.
type PartnerPayloadInput struct {
	Env       Environment
	Lead      Lead
	Actor     User            // who pressed Ligar
	Owners    map[string]User // the lead's owners that exist, by user id
	CallID    string
	ClickedAt time.Time
	DialMode  DialMode
}

// PartnerPayload builds the JSON of CONTRACT.md for one click. Ids and
// numbers are strings, absent values null, times in the environment's zone.
// The owner slot matching the actor's role carries the actor (an agency user
// fills the imobiliária slot).
func PartnerPayload(in PartnerPayloadInput) ([]byte, error) {
	loc := in.Env.timeZone
	if loc == nil {
		loc = time.UTC
	}
	l := in.Lead
	p := partnerPayload{
		IDLead:         l.id,
		Gestor:         ownerObject(in.Owners, l.managerID),
		Imobiliaria:    ownerObject(in.Owners, l.agencyID),
		Corretor:       ownerObject(in.Owners, l.brokerID),
		Nome:           l.name,
		Email:          nullable(l.email),
		Telefone:       nullable(l.phone.String()),
		MidiaPrincipal: nullable(l.mainMedia),
		Origem:         nullable(l.origin),
		Empreendimento: []partnerRef{},
		Data:           in.ClickedAt.In(loc).Format(PartnerTimeLayout),
		CallbackLead:   callbackURL(in.Env.publicBaseURL, LeadCallbackPath, in.CallID),
		CallbackTarefa: callbackURL(in.Env.publicBaseURL, TaskCallbackPath, in.CallID),
		IDLigacao:      in.CallID,
		ModoDiscagem:   in.DialMode.Wire(),
	}
	if l.stage != nil {
		p.Situacao = &partnerRef{ID: l.stage.ID, Nome: nullable(l.stage.Name)}
	}
	if l.score != nil {
		s := strconv.Itoa(*l.score)
		p.Score = &s
	}
	if l.registeredAt != nil {
		s := l.registeredAt.In(loc).Format(PartnerTimeLayout)
		p.DataCad = &s
	}
	for _, d := range l.developments {
		p.Empreendimento = append(p.Empreendimento, partnerRef{ID: d.ID, Nome: nullable(d.Name)})
	}
	actor := person(in.Actor)
	switch in.Actor.role {
	case RoleManager:
		p.Gestor = actor
		p.Acionador.Tipo = "gestor"
	case RoleBroker:
		p.Corretor = actor
		p.Acionador.Tipo = "corretor"
	case RoleAgency, RoleAgencyUser:
		p.Imobiliaria = actor
		p.Acionador.Tipo = "imobiliaria"
	}
	p.Acionador.ID = in.Actor.id
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // URLs and names go out as written, not as \u0026
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func ownerObject(owners map[string]User, id string) *partnerPerson {
	if id == "" {
		return nil
	}
	if u, ok := owners[id]; ok {
		return person(u)
	}
	// The lead names an owner the CRM has not sent: its id is all we know.
	return &partnerPerson{ID: id}
}

func person(u User) *partnerPerson {
	return &partnerPerson{ID: u.id, Nome: nullable(u.name), Telefone: nullable(u.phone.String()), Ramal: nullable(u.extension.String())}
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func callbackURL(base, path, callID string) string {
	return base + path + "?idligacao=" + url.QueryEscape(callID)
}

// OwnerIDs returns the ids of the lead's owner slots that are set.
func (l Lead) OwnerIDs() []string {
	var ids []string
	for _, id := range []string{l.managerID, l.brokerID, l.agencyID} {
		if id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}
