package console

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"callconnect/domain"
)

// Both catalogues have the same keys, no empty message, and messages that
// take the same arguments: given as many as either asks for, neither
// complains.
func TestCataloguesMatch(t *testing.T) {
	for l, cat := range catalogues {
		for other, oc := range catalogues {
			for key := range cat {
				if _, ok := oc[key]; !ok {
					t.Errorf("%q is in %s but not in %s", key, l, other)
				}
			}
		}
		for key, msg := range cat {
			if strings.TrimSpace(msg) == "" {
				t.Errorf("%s: %q is empty", l, key)
			}
		}
	}
	verb := regexp.MustCompile(`%(\[\d+\])?[sdv]`)
	index := regexp.MustCompile(`%\[(\d+)\]`)
	for key, pt := range ptBR {
		n := 0
		for _, msg := range []string{pt, en[key]} {
			plain := 0
			for _, m := range verb.FindAllStringSubmatch(msg, -1) {
				if m[1] == "" {
					plain++
				}
			}
			n = max(n, plain)
			for _, m := range index.FindAllStringSubmatch(msg, -1) {
				var i int
				fmt.Sscan(m[1], &i)
				n = max(n, i)
			}
		}
		if n == 0 {
			continue
		}
		args := make([]any, n)
		for i := range args {
			args[i] = anyVerb{}
		}
		for l := range catalogues {
			if got := l.t(key, args...); strings.Contains(got, "%!") {
				t.Errorf("%s: %q with %d arguments: %s", l, key, n, got)
			}
		}
		if strings.Count(pt, "%") != strings.Count(en[key], "%") && !strings.HasPrefix(key, "error.") {
			t.Errorf("%q takes different arguments in pt-BR (%q) and en (%q)", key, pt, en[key])
		}
	}
}

// anyVerb formats as x under any verb, so that only a missing or an extra
// argument shows.
type anyVerb struct{}

func (anyVerb) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("x")) }

// Every key the templates and the handlers use is in the catalogues, and
// every code a page shows in words has its words in both.
func TestEveryKeyUsedExists(t *testing.T) {
	keyUse := regexp.MustCompile(`\{\{-?\s*(?:t|th)\s+"([^"]+)"|\(t\s+"([^"]+)"|\bl\.t\("([^"]+)"|trOf\(r\)\.t\("([^"]+)"|l\.t\(d\.name|"((?:flash|calls|monitor)\.[a-z_]+)"`)
	used := map[string]bool{}
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, path)
		for _, m := range keyUse.FindAllStringSubmatch(string(b), -1) {
			used[strings.Join(m[1:], "")] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "messages.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyUse.FindAllStringSubmatch(string(b), -1) {
			if k := strings.Join(m[1:], ""); k != "" {
				used[k] = true
			}
		}
	}
	if len(used) < 100 {
		t.Fatalf("found only %d keys in use: the pattern no longer matches the code", len(used))
	}
	for _, key := range flashes {
		used[key] = true
	}
	for key := range used {
		for l, cat := range catalogues {
			if _, ok := cat[key]; !ok {
				t.Errorf("%q is used but not in %s", key, l)
			}
		}
	}

	codes := map[string][]string{
		"direction": {"in", "out"}, "dial_mode": {"phone", "extension"},
		"role":          {string(domain.RoleManager), string(domain.RoleBroker), string(domain.RoleAgency)},
		"interaction":   {domain.InteractionTypeCall},
		"task_status":   {domain.TaskStatusDone, domain.TaskStatusPending},
		"task_priority": {domain.TaskPriorityHigh, domain.TaskPriorityMedium, domain.TaskPriorityLow},
		"responsible":   {domain.ResponsibleManager, domain.ResponsibleBroker, domain.ResponsibleAgency},
		"undeliverable": {domain.UndeliverablePartnerRefused, domain.UndeliverableDeadlineExceeded, domain.UndeliverableNoIntegration},
	}
	for _, s := range domain.CallStatuses {
		codes["status"] = append(codes["status"], string(s))
	}
	codes["reason"] = append(slices.Clone(domain.CallReasons), string(domain.ReasonNotOwner), string(domain.ReasonIntegrationInactive),
		string(domain.ReasonMissingPhone), string(domain.ReasonMissingExtension),
		domain.UndeliverablePartnerRefused, domain.UndeliverableDeadlineExceeded, domain.UndeliverableNoIntegration)
	for ns, list := range codes {
		for _, code := range list {
			for l, cat := range catalogues {
				if _, ok := cat[ns+"."+code]; !ok {
					t.Errorf("%s: no words for %s %q", l, ns, code)
				}
			}
		}
	}
}

