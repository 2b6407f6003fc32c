package domain_test

import (
	"strings"
	"testing"

	"callconnect/domain"
)

func notCompleted(reason string) domain.ReportedOutcome {
	return domain.ReportedOutcome{Outcome: domain.OutcomeNotCompleted, Reason: reason}
}

var completed = domain.ReportedOutcome{Outcome: domain.OutcomeCompleted}

func TestDescriptionOutcome(t *testing.T) {
	tests := []struct {
		description string
		want        domain.ReportedOutcome
		ok          bool
	}{
		{"Ligação realizada com sucesso para o lead", completed, true},
		{"REALIZADO", completed, true},
		{"Ligação não atendida", notCompleted(domain.CallReasonNoAnswer), true},
		{"nao atendido", notCompleted(domain.CallReasonNoAnswer), true},
		{"Não\tAtendida.", notCompleted(domain.CallReasonNoAnswer), true},
		{"não-atendida", notCompleted(domain.CallReasonNoAnswer), true},
		{"Na\u0303o atendida", notCompleted(domain.CallReasonNoAnswer), true}, // a decomposed accent
		{"NÃO   COMPLETADA", notCompleted(domain.CallReasonNotCompleted), true},
		{"ocupado", notCompleted(domain.CallReasonBusy), true},
		{"Linha ocupada", notCompleted(domain.CallReasonBusy), true},
		{"Número inválido", notCompleted(domain.CallReasonInvalidNumber), true},
		{"numero invalido", notCompleted(domain.CallReasonInvalidNumber), true},
		{"Cancelada pelo corretor", notCompleted(domain.CallReasonCancelled), true},
		{"Ligação não realizada", notCompleted(domain.CallReasonOther), true},
		{"Ligação não foi realizada", notCompleted(domain.CallReasonOther), true},
		// The first of the words in the text wins.
		{"Ligação realizada; cliente não atendeu a segunda", completed, true}, // "não atendeu" is not one of the words
		{"Ligação realizada; a segunda não atendida", completed, true},
		{"Ligação não atendida, depois realizada", notCompleted(domain.CallReasonNoAnswer), true},
		{"Ocupado, depois cancelada", notCompleted(domain.CallReasonBusy), true},
		// Whole words only: none of these says anything.
		{"Ligações realizadas ontem", domain.ReportedOutcome{}, false},
		{"irrealizada", domain.ReportedOutcome{}, false},
		{"desocupado", domain.ReportedOutcome{}, false},
		{"atendida", domain.ReportedOutcome{}, false},
		{"Cliente não atendeu", domain.ReportedOutcome{}, false},
		{"número", domain.ReportedOutcome{}, false},
		{"Retornar amanhã às 14h", domain.ReportedOutcome{}, false},
		{"", domain.ReportedOutcome{}, false},
	}
	for _, tt := range tests {
		got, ok := domain.DescriptionOutcome(tt.description)
		if ok != tt.ok || got != tt.want {
			t.Errorf("DescriptionOutcome(%q) = %+v, %v; want %+v, %v", tt.description, got, ok, tt.want, tt.ok)
		}
	}
}

