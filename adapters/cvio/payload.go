package cvio

import (
	"bytes"
	"callconnect/domain"
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// PartnerTimeLayout is how the partner JSON writes times: local time of the
// environment, to the second.
const PartnerTimeLayout = "2006-01-02 15:04:05"

// Callback paths on the environment's public base URL.
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
	// Teste is true on a test call only (sent from the console or the
	// API to try the partner's endpoint); absent otherwise.
	Teste bool `json:"teste,omitempty"`
}

// PartnerPayload builds the JSON a partner receives for one click. Ids and
// numbers are strings, absent values null, times in the environment's zone.
// The owner slot matching the actor's role carries the actor (an agency user
// fills the imobiliária slot).
func PartnerPayload(in domain.PartnerPayloadInput) ([]byte, error) {
	loc := in.Env.TimeZone()
	if loc == nil {
		loc = time.UTC
	}
	l := in.Lead.Input()
	p := partnerPayload{
		IDLead:         l.ID,
		Gestor:         ownerObject(in.Owners, l.ManagerID),
		Imobiliaria:    ownerObject(in.Owners, l.AgencyID),
		Corretor:       ownerObject(in.Owners, l.BrokerID),
		Nome:           l.Name,
		Email:          nullable(l.Email),
		Telefone:       nullable(wirePhone(in.Lead.Phone())),
		MidiaPrincipal: nullable(l.MainMedia),
		Origem:         nullable(l.Origin),
		Empreendimento: []partnerRef{},
		Data:           in.ClickedAt.In(loc).Format(PartnerTimeLayout),
		CallbackLead:   callbackURL(in.Env.PublicBaseURL(), LeadCallbackPath, in.CallID),
		CallbackTarefa: callbackURL(in.Env.PublicBaseURL(), TaskCallbackPath, in.CallID),
		IDLigacao:      in.CallID,
		ModoDiscagem:   in.DialMode.Wire(),
		Teste:          in.Test,
	}
	if l.Stage != nil {
		p.Situacao = &partnerRef{ID: l.Stage.ID, Nome: nullable(l.Stage.Name)}
	}
	if l.Score != nil {
		s := strconv.Itoa(*l.Score)
		p.Score = &s
	}
	if l.RegisteredAt != nil {
		s := l.RegisteredAt.In(loc).Format(PartnerTimeLayout)
		p.DataCad = &s
	}
	for _, d := range l.Developments {
		p.Empreendimento = append(p.Empreendimento, partnerRef{ID: d.ID, Nome: nullable(d.Name)})
	}
	actor := person(in.Actor)
	switch in.Actor.Role() {
	case domain.RoleManager:
		p.Gestor = actor
		p.Acionador.Tipo = "gestor"
	case domain.RoleBroker:
		p.Corretor = actor
		p.Acionador.Tipo = "corretor"
	case domain.RoleAgency, domain.RoleAgencyUser:
		p.Imobiliaria = actor
		p.Acionador.Tipo = "imobiliaria"
	}
	p.Acionador.ID = in.Actor.ID()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // URLs and names go out as written, not as \u0026
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// wirePhone is a phone as the partner receives it, in one form whatever
// way the CRM typed it: area code and number for a Brazilian number
// (48999476359), E.164 digits for a foreign one.
func wirePhone(p domain.Phone) string { return p.Wire() }

func ownerObject(owners map[string]domain.User, id string) *partnerPerson {
	if id == "" {
		return nil
	}
	if u, ok := owners[id]; ok {
		return person(u)
	}
	// The lead names an owner the CRM has not sent: its id is all we know.
	return &partnerPerson{ID: id}
}

func person(u domain.User) *partnerPerson {
	return &partnerPerson{ID: u.ID(), Nome: nullable(u.Name()), Telefone: nullable(wirePhone(u.Phone())), Ramal: nullable(u.Extension().String())}
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