// The statuses and reasons operators read most, in the words they use.
func TestPortugueseWords(t *testing.T) {
	for code, want := range map[string]string{
		"status.queued": "na fila", "status.delivering": "entregando", "status.delivered": "entregue",
		"status.completed": "realizada", "status.not_completed": "não realizada", "status.no_result": "sem retorno",
		"status.undeliverable": "não entregue", "reason.no_answer": "não atendida", "reason.busy": "ocupado",
		"reason.invalid_number": "número inválido", "reason.cancelled": "cancelada", "reason.not_completed": "não completada",
		"reason.other": "outro", "overview.test_call_button": "Enviar ligação de teste",
	} {
		if got := langPT.t(code); got != want {
			t.Errorf("%s: %q, want %q", code, got, want)
		}
	}
	tz, err := time.LoadLocation(domain.DefaultTimeZone)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 4, 15, 7, 30, 0, time.UTC)
	if got := langPT.formatTime(at, tz); got != "04/03/2026 12:07" {
		t.Errorf("a date in Portuguese: %q", got)
	}
	if got := langEN.formatTime(at, tz); got != "2026-03-04 12:07" {
		t.Errorf("a date in English: %q", got)
	}
}

// Accept-Language: the most preferred of Portuguese and English wins,
// whatever the region; equal weights go by order; nothing known (or no
// header) is Portuguese.
func TestPreferredLang(t *testing.T) {
	for header, want := range map[string]lang{
		"":                                    langPT,
		"en":                                  langEN,
		"en-US,en;q=0.9":                      langEN,
		"EN-gb":                               langEN,
		"pt-BR,pt;q=0.9,en-US;q=0.8":          langPT,
		"pt-PT":                               langPT,
		"en-US;q=0.5, pt-BR;q=0.6":            langPT,
		"fr-FR,fr;q=0.9,en;q=0.5":             langEN,
		"fr, de":                              langPT,
		"en;q=0, pt":                          langPT,
		"en;q=0":                              langPT,
		"en;q=bogus, pt;q=0.1":                langPT,
		"*":                                   langPT,
		"en-US , pt-BR":                       langEN,
		"es-AR,es;q=0.9,pt-BR;q=0.8,en;q=0.7": langPT,
	} {
		if got := preferredLang(header); got != want {
			t.Errorf("Accept-Language %q: %s, want %s", header, got, want)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		type entry struct {
			tag string
			q   int // tenths
		}
		tags := []string{"pt", "pt-BR", "en", "en-US", "fr", "de", "es", "*"}
		entries := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) entry {
			return entry{rapid.SampledFrom(tags).Draw(t, "tag"), rapid.IntRange(0, 10).Draw(t, "q")}
		}), 0, 6).Draw(t, "entries")
		parts := make([]string, len(entries))
		want, bestQ := langPT, 0
		for i, e := range entries {
			parts[i] = fmt.Sprintf("%s;q=%d.%d", e.tag, e.q/10, e.q%10)
			var l lang
			switch {
			case strings.HasPrefix(e.tag, "pt"):
				l = langPT
			case strings.HasPrefix(e.tag, "en"):
				l = langEN
			default:
				continue
			}
			if e.q > bestQ {
				want, bestQ = l, e.q
			}
		}
		if got := preferredLang(strings.Join(parts, ", ")); got != want {
			t.Fatalf("%q: %s, want %s", strings.Join(parts, ", "), got, want)
		}
	})
}

// The domain's errors in Portuguese: a sentence per code, the field named;
// a refused value's detail in Portuguese when the forms can meet it.
func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		err    *domain.Error
		pt, en string
	}{
		{&domain.Error{Code: domain.CodePermissionDenied, Field: "actor_id", Message: "the actor lacks the integration-management permission"},
			"Este usuário não tem a permissão de gerenciar integrações (actor_id).", "the actor lacks the integration-management permission (actor_id)"},
		{&domain.Error{Code: domain.CodeInvalidField, Field: "partner_url", Message: "must use https"},
			"URL do parceiro (partner_url): deve usar https.", "must use https (partner_url)"},
		{&domain.Error{Code: domain.CodeInvalidField, Field: "email", Message: "must be a plain e-mail address such as name@example.com"},
			"E-mail (email): deve ser um endereço de e-mail simples, como nome@exemplo.com.", "must be a plain e-mail address such as name@example.com (email)"},
		{&domain.Error{Code: domain.CodeInvalidField, Field: "description", Message: "must be at most 200 bytes"},
			"Descrição (description): deve ter no máximo 200 bytes.", "must be at most 200 bytes (description)"},
		{&domain.Error{Code: "something_new", Message: "whatever it is"},
			"A ação foi recusada: whatever it is", "whatever it is"},
	} {
		if got := errorText(langPT, tc.err); got != tc.pt {
			t.Errorf("%s in Portuguese: %q, want %q", tc.err.Code, got, tc.pt)
		}
		if got := errorText(langEN, tc.err); got != tc.en {
			t.Errorf("%s in English: %q, want %q", tc.err.Code, got, tc.en)
		}
	}
	if got := attemptError(langPT, "partner answered 503"); got != "o parceiro respondeu 503" {
		t.Errorf("an attempt's answer: %q", got)
	}
}
