package domain_test

import (
	"strings"
	"testing"
	"time"

	"callconnect/domain"
)

func TestMapMotivo(t *testing.T) {
	tests := []struct{ in, reason, text string }{
		{"nao_atendida", "no_answer", ""},
		{"Não atendida", "no_answer", ""},
		{"nao atendida", "no_answer", ""},
		{"NÃO_ATENDIDA", "no_answer", ""},
		{"Na\u0303o atendida", "no_answer", ""}, // decomposed tilde
		{"  não-atendido  ", "no_answer", ""},
		{"nao_completada", "not_completed", ""},
		{"Não Completada", "not_completed", ""},
		{"ocupado", "busy", ""},
		{"Ocupada", "busy", ""},
		{"numero_invalido", "invalid_number", ""},
		{"Número inválido", "invalid_number", ""},
		{"cancelada", "cancelled", ""},
		{"CANCELADO", "cancelled", ""},
		{"outro", "other", ""},
		{"no_answer", "no_answer", ""},
		{"busy", "busy", ""},
		{"caixa postal", "other", "caixa postal"},
		{"  Lead pediu retorno amanhã ", "other", "Lead pediu retorno amanhã"},
		{"", "", ""},
		{"   ", "", ""},
	}
	for _, tt := range tests {
		reason, text := domain.MapMotivo(tt.in)
		if reason != tt.reason || text != tt.text {
			t.Errorf("MapMotivo(%q) = %q, %q; want %q, %q", tt.in, reason, text, tt.reason, tt.text)
		}
	}
}