// The order an interaction's outcome is read in: explicit status and
// motivo, then a recording, then the description's words, then nothing.
func TestCallOutcomeOrder(t *testing.T) {
	busy := &domain.ReportedOutcome{Outcome: domain.OutcomeNotCompleted, Reason: domain.CallReasonBusy}
	audio := &domain.ReceivedAudio{Size: 3, Head: []byte("ID3")}
	tests := []struct {
		name string
		in   domain.PartnerInteraction
		want domain.ReportedOutcome
		from domain.OutcomeSource
		ok   bool
	}{
		{"fields win over a recording and words", domain.PartnerInteraction{Outcome: busy, Audio: audio, Description: "Ligação realizada"},
			*busy, domain.OutcomeFromFields, true},
		{"a recording wins over words", domain.PartnerInteraction{Audio: audio, Description: "Ligação não atendida"},
			completed, domain.OutcomeFromRecording, true},
		{"words", domain.PartnerInteraction{Description: "Ligação não atendida"},
			notCompleted(domain.CallReasonNoAnswer), domain.OutcomeFromDescription, true},
		{"nothing", domain.PartnerInteraction{Description: "Retornar amanhã"}, domain.ReportedOutcome{}, "", false},
	}
	for _, tt := range tests {
		got, from, ok := tt.in.CallOutcome()
		if got != tt.want || from != tt.from || ok != tt.ok {
			t.Errorf("%s: %+v from %q, %v; want %+v from %q, %v", tt.name, got, from, ok, tt.want, tt.from, tt.ok)
		}
	}

	// Across a callback's interactions, the strongest evidence of any wins;
	// among equals, the first in the body.
	list := []domain.PartnerInteraction{
		{Description: "Ligação não atendida"},
		{Audio: audio},
		{Description: "Ocupado"},
	}
	if got, from, ok := domain.CallbackOutcome(list); !ok || got != completed || from != domain.OutcomeFromRecording {
		t.Errorf("recording among words: %+v %q %v", got, from, ok)
	}
	list = append(list, domain.PartnerInteraction{Outcome: busy})
	if got, from, _ := domain.CallbackOutcome(list); got != *busy || from != domain.OutcomeFromFields {
		t.Errorf("fields among the rest: %+v %q", got, from)
	}
	if got, _, _ := domain.CallbackOutcome(list[:1:1]); got != notCompleted(domain.CallReasonNoAnswer) {
		t.Errorf("words alone: %+v", got)
	}
	if _, _, ok := domain.CallbackOutcome(nil); ok {
		t.Error("no interactions reported an outcome")
	}
}

func TestNewReportedOutcome(t *testing.T) {
	tests := []struct {
		status, motivo string
		want           *domain.ReportedOutcome
		bad            bool
	}{
		{"", "", nil, false},
		{"realizada", "", &completed, false},
		{"Realizada", "ocupado", &completed, false}, // a motivo only matters when the call did not happen
		{"nao_realizada", "", &domain.ReportedOutcome{Outcome: domain.OutcomeNotCompleted, Reason: domain.CallReasonOther}, false},
		{"não realizada", "Não atendida", &domain.ReportedOutcome{Outcome: domain.OutcomeNotCompleted, Reason: domain.CallReasonNoAnswer}, false},
		{"", "ocupado", &domain.ReportedOutcome{Outcome: domain.OutcomeNotCompleted, Reason: domain.CallReasonBusy}, false},
		{"nao_realizada", "caixa postal", &domain.ReportedOutcome{Outcome: domain.OutcomeNotCompleted, Reason: domain.CallReasonOther, ReasonText: "caixa postal"}, false},
		{"talvez", "", nil, true},
	}
	for _, tt := range tests {
		got, err := domain.NewReportedOutcome(tt.status, tt.motivo, "interacoes[0].status")
		if tt.bad {
			wantInvalid(t, err, "interacoes[0].status")
			continue
		}
		if err != nil || (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
			t.Errorf("NewReportedOutcome(%q, %q) = %+v, %v; want %+v", tt.status, tt.motivo, got, err, tt.want)
		}
	}
}

// FuzzDescriptionOutcome: reading a description never fails, and says
// something only when one of the article's words is in it.
func FuzzDescriptionOutcome(f *testing.F) {
	for _, s := range []string{"Ligação não atendida", "realizada", "Não foi realizada", "ocupado", "x", ""} {
		f.Add(s)
	}
	words := []string{"realizad", "atendid", "completad", "ocupad", "invalido", "cancelad"}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := domain.DescriptionOutcome(s)
		if !ok {
			return
		}
		folded := domain.FoldWord(s)
		found := false
		for _, w := range words {
			found = found || strings.Contains(folded, w)
		}
		if !found {
			t.Fatalf("%q read as %+v without any of the words", s, got)
		}
		if got.Outcome == domain.OutcomeNotCompleted && got.Reason == "" {
			t.Fatalf("%q: not completed without a reason", s)
		}
	})
}
