package cvio_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"callconnect/adapters/cvio"
	"callconnect/domain"
)

func TestParseTaskCallbackContractExample(t *testing.T) {
	c, err := cvio.ParseTaskCallback([]byte(contractTaskBody))
	if err != nil {
		t.Fatal(err)
	}
	if c.Phone.String() != "48999476359" || c.CallID != "" || len(c.Interactions) != 1 {
		t.Fatalf("got %+v", c)
	}
	it := c.Interactions[0]
	if it.Type != "L" || it.Description != "Ligação realizada com sucesso para o lead" || it.Audio != nil {
		t.Errorf("interaction = %+v", it)
	}
	want := domain.PartnerTask{Name: "Ligação externa", Due: &domain.CivilTime{Year: 2024, Month: 3, Day: 19, Hour: 14},
		Status: "C", Priority: "A", ResponsibleType: "G", ResponsibleID: "6065", Reminder: true}
	if it.Task == nil || it.Task.Due == nil || *it.Task.Due != *want.Due {
		t.Fatalf("task = %+v, want %+v", it.Task, want)
	}
	got := *it.Task
	got.Due, want.Due = nil, nil
	if got != want {
		t.Errorf("task = %+v, want %+v", got, want)
	}
}

func TestParseTaskCallbackTolerance(t *testing.T) {
	sp, _ := time.LoadLocation("America/Sao_Paulo")
	task := func(fields string) string {
		return `{"telefone": "48999476359", "interacoes": [{"tipo": "L", "descricao": "d", "tarefa": {` + fields + `}}]}`
	}
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, c domain.TaskCallback)
	}{
		{"id as a number", task(`"idresponsavel": 6065`), func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Task.ResponsibleID, "6065")
		}},
		{"id as a string", task(`"idresponsavel": "6065"`), func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Task.ResponsibleID, "6065")
		}},
		{"id as a whole number with a zero fraction", task(`"idresponsavel": 6065.00`), func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Task.ResponsibleID, "6065")
		}},
		{"id with letters, as the CRM may choose", task(`"idresponsavel": "usr-7"`), func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Task.ResponsibleID, "usr-7")
		}},
		{"data without seconds", task(`"data": "2024-03-19 14:00"`), func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Task.Due.In(sp), time.Date(2024, 3, 19, 14, 0, 0, 0, sp))
		}},
		{"data with seconds", task(`"data": "2024-03-19 14:00:30"`), func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Task.Due.In(sp), time.Date(2024, 3, 19, 14, 0, 30, 0, sp))
		}},
		{"data in RFC 3339", task(`"data": "2024-03-19T17:00:00Z"`), func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Task.Due.In(sp).Equal(time.Date(2024, 3, 19, 14, 0, 0, 0, sp)), true)
		}},
		{"data null", task(`"data": null`), func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Task.Due == nil, true)
		}},
		{"data empty", task(`"data": " "`), func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Task.Due == nil, true)
		}},
		{"lembrete N", task(`"lembrete_tarefa": "N"`), func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Task.Reminder, false)
		}},
		{"lembrete lower-case s", task(`"lembrete_tarefa": "s"`), func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Task.Reminder, true)
		}},
		{"lembrete as a boolean", task(`"lembrete_tarefa": true`), func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Task.Reminder, true)
		}},
		{"lembrete as 1", task(`"lembrete_tarefa": 1`), func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Task.Reminder, true)
		}},
		{"lembrete absent", task(`"nome": "x"`), func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Task.Reminder, false)
		}},
		{"codes stored as sent", task(`"situacao": "p", "prioridade": " M ", "tipo_responsavel": "XY"`), func(t *testing.T, c domain.TaskCallback) {
			tk := c.Interactions[0].Task
			wantEq(t, tk.Status+"|"+tk.Priority+"|"+tk.ResponsibleType, "p|M|XY")
		}},
		{"telefone as a number", `{"telefone": 5548999476359, "interacoes": [{"descricao": "d"}]}`, func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Phone.NationalDigits(), "48999476359")
		}},
		{"telefone with punctuation", `{"telefone": "+55 (48) 99947-6359", "interacoes": [{"descricao": "d"}]}`, func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Phone.String(), "5548999476359")
		}},
		{"idligacao as a string", `{"idligacao": "01JDQ4T5Z8", "interacoes": [{}]}`, func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.CallID, "01JDQ4T5Z8")
			wantEq(t, c.Phone.IsZero(), true)
		}},
		{"idligacao as a number", `{"idligacao": 42, "interacoes": [{}]}`, func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.CallID, "42")
		}},
		{"tipo absent is a call", `{"telefone": "48999476359", "interacoes": [{"descricao": "d"}]}`, func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Type, "L")
		}},
		{"tipo lower-case", `{"telefone": "48999476359", "interacoes": [{"tipo": "l"}]}`, func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Type, "L")
		}},
		{"tipo spelled out", `{"telefone": "48999476359", "interacoes": [{"tipo": "Ligação"}]}`, func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Type, "L")
		}},
		{"tarefa null", `{"telefone": "48999476359", "interacoes": [{"tarefa": null}]}`, func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Task == nil, true)
		}},
		{"interacoes as one object", `{"telefone": "48999476359", "interacoes": {"descricao": "só uma"}}`, func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Description, "só uma")
		}},
		{"unknown fields ignored, at every level", `{"telefone": "48999476359", "extra": {"a": [1, {"b": null}]}, "interacoes": [{"x": 1, "tarefa": {"y": [], "nome": "n"}}], "z": "w"}`,
			func(t *testing.T, c domain.TaskCallback) { wantEq(t, c.Interactions[0].Task.Name, "n") }},
		{"keys in another case", `{"Telefone": "48999476359", "INTERACOES": [{"Descricao": "d", "Tarefa": {"Nome": "n"}}]}`, func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, c.Interactions[0].Description+c.Interactions[0].Task.Name, "dn")
		}},
		{"the last of duplicate keys wins", `{"telefone": "1111111111", "telefone": "48999476359", "interacoes": [{"descricao": "a"}], "interacoes": [{"descricao": "b"}]}`,
			func(t *testing.T, c domain.TaskCallback) {
				wantEq(t, c.Phone.String(), "48999476359")
				wantEq(t, len(c.Interactions), 1)
				wantEq(t, c.Interactions[0].Description, "b")
			}},
		{"escapes and line breaks in the description", `{"telefone": "48999476359", "interacoes": [{"descricao": "linha 1\nlinha 2 \u00e9 \ud83d\ude00 \/ \"x\""}]}`,
			func(t *testing.T, c domain.TaskCallback) {
				wantEq(t, c.Interactions[0].Description, "linha 1\nlinha 2 é 😀 / \"x\"")
			}},
		{"audio on the task endpoint", `{"telefone": "48999476359", "interacoes": [{"audio_base64": "SUQz"}]}`, func(t *testing.T, c domain.TaskCallback) {
			if a := c.Interactions[0].Audio; a == nil || a.Err != nil || string(a.Head) != "ID3" {
				t.Errorf("audio = %+v", a)
			}
		}},
		{"byte order mark", "\ufeff" + `{"telefone": "48999476359", "interacoes": [{}]}`, func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, len(c.Interactions), 1)
		}},
		{"fifty interactions", `{"telefone": "48999476359", "interacoes": [` + strings.Repeat(`{},`, 49) + `{}]}`, func(t *testing.T, c domain.TaskCallback) {
			wantEq(t, len(c.Interactions), 50)
		}},
		{"a description of the maximum size", `{"telefone": "48999476359", "interacoes": [{"descricao": "` + strings.Repeat("é", 5000) + `"}]}`,
			func(t *testing.T, c domain.TaskCallback) { wantEq(t, len(c.Interactions[0].Description), 10000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := cvio.ParseTaskCallback([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseTaskCallback: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseTaskCallbackRefusals(t *testing.T) {
	task := func(fields string) string {
		return `{"telefone": "48999476359", "interacoes": [{"tipo": "L", "tarefa": {` + fields + `}}]}`
	}
	tests := []struct{ name, body, field string }{
		{"empty body", "", "body"},
		{"only spaces", " \n ", "body"},
		{"malformed JSON", `{"telefone": "48999476359",`, "body"},
		{"trailing garbage", `{"interacoes": [{}]} x`, "body"},
		{"two objects", `{"interacoes": [{}]} {}`, "body"},
		{"an array", `[{"interacoes": [{}]}]`, "body"},
		{"a string", `"hello"`, "body"},
		{"a number", `12`, "body"},
		{"a single-quoted key", `{'telefone': "1"}`, "body"},
		{"a trailing comma", `{"interacoes": [{}],}`, "body"},
		{"a control character in a string", "{\"interacoes\": [{\"descricao\": \"a\x01b\"}]}", "body"},
		{"an invalid escape", `{"interacoes": [{"descricao": "\x"}]}`, "body"},
		{"a number with a leading zero", `{"idligacao": 012, "interacoes": [{}]}`, "body"},
		{"too deep", `{"x": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `, "interacoes": [{}]}`, "body"},
		{"malformed after a semantic error", `{"interacoes": 5, "x": tru}`, "body"},
		{"interacoes missing", `{"telefone": "48999476359"}`, "interacoes"},
		{"interacoes empty", `{"telefone": "48999476359", "interacoes": []}`, "interacoes"},
		{"interacoes null", `{"telefone": "48999476359", "interacoes": null}`, "interacoes"},
		{"interacoes a string", `{"interacoes": "L"}`, "interacoes"},
		{"more than fifty interactions", `{"interacoes": [` + strings.Repeat(`{},`, 50) + `{}]}`, "interacoes"},
		{"an interaction that is not an object", `{"interacoes": [{}, "x"]}`, "interacoes[1]"},
		{"tipo of another kind", `{"interacoes": [{}, {}, {"tipo": "E"}]}`, "interacoes[2].tipo"},
		{"tipo a number", `{"interacoes": [{"tipo": 1}]}`, "interacoes[0].tipo"},
		{"descricao a number", `{"interacoes": [{"descricao": 12}]}`, "interacoes[0].descricao"},
		{"descricao too long", `{"interacoes": [{"descricao": "` + strings.Repeat("a", 10001) + `"}]}`, "interacoes[0].descricao"},
		{"descricao with NUL", `{"interacoes": [{"descricao": "a\u0000b"}]}`, "interacoes[0].descricao"},
		{"descricao not UTF-8", "{\"interacoes\": [{\"descricao\": \"a\xffb\"}]}", "interacoes[0].descricao"},
		{"tarefa a string", `{"interacoes": [{"tarefa": "ligar"}]}`, "interacoes[0].tarefa"},
		{"nome too long", task(`"nome": "` + strings.Repeat("n", 201) + `"`), "interacoes[0].tarefa.nome"},
		{"nome with a line break", task(`"nome": "a\nb"`), "interacoes[0].tarefa.nome"},
		{"data not a date", task(`"data": "amanhã"`), "interacoes[0].tarefa.data"},
		{"data day first", task(`"data": "19/03/2024 14:00"`), "interacoes[0].tarefa.data"},
		{"data impossible day", task(`"data": "2024-02-30 14:00"`), "interacoes[0].tarefa.data"},
		{"data impossible hour", task(`"data": "2024-03-19 24:00"`), "interacoes[0].tarefa.data"},
		{"data a number", task(`"data": 20240319`), "interacoes[0].tarefa.data"},
		{"idresponsavel a fraction", task(`"idresponsavel": 6065.5`), "interacoes[0].tarefa.idresponsavel"},
		{"idresponsavel an exponent", task(`"idresponsavel": 6e3`), "interacoes[0].tarefa.idresponsavel"},
		{"idresponsavel negative", task(`"idresponsavel": -1`), "interacoes[0].tarefa.idresponsavel"},
		{"idresponsavel with spaces inside", task(`"idresponsavel": "60 65"`), "interacoes[0].tarefa.idresponsavel"},
		{"idresponsavel a boolean", task(`"idresponsavel": true`), "interacoes[0].tarefa.idresponsavel"},
		{"situacao a word", task(`"situacao": "Concluída"`), "interacoes[0].tarefa.situacao"},
		{"prioridade a digit", task(`"prioridade": "1"`), "interacoes[0].tarefa.prioridade"},
		{"tipo_responsavel a number", task(`"tipo_responsavel": 7`), "interacoes[0].tarefa.tipo_responsavel"},
		{"lembrete a word", task(`"lembrete_tarefa": "talvez"`), "interacoes[0].tarefa.lembrete_tarefa"},
		{"lembrete 2", task(`"lembrete_tarefa": 2`), "interacoes[0].tarefa.lembrete_tarefa"},
		{"audio a number", `{"interacoes": [{"audio_base64": 1}]}`, "interacoes[0].audio_base64"},
		{"telefone letters", `{"telefone": "quarenta e oito", "interacoes": [{}]}`, "telefone"},
		{"telefone too short", `{"telefone": 123, "interacoes": [{}]}`, "telefone"},
		{"telefone a fraction", `{"telefone": 48999476359.5, "interacoes": [{}]}`, "telefone"},
		{"idligacao with a slash", `{"idligacao": "../x", "interacoes": [{}]}`, "idligacao"},
		{"the first problem is reported", `{"telefone": "x", "interacoes": [{"tipo": "E"}]}`, "telefone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cvio.ParseTaskCallback([]byte(tt.body))
			wantInvalid(t, err, tt.field)
		})
	}
}

func TestParseLeadCallback(t *testing.T) {
	c, err := cvio.ParseLeadCallback([]byte(contractLeadBody))
	if err != nil {
		t.Fatal(err)
	}
	if !c.AllowUpdate || c.Name != "Teste audio 8" || c.Email != "testeaudio8@teste.com" || len(c.Interactions) != 1 {
		t.Fatalf("got %+v", c)
	}
	if it := c.Interactions[0]; it.Type != "L" || it.Description != "Teste de Ligação" || it.Audio == nil || it.Audio.Err == nil {
		// The article's example is cut ("…"): not base64, so not a recording.
		t.Errorf("interaction = %+v", it)
	}

	flags := map[string]bool{
		`true`: true, `false`: false, `null`: false, `"true"`: true, `"FALSE"`: false, `"S"`: true, `"n"`: false,
		`"sim"`: true, `"Não"`: false, `"nao"`: false, `"yes"`: true, `"no"`: false, `1`: true, `0`: false,
		`"1"`: true, `"0"`: false, `""`: false, `1.0`: true,
	}
	for raw, want := range flags {
		c, err := cvio.ParseLeadCallback([]byte(`{"email": "a@b.com", "permitir_alteracao": ` + raw + `}`))
		if err != nil {
			t.Errorf("permitir_alteracao %s: %v", raw, err)
			continue
		}
		if c.AllowUpdate != want {
			t.Errorf("permitir_alteracao %s = %v, want %v", raw, c.AllowUpdate, want)
		}
	}
	c, err = cvio.ParseLeadCallback([]byte(`{"email": "a@b.com"}`))
	if err != nil || c.AllowUpdate || len(c.Interactions) != 0 {
		t.Errorf("without permitir_alteracao and interactions: %+v, %v", c, err)
	}
	c, err = cvio.ParseLeadCallback([]byte(`{"telefone": 48999476359, "idligacao": "c1", "email": " Ana@Example.com ", "nome": " Ana "}`))
	if err != nil || c.Phone.String() != "48999476359" || c.CallID != "c1" || c.Email != "Ana@Example.com" || c.Name != "Ana" {
		t.Errorf("got %+v, %v", c, err)
	}
	audio := `data:audio/mpeg;base64,SUQz\/AwAA\nAAAA`
	c, err = cvio.ParseLeadCallback([]byte(`{"interacoes": [{"audio_base64": "` + audio + `"}]}`))
	want, derr := cvio.DecodeAudioBase64("data:audio/mpeg;base64,SUQz/AwAA\nAAAA", 1<<20)
	// The JSON escapes are undone before the base64 is decoded: the
	// recording is what the unescaped text decodes to, or fails as it fails.
	if a := c.Interactions[0].Audio; err != nil || a == nil || string(a.Head) != string(want) || fmt.Sprint(a.Err) != fmt.Sprint(derr) {
		t.Errorf("audio = %+v, %v (want %q, %v)", a, err, want, derr)
	}

	refusals := []struct{ name, body, field string }{
		{"malformed", `{"email": }`, "body"},
		{"flag a word", `{"permitir_alteracao": "talvez"}`, "permitir_alteracao"},
		{"flag 2", `{"permitir_alteracao": 2}`, "permitir_alteracao"},
		{"flag an object", `{"permitir_alteracao": {}}`, "permitir_alteracao"},
		{"email with a display name", `{"email": "Ana <ana@example.com>"}`, "email"},
		{"email without a domain", `{"email": "ana"}`, "email"},
		{"email a number", `{"email": 1}`, "email"},
		{"nome too long", `{"nome": "` + strings.Repeat("n", 201) + `"}`, "nome"},
		{"nome an array", `{"nome": ["a"]}`, "nome"},
		{"telefone bad", `{"telefone": "abc"}`, "telefone"},
		{"interaction tipo", `{"interacoes": [{"tipo": "X"}]}`, "interacoes[0].tipo"},
		{"audio an object", `{"interacoes": [{"audio_base64": {"data": "x"}}]}`, "interacoes[0].audio_base64"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cvio.ParseLeadCallback([]byte(tt.body))
			wantInvalid(t, err, tt.field)
		})
	}
}

func TestParseResultCallback(t *testing.T) {
	tests := []struct {
		name string
		body string
		want domain.ResultCallback
	}{
		{"completed with audio", `{"status": "realizada", "descricao": "ok", "duracao_segundos": 42, "audio_base64": "SUQz"}`,
			domain.ResultCallback{Outcome: domain.OutcomeCompleted, Description: "ok", DurationSeconds: ptr(int64(42)), Audio: &domain.ReceivedAudio{Size: 3, Head: []byte("ID3")}}},
		{"completed, capitalised, motivo ignored", `{"status": "Realizada", "motivo": "ocupado"}`,
			domain.ResultCallback{Outcome: domain.OutcomeCompleted}},
		{"not answered", `{"status": "nao_realizada", "motivo": "nao_atendida"}`,
			domain.ResultCallback{Outcome: domain.OutcomeNotCompleted, Reason: "no_answer"}},
		{"spelled with accents and spaces", `{"status": "não realizada", "motivo": "Não completada"}`,
			domain.ResultCallback{Outcome: domain.OutcomeNotCompleted, Reason: "not_completed"}},
		{"with a dash", `{"status": "nao-realizada", "motivo": "OCUPADO"}`,
			domain.ResultCallback{Outcome: domain.OutcomeNotCompleted, Reason: "busy"}},
		{"free text", `{"status": "NAO_REALIZADA", "motivo": " caixa postal "}`,
			domain.ResultCallback{Outcome: domain.OutcomeNotCompleted, Reason: "other", ReasonText: "caixa postal"}},
		{"no motivo", `{"status": "nao_realizada"}`,
			domain.ResultCallback{Outcome: domain.OutcomeNotCompleted, Reason: "other"}},
		{"duration as a string", `{"status": "realizada", "duracao_segundos": "17"}`,
			domain.ResultCallback{Outcome: domain.OutcomeCompleted, DurationSeconds: ptr(int64(17))}},
		{"duration zero fraction", `{"status": "realizada", "duracao_segundos": 17.0}`,
			domain.ResultCallback{Outcome: domain.OutcomeCompleted, DurationSeconds: ptr(int64(17))}},
		{"duration null", `{"status": "realizada", "duracao_segundos": null}`,
			domain.ResultCallback{Outcome: domain.OutcomeCompleted}},
		{"idligacao in the body", `{"status": "realizada", "idligacao": 77}`,
			domain.ResultCallback{Outcome: domain.OutcomeCompleted, CallID: "77"}},
		{"multi-line description", `{"status": "realizada", "descricao": "a\r\nb\tc"}`,
			domain.ResultCallback{Outcome: domain.OutcomeCompleted, Description: "a\r\nb\tc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cvio.ParseResultCallback([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if (got.DurationSeconds == nil) != (tt.want.DurationSeconds == nil) ||
				got.DurationSeconds != nil && *got.DurationSeconds != *tt.want.DurationSeconds {
				t.Errorf("duration = %v, want %v", got.DurationSeconds, tt.want.DurationSeconds)
			}
			got.DurationSeconds, tt.want.DurationSeconds = nil, nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}

	refusals := []struct{ name, body, field string }{
		{"malformed", `{"status": "realizada"`, "body"},
		{"not an object", `["realizada"]`, "body"},
		{"no status", `{"motivo": "ocupado"}`, "status"},
		{"unknown status", `{"status": "talvez"}`, "status"},
		{"status a boolean", `{"status": true}`, "status"},
		{"duration a fraction", `{"status": "realizada", "duracao_segundos": 12.5}`, "duracao_segundos"},
		{"duration letters", `{"status": "realizada", "duracao_segundos": "abc"}`, "duracao_segundos"},
		{"duration negative", `{"status": "realizada", "duracao_segundos": -1}`, "duracao_segundos"},
		{"duration over a day", `{"status": "realizada", "duracao_segundos": 86401}`, "duracao_segundos"},
		{"duration huge", `{"status": "realizada", "duracao_segundos": 99999999999999999999999}`, "duracao_segundos"},
		{"duration a boolean", `{"status": "realizada", "duracao_segundos": false}`, "duracao_segundos"},
		{"motivo too long", `{"status": "nao_realizada", "motivo": "` + strings.Repeat("m", 201) + `"}`, "motivo"},
		{"motivo a number", `{"status": "nao_realizada", "motivo": 3}`, "motivo"},
		{"descricao too long", `{"status": "realizada", "descricao": "` + strings.Repeat("d", 10001) + `"}`, "descricao"},
		{"audio an array", `{"status": "realizada", "audio_base64": []}`, "audio_base64"},
		{"idligacao a fraction", `{"status": "realizada", "idligacao": 1.5}`, "idligacao"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cvio.ParseResultCallback([]byte(tt.body))
			wantInvalid(t, err, tt.field)
		})
	}
}

func wantEq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

// --- fuzz tests: partner input must never crash the parsers, and what they
// accept must be something the rest of the domain accepts too.

func callbackSeeds(f *testing.F) {
	for _, s := range []string{contractTaskBody, contractLeadBody,
		`{"status": "nao_realizada", "motivo": "Não atendida", "duracao_segundos": "12", "audio_base64": "data:audio/mpeg;base64,SUQz"}`,
		`{"telefone": 48999476359, "idligacao": 7, "interacoes": {"tarefa": {"data": "2024-03-19T14:00:00-03:00", "idresponsavel": "6065", "lembrete_tarefa": true}}}`,
		`{"interacoes": [{"descricao": "\ud83d\ude00 \u00e9\n"}, null, 1]}`,
		"\ufeff{}", `[]`, `{"a":`, `{"interacoes": [` + strings.Repeat(`{},`, 51) + `{}]}`,
	} {
		f.Add([]byte(s))
	}
}

// checkParseError checks the shape of an error from a callback parser, and
// that malformed JSON is always reported as such.
func checkParseError(t *testing.T, body []byte, err error) {
	de, ok := domain.AsError(err)
	if !ok || de.Field == "" || de.Message == "" {
		t.Fatalf("error %v is not a field error", err)
	}
	// Malformed JSON is its own kind (400); well-formed JSON with a wrong
	// field (or that is not an object) is a wrong field (422).
	// (Nesting deeper than the reader allows counts as malformed too.)
	malformed := !json.Valid(trimBOM(body)) || strings.Contains(de.Message, "nested too deeply")
	if malformed && (de.Kind != domain.KindMalformed || de.Code != cvio.CodeMalformedJSON) ||
		!malformed && (de.Kind != domain.KindInvalid || de.Code != domain.CodeInvalidField) {
		t.Fatalf("error %v: kind %d, code %s (malformed JSON: %v)", err, de.Kind, de.Code, malformed)
	}
	if !json.Valid(trimBOM(body)) && de.Field != "body" {
		t.Fatalf("malformed JSON reported as %v", err)
	}
}

func trimBOM(b []byte) []byte { return []byte(strings.TrimPrefix(string(b), "\ufeff")) }

// checkInteractions checks that every parsed interaction can go on the history.
func checkInteractions(t *testing.T, list []domain.PartnerInteraction) {
	if len(list) > domain.MaxInteractions {
		t.Fatalf("%d interactions", len(list))
	}
	for i, p := range list {
		if p.Type != "L" {
			t.Fatalf("interaction %d has type %q", i, p.Type)
		}
		in := p.Input(time.UTC)
		in.ID, in.EnvID, in.LeadID, in.OccurredAt = "i", "e", "l", time.Unix(1, 0)
		if _, err := domain.NewInteraction(in); err != nil {
			t.Fatalf("interaction %d parsed but cannot be recorded: %v", i, err)
		}
		if p.Audio != nil {
			if p.Audio.Err == nil && p.Audio.Size == 0 {
				t.Fatal("decoded an empty recording")
			}
		}
	}
}

func FuzzParseTaskCallback(f *testing.F) {
	callbackSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := cvio.ParseTaskCallback(body)
		if err != nil {
			checkParseError(t, body, err)
			return
		}
		if !json.Valid(trimBOM(body)) {
			t.Fatal("accepted malformed JSON")
		}
		if len(c.Interactions) == 0 {
			t.Fatal("accepted a task callback without interactions")
		}
		if c.CallID != "" && !domain.ValidID(c.CallID) {
			t.Fatalf("call id %q", c.CallID)
		}
		checkInteractions(t, c.Interactions)
	})
}

func FuzzParseLeadCallback(f *testing.F) {
	callbackSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := cvio.ParseLeadCallback(body)
		if err != nil {
			checkParseError(t, body, err)
			return
		}
		if !json.Valid(trimBOM(body)) {
			t.Fatal("accepted malformed JSON")
		}
		if len(c.Name) > domain.MaxNameLength || !utf8.ValidString(c.Name) {
			t.Fatalf("name %q", c.Name)
		}
		if c.Email != "" {
			if _, err := domain.NewLead(domain.LeadInput{EnvID: "e", ID: "l", Name: "n", Email: c.Email}); err != nil {
				t.Fatalf("email %q accepted by the parser, refused on a lead: %v", c.Email, err)
			}
		}
		checkInteractions(t, c.Interactions)
	})
}

func FuzzParseResultCallback(f *testing.F) {
	callbackSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := cvio.ParseResultCallback(body)
		if err != nil {
			checkParseError(t, body, err)
			return
		}
		if !json.Valid(trimBOM(body)) {
			t.Fatal("accepted malformed JSON")
		}
		switch c.Outcome {
		case domain.OutcomeCompleted:
			if c.Reason != "" {
				t.Fatalf("completed with reason %q", c.Reason)
			}
		case domain.OutcomeNotCompleted:
			if !contains(domain.CallReasons, c.Reason) {
				t.Fatalf("reason %q", c.Reason)
			}
		default:
			t.Fatalf("outcome %q", c.Outcome)
		}
		if d := c.DurationSeconds; d != nil && (*d < 0 || *d > domain.MaxDurationSeconds) {
			t.Fatalf("duration %d", *d)
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

// The article's task callback, verbatim.
const contractTaskBody = `{
  "telefone": "48999476359",
  "interacoes": [{
    "tipo": "L",
    "descricao": "Ligação realizada com sucesso para o lead",
    "tarefa": {"nome": "Ligação externa", "data": "2024-03-19 14:00", "situacao": "C",
               "prioridade": "A", "tipo_responsavel": "G", "idresponsavel": 6065,
               "lembrete_tarefa": "S"}
  }]
}`

// The article's lead callback, verbatim.
const contractLeadBody = `{"permitir_alteracao": true, "nome": "Teste audio 8", "email": "testeaudio8@teste.com",
 "interacoes": [{"tipo": "L", "descricao": "Teste de Ligação", "audio_base64": "SUQzAwAAAAAAOVRQRTEAAAAL..."}]}`

func TestPartnerInteractionInput(t *testing.T) {
	sp, _ := time.LoadLocation("America/Sao_Paulo")
	c, err := cvio.ParseTaskCallback([]byte(contractTaskBody))
	if err != nil {
		t.Fatal(err)
	}
	in := c.Interactions[0].Input(sp)
	in.ID, in.EnvID, in.LeadID, in.CallID, in.OccurredAt = "i1", "acme", "lead1", "c1", time.Date(2024, 3, 19, 17, 5, 0, 0, time.UTC)
	it, err := domain.NewInteraction(in)
	if err != nil {
		t.Fatal(err)
	}
	task := it.Task()
	if task == nil || task.DueAt == nil || !task.DueAt.Equal(time.Date(2024, 3, 19, 14, 0, 0, 0, sp)) ||
		task.Name != "Ligação externa" || task.ResponsibleID != "6065" || !task.Reminder {
		t.Errorf("task = %+v", task)
	}
}