func TestParseResultOutcome(t *testing.T) {
	tests := []struct {
		in   string
		want domain.ResultOutcome
		ok   bool
	}{
		{"realizada", domain.OutcomeCompleted, true},
		{"Realizada", domain.OutcomeCompleted, true},
		{" REALIZADO ", domain.OutcomeCompleted, true},
		{"completed", domain.OutcomeCompleted, true},
		{"nao_realizada", domain.OutcomeNotCompleted, true},
		{"não realizada", domain.OutcomeNotCompleted, true},
		{"nao-realizada", domain.OutcomeNotCompleted, true},
		{"Não Realizada", domain.OutcomeNotCompleted, true},
		{"not_completed", domain.OutcomeNotCompleted, true},
		{"nao_atendida", "", false},
		{"", "", false},
		{"realizadas", "", false},
	}
	for _, tt := range tests {
		got, ok := domain.ParseResultOutcome(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseResultOutcome(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if domain.OutcomeCompleted.CallStatus() != domain.CallCompleted || domain.OutcomeNotCompleted.CallStatus() != domain.CallNotCompleted {
		t.Error("CallStatus mapping")
	}
}

func TestParseCivilTime(t *testing.T) {
	sp, _ := time.LoadLocation("America/Sao_Paulo")
	ok := []struct {
		in   string
		want time.Time // in São Paulo
		str  string
	}{
		{"2024-03-19 14:00", time.Date(2024, 3, 19, 14, 0, 0, 0, sp), "2024-03-19 14:00:00"},
		{"2024-03-19 14:00:05", time.Date(2024, 3, 19, 14, 0, 5, 0, sp), "2024-03-19 14:00:05"},
		{" 2024-03-19 14:00 ", time.Date(2024, 3, 19, 14, 0, 0, 0, sp), "2024-03-19 14:00:00"},
		{"2024-03-19", time.Date(2024, 3, 19, 0, 0, 0, 0, sp), "2024-03-19 00:00:00"},
		{"2024-03-19T14:00:05", time.Date(2024, 3, 19, 14, 0, 5, 0, sp), "2024-03-19 14:00:05"},
		{"2024-02-29 23:59:59", time.Date(2024, 2, 29, 23, 59, 59, 0, sp), "2024-02-29 23:59:59"},
		{"2024-03-19T17:00:05Z", time.Date(2024, 3, 19, 14, 0, 5, 0, sp), "2024-03-19 17:00:05Z"},
		{"2024-03-19T14:00:05.123-03:00", time.Date(2024, 3, 19, 14, 0, 5, 0, sp), "2024-03-19 14:00:05-03:00"},
		{"2024-03-19T12:00+0530", time.Date(2024, 3, 19, 3, 30, 0, 0, sp), "2024-03-19 12:00:00+05:30"},
		{"2024-03-19 14:00-03", time.Date(2024, 3, 19, 14, 0, 0, 0, sp), "2024-03-19 14:00:00-03:00"},
	}
	for _, tt := range ok {
		c, err := domain.ParseCivilTime("data", tt.in)
		if err != nil {
			t.Errorf("ParseCivilTime(%q): %v", tt.in, err)
			continue
		}
		if got := c.In(sp); !got.Equal(tt.want) || got.Location() != sp {
			t.Errorf("ParseCivilTime(%q).In(SP) = %v, want %v", tt.in, got, tt.want)
		}
		if c.String() != tt.str {
			t.Errorf("ParseCivilTime(%q).String() = %q, want %q", tt.in, c.String(), tt.str)
		}
	}
	c, _ := domain.ParseCivilTime("data", "2024-03-19 14:00")
	if got := c.In(nil); !got.Equal(time.Date(2024, 3, 19, 14, 0, 0, 0, time.UTC)) {
		t.Errorf("In(nil) = %v, want UTC", got)
	}
	if _, has := c.Offset(); has || c.IsZero() || !(domain.CivilTime{}).IsZero() {
		t.Error("Offset/IsZero")
	}

	bad := []string{"", "2024", "2024-3-19 14:00", "2024-03-19 14", "2024-03-19 14:0", "2024-03-19 4:00",
		"2024-03-19  14:00", "2024-03-19 14:00:5", "2024-03-19 14:00:60", "2024-13-01 00:00", "2024-00-10",
		"2023-02-29", "0000-01-01", "0001-01-01", "1899-12-31 23:59", "2024-03-19 14:00 UTC", "2024-03-19T14:00:05+25:00", "2024-03-19T14:00:05+03:60",
		"2024-03-19T14:00:05.Z", "19/03/2024 14:00", "2024/03/19 14:00", "2024-03-19Z", "2024-03-19 14h00",
		"２０２４-03-19 14:00", "2024-03-19 14:00:05.1234567890"}
	for _, in := range bad {
		_, err := domain.ParseCivilTime("interacoes[0].tarefa.data", in)
		wantInvalid(t, err, "interacoes[0].tarefa.data")
	}
}

func TestMergeCallID(t *testing.T) {
	tests := []struct{ path, query, body, want, field string }{
		{"", "", "", "", ""},
		{"c1", "", "", "c1", ""},
		{"", "c1", "", "c1", ""},
		{"", "", "c1", "c1", ""},
		{"c1", "c1", " c1 ", "c1", ""},
		{"c1", "c2", "", "", "query.idligacao"},
		{"", "c1", "c2", "", "body.idligacao"},
		{"a/b", "", "", "", "idligacao"},
	}
	for _, tt := range tests {
		got, err := domain.MergeCallID(tt.path, tt.query, tt.body)
		if tt.field != "" {
			wantInvalid(t, err, tt.field)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("MergeCallID(%q, %q, %q) = %q, %v; want %q", tt.path, tt.query, tt.body, got, err, tt.want)
		}
	}
}

func TestRecordCallResult(t *testing.T) {
	delivered := func() domain.Call {
		return domain.RestoreCall("acme", "c1", "lead1", "u1", domain.CallDelivered, "", time.Unix(0, 0), time.Unix(60, 0), nil, nil)
	}
	c := delivered()
	if err := domain.RecordCallResult(&c, domain.OutcomeNotCompleted, domain.CallReasonBusy); err != nil {
		t.Fatal(err)
	}
	if c.Status() != domain.CallNotCompleted || c.Reason() != "busy" {
		t.Errorf("got %s %s", c.Status(), c.Reason())
	}
	c = delivered()
	if err := domain.RecordCallResult(&c, domain.OutcomeCompleted, "busy"); err != nil || c.Status() != domain.CallCompleted || c.Reason() != "" {
		t.Errorf("completed: %s %q %v", c.Status(), c.Reason(), err)
	}
	// A second result for an ended call is a conflict.
	wantErr(t, domain.RecordCallResult(&c, domain.OutcomeCompleted, ""), domain.KindConflict, domain.CodeInvalidTransition, "")
	c = delivered()
	wantInvalid(t, domain.RecordCallResult(&c, domain.OutcomeNotCompleted, "nao_atendida"), "motivo")
	wantInvalid(t, domain.RecordCallResult(&c, "maybe", ""), "status")
	if c.Status() != domain.CallDelivered {
		t.Errorf("a refused result changed the call: %s", c.Status())
	}
}

// --- fuzz tests: partner input must never crash the parsers, and what they
// accept must be something the rest of the domain accepts too.

// checkParseError checks the shape of an error from a callback parser, and
// that malformed JSON is always reported as such.
// checkInteractions checks that every parsed interaction can go on the history.
func FuzzMapMotivo(f *testing.F) {
	for _, s := range []string{"nao_atendida", "Não atendida", "NÃO_ATENDIDA", "Na\u0303o", "caixa postal", "", " ", "\xff", "outro"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		reason, text := domain.MapMotivo(s)
		switch {
		case reason == "":
			if strings.TrimSpace(s) != "" || text != "" {
				t.Fatalf("MapMotivo(%q) = %q, %q", s, reason, text)
			}
			return
		case !contains(domain.CallReasons, reason):
			t.Fatalf("MapMotivo(%q) gave unknown reason %q", s, reason)
		case reason != domain.CallReasonOther && text != "":
			t.Fatalf("MapMotivo(%q) = %q with text %q", s, reason, text)
		case text != "" && text != strings.TrimSpace(s):
			t.Fatalf("MapMotivo(%q) free text %q", s, text)
		}
		// The codes map to themselves.
		if r2, t2 := domain.MapMotivo(reason); r2 != reason || t2 != "" {
			t.Fatalf("MapMotivo(%q) = %q, %q", reason, r2, t2)
		}
	})
}

func FuzzParseCivilTime(f *testing.F) {
	for _, s := range []string{"2024-03-19 14:00", "2024-03-19 14:00:05", "2024-03-19", "2024-03-19T14:00:05.5-03:00",
		"2024-02-30 10:00", "9999-12-31 23:59:59Z", "1900-01-01T00:00:00+23:59"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := domain.ParseCivilTime("data", s)
		if err != nil {
			wantInvalid(t, err, "data")
			return
		}
		// What was read reads back the same from its own String().
		again, err := domain.ParseCivilTime("data", c.String())
		if err != nil || again != c {
			t.Fatalf("%q → %q → %+v, %v", s, c.String(), again, err)
		}
		if u := c.In(time.UTC); u.IsZero() {
			t.Fatalf("%q is the zero time", s)
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
