package console

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// lang is a language the console speaks: Brazilian Portuguese, the
// language of the CRM's operators, unless the browser prefers English or
// the operator chose it.
type lang string

const (
	langPT lang = "pt-BR"
	langEN lang = "en"
)

// catalogues are the console's words, one per language (messages.go); a
// test keeps their keys the same.
var catalogues = map[lang]map[string]string{langPT: ptBR, langEN: en}

// langNames name each language in itself, for the switch.
var langNames = map[lang]string{langPT: "Português", langEN: "English"}

// langCookie remembers the language the operator switched to; it outranks
// the browser's Accept-Language.
const langCookie = "callconnect_lang"

// t is the message key in l, filled with args (fmt verbs) when given. A
// key missing from the catalogue shows as itself (a test makes sure every
// key used exists).
func (l lang) t(key string, args ...any) string {
	msg, ok := catalogues[l][key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, args...)
}

// label is the words of a code in a namespace (status, reason, direction,
// dial_mode…); a code the catalogue does not know shows as it is, spaced.
func (l lang) label(ns, code string) string {
	if msg, ok := catalogues[l][ns+"."+code]; ok {
		return msg
	}
	return strings.ReplaceAll(code, "_", " ")
}

// formatTime shows an instant in the environment's time zone: dd/mm/aaaa
// HH:MM in Portuguese, aaaa-mm-dd HH:MM in English.
func (l lang) formatTime(t time.Time, tz *time.Location) string {
	if t.IsZero() {
		return ""
	}
	if tz == nil {
		tz = time.UTC
	}
	layout := "02/01/2006 15:04"
	if l == langEN {
		layout = "2006-01-02 15:04"
	}
	return t.In(tz).Format(layout)
}

// parseLang reads a language as the switch and the cookie write it.
func parseLang(s string) (lang, bool) {
	l := lang(s)
	_, ok := catalogues[l]
	return l, ok
}

// preferredLang is the language of an Accept-Language header: the most
// preferred of those the console speaks (any pt-* is Portuguese, any en-*
// English; equal weights go by order), Portuguese when it names neither.
func preferredLang(header string) lang {
	best, bestQ := langPT, 0.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		var l lang
		switch primary {
		case "pt":
			l = langPT
		case "en":
			l = langEN
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

type langKey struct{}

// langOf is the language to answer r in: the switch's cookie, else the
// browser's preference.
func langOf(r *http.Request) lang {
	if c, err := r.Cookie(langCookie); err == nil {
		if l, ok := parseLang(c.Value); ok {
			return l
		}
	}
	return preferredLang(r.Header.Get("Accept-Language"))
}

// withLang puts the request's language in its context, where handlers and
// render find it (trOf).
func withLang(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), langKey{}, langOf(r)))
}

// trOf is the language of the request being answered.
func trOf(r *http.Request) lang {
	if l, ok := r.Context().Value(langKey{}).(lang); ok {
		return l
	}
	return langOf(r)
}

// langSwitch is the header's link to the other language.
type langSwitch struct {
	Href string
	Lang lang
	Name string
}

// switchFor links r's page in the other language. A page answering a POST
// (a secret shown once, a refused form) cannot be asked for again: its
// link leads to the environment, or to the console's first page. A next
// parameter of the page (the sign-in form's) is kept only when it stays in
// the console, so that the page never repeats an address it was sent.
func switchFor(r *http.Request, l lang, env *envView) *langSwitch {
	to := langEN
	if l == langEN {
		to = langPT
	}
	here := r.URL.EscapedPath()
	if q := r.URL.Query(); len(q) > 0 {
		if q.Has("next") {
			q.Set("next", safeNext(q.Get("next")))
		}
		here += "?" + q.Encode()
	}
	if r.Method != http.MethodGet {
		here = Path
		if env != nil {
			here = env.Base + "/"
		}
	}
	q := url.Values{"to": {string(to)}, "next": {here}}
	return &langSwitch{Href: Path + "language?" + q.Encode(), Lang: to, Name: langNames[to]}
}

// switchLanguage remembers the language asked for (a year, in a cookie the
// whole console reads) and goes back to the page the switch was on.
func (c *Console) switchLanguage(w http.ResponseWriter, r *http.Request) {
	l, ok := parseLang(r.URL.Query().Get("to"))
	if !ok {
		c.render(w, r, http.StatusBadRequest, "message", view{Title: trOf(r).t("lang.unknown_title"), CSRF: c.csrfOf(r),
			Data: message{Heading: trOf(r).t("lang.unknown_title"), Text: trOf(r).t("lang.unknown", strings.Join(langCodes(), ", ")),
				Link: Path, LinkText: trOf(r).t("link.back_home")}})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: string(l), Path: cookiePath, MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: c.secureFor(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
}

func langCodes() []string {
	codes := make([]string, 0, len(catalogues))
	for l := range catalogues {
		codes = append(codes, string(l))
	}
	slices.Sort(codes)
	return codes
}

// funcsFor are the helpers the templates use, speaking l.
func funcsFor(l lang) template.FuncMap {
	return template.FuncMap{
		// t is a message; th a message that holds markup of its own (the
		// catalogue's, trusted), its arguments escaped.
		"t": func(key string, args ...any) string { return l.t(key, args...) },
		"th": func(key string, args ...any) template.HTML {
			for i, a := range args {
				args[i] = template.HTMLEscapeString(fmt.Sprint(a))
			}
			return template.HTML(l.t(key, args...)) //nolint:gosec // the catalogue's own markup, arguments escaped
		},
		"label": l.label,
		// actor builds the "acting as" field of a form that changes an integration.
		"actor": func(id string, managers []userView, selected string) actorField {
			return actorField{ID: id, Managers: managers, Selected: selected}
		},
	}
}
