package callconnect_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// Every relative link of README.md and docs/*.md reaches a file of the
// repository and, when it names a heading (#anchor), a heading of that file,
// as GitHub renders it.
func TestDocLinksResolve(t *testing.T) {
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append([]string{"README.md"}, docs...)
	if len(docs) < 4 {
		t.Fatalf("found only %v", docs)
	}
	checked := 0
	for _, doc := range docs {
		for _, target := range relativeLinks(t, doc) {
			checked++
			file, anchor, _ := strings.Cut(target, "#")
			path := doc
			if file != "" {
				path = filepath.Join(filepath.Dir(doc), filepath.FromSlash(file))
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s links to %s: no such file (%s)", doc, target, path)
				continue
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(path, ".md") {
				t.Errorf("%s links to %s: an anchor in a file that is not Markdown", doc, target)
				continue
			}
			if !anchors(t, path)[anchor] {
				t.Errorf("%s links to %s: %s has no heading #%s", doc, target, path, anchor)
			}
		}
	}
	if checked < 20 {
		t.Errorf("checked only %d links; the link pattern may have stopped matching", checked)
	}
}

// TestDocLinksCatch makes sure the anchors are made as GitHub makes them.
func TestDocLinksCatch(t *testing.T) {
	for heading, want := range map[string]string{
		"## 5. The call button: who sees it, and when it is enabled":          "5-the-call-button-who-sees-it-and-when-it-is-enabled",
		"## The embeddable call button: `<call-connect-button>`":              "the-embeddable-call-button-call-connect-button",
		"## 8. Antes de entrar em produção: `partner-check` e `partner-sim`":  "8-antes-de-entrar-em-produção-partner-check-e-partner-sim",
		"### 4.1 Retorno da tarefa (`POST /api/cvio/lead_tarefas/cadastrar`)": "41-retorno-da-tarefa-post-apicviolead_tarefascadastrar",
	} {
		if got := slug(strings.TrimLeft(heading, "# ")); got != want {
			t.Errorf("slug(%q) = %q, want %q", heading, got, want)
		}
	}
}

var (
	// [text](target): the target up to a space or the closing parenthesis.
	linkPattern = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	fence       = regexp.MustCompile("^\\s*(```|~~~)")
)

// relativeLinks returns the targets of the links of doc outside code blocks
// that point into the repository.
func relativeLinks(t *testing.T, doc string) []string {
	t.Helper()
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	inCode := false
	for _, line := range strings.Split(string(b), "\n") {
		if fence.MatchString(line) {
			inCode = !inCode
			continue
		}
		if inCode {
			continue
		}
		for _, m := range linkPattern.FindAllStringSubmatch(line, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			out = append(out, target)
		}
	}
	return out
}

// anchors returns the anchors of the headings of a Markdown file.
func anchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	seen := map[string]int{}
	inCode := false
	for _, line := range strings.Split(string(b), "\n") {
		if fence.MatchString(line) {
			inCode = !inCode
			continue
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(line, "#"))
		s := slug(text)
		if n := seen[s]; n > 0 {
			out[s+"-"+strconv.Itoa(n)] = true
		} else {
			out[s] = true
		}
		seen[s]++
	}
	return out
}

// slug is GitHub's anchor of a heading: lower case; letters, digits,
// hyphens, underscores and spaces kept, spaces made hyphens; the rest dropped.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
