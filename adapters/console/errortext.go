package console

import (
	"strconv"
	"strings"

	"callconnect/domain"
)

// errorText says in l what a refused action ran into. The catalogue has a
// sentence per error code ("error.<code>", "error.other" for the rest),
// given the failing field as " (field)", the detail and the field's name in
// words. The detail is the domain's message, which is English: the
// Portuguese catalogue puts into words the details the console's own forms
// can meet (detailsPT) and shows any other as it is.
func errorText(l lang, de *domain.Error) string {
	field := ""
	if de.Field != "" {
		field = " (" + de.Field + ")"
	}
	detail := de.Message
	if l == langPT {
		detail = detailPT(de.Message)
	}
	key := "error." + de.Code
	if _, ok := catalogues[l][key]; !ok {
		key = "error.other"
	}
	return l.t(key, field, detail, l.label("field_name", de.Field))
}

// attemptError says in l what went wrong with a delivery attempt: the
// partner's answer when it answered (the words the delivery writes down),
// the connection's error as it is otherwise.
func attemptError(l lang, msg string) string {
	if n, ok := strings.CutPrefix(msg, "partner answered "); ok {
		if code, err := strconv.Atoi(n); err == nil {
			return l.t("attempt.answered", code)
		}
	}
	return msg
}

// detailsPT are the domain's words for a refused value, by how they start,
// in Portuguese. The rest of the message (a value, a limit, the address a
// partner URL names) follows as it is, unless whole: then the Portuguese
// says it all.
var detailsPT = []struct {
	en, pt string
	whole  bool
}{
	{"is required", "é obrigatório", false},
	{"must be at most ", "deve ter no máximo ", false},
	{"must be an absolute http(s) URL", "deve ser uma URL http(s) completa", false},
	{"must use https", "deve usar https", false},
	{"must not carry credentials", "não pode levar usuário e senha", false},
	{"must not have a fragment", "não pode ter fragmento (#…)", false},
	{"must not carry an IPv6 zone or a percent-encoded host", "não pode levar zona IPv6 nem host com codificação %", true},
	{"must not point at ", "não pode apontar para um endereço interno, onde nenhum parceiro é alcançado: ", false},
	{"must read back as written once normalised", "deve ser lida de volta como foi escrita depois de normalizada; envie-a com codificação %", true},
	{"must be phone or extension", "deve ser phone (telefone) ou extension (ramal)", false},
	{"must be a plain e-mail address such as name@example.com", "deve ser um endereço de e-mail simples, como nome@exemplo.com", false},
	{"must be a valid id", "deve ser um id válido", false},
	{"must be in or out", "deve ser in (entrada) ou out (saída)", true},
	{"must be a status code from 0 to 999", "deve ser um código de status de 0 a 999 (por exemplo 404) ou uma classe de 1xx a 5xx (por exemplo 4xx)", true},
	{"must be later than since", "deve ser depois do início", false},
	{"is not a cursor this service gave out", "não é um link de página que este serviço deu: volte à primeira página", true},
}

// detailPT is msg in Portuguese as far as detailsPT knows it.
func detailPT(msg string) string {
	for _, d := range detailsPT {
		if rest, ok := strings.CutPrefix(msg, d.en); ok {
			if d.whole {
				return d.pt
			}
			return d.pt + rest
		}
	}
	return msg
}
