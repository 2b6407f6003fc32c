package console_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/console"
	"callconnect/adapters/memory"
	"callconnect/domain"
	"callconnect/ports"
)

// putCalls stores calls of lead 1 of environment acme, and interactions.
func putCalls(t *testing.T, s ports.Store, values ...any) {
	t.Helper()
	err := s.Tx(context.Background(), func(ctx context.Context, r ports.Repositories) error {
		for _, v := range values {
			var err error
			switch v := v.(type) {
			case domain.Call:
				err = r.PutCall(ctx, v)
			case domain.Interaction:
				err = r.AddInteraction(ctx, v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// acceptedCall is a call the partner accepted at, clicked a second before.
func acceptedCall(id string, status domain.CallStatus, reason string, at time.Time) domain.Call {
	return domain.RestoreCall("acme", id, "1", "u1", status, reason, at.Add(-time.Second), at.Add(time.Minute), []byte(`{}`),
		[]domain.Attempt{{At: at.Add(-100 * time.Millisecond), StatusCode: 200, Duration: 100 * time.Millisecond}}).WithDeliveredAt(at)
}

func result(t *testing.T, id, callID string, at time.Time) domain.Interaction {
	t.Helper()
	in, err := domain.NewInteraction(domain.InteractionInput{ID: id, EnvID: "acme", LeadID: "1", Type: domain.InteractionTypeCall,
		Description: "Ligação não realizada: no_answer", CallID: callID, OccurredAt: at})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// A call without a result past its deadline shows the sem retorno badge in
// the list (and the filter finds it) and on its page, whose timeline says
// when the deadline passed; a call still within it, or whose result came
// in time, does not; a late result keeps the deadline's entry before it.
func TestNoResultBadgeAndTimeline(t *testing.T) {
	store := memory.NewStore()
	f := newFixtureOn(t, console.Config{}, store)
	f.signIn(token)
	deadline := f.svc.Calls.ResultDeadline()
	if deadline != domain.DefaultResultDeadline {
		t.Fatalf("the fixture's result deadline: %s", deadline)
	}
	overdue := t0.Add(-deadline)
	putCalls(t, store,
		acceptedCall("silent", domain.CallDelivered, "", overdue),
		acceptedCall("waiting", domain.CallDelivered, "", t0.Add(-deadline+time.Minute)),
		acceptedCall("late", domain.CallNotCompleted, domain.CallReasonNoAnswer, overdue.Add(-time.Hour)),
		result(t, "r-late", "late", t0.Add(-time.Minute)),
		acceptedCall("prompt", domain.CallNotCompleted, domain.CallReasonNoAnswer, overdue.Add(-2*time.Hour)),
		result(t, "r-prompt", "prompt", overdue.Add(-2*time.Hour+time.Minute)),
	)

	list := text(t, f.do("GET", "/console/env/acme/calls", nil))
	row := func(page, id string) string {
		i := strings.Index(page, "<code>"+id+"</code>")
		if i < 0 {
			t.Fatalf("call %s not listed:\n%s", id, page)
		}
		return page[strings.LastIndex(page[:i], "<tr>"):i]
	}
	if r := row(list, "silent"); !strings.Contains(r, `<span class="badge badge-no_result">sem retorno</span>`) {
		t.Errorf("the overdue call's row: %s", r)
	}
	if r := row(list, "waiting"); !strings.Contains(r, `badge-delivered`) {
		t.Errorf("the call within its deadline: %s", r)
	}
	if !strings.Contains(list, `<option value="no_result">sem retorno</option>`) {
		t.Errorf("no sem retorno in the status filter:\n%s", list)
	}
	filtered := text(t, f.do("GET", "/console/env/acme/calls?status=no_result", nil))
	if !strings.Contains(filtered, "<code>silent</code>") || strings.Contains(filtered, "<code>waiting</code>") ||
		strings.Contains(filtered, "<code>late</code>") {
		t.Errorf("the calls filtered by no_result:\n%s", filtered)
	}

	page := func(id string) string {
		res := f.do("GET", "/console/env/acme/calls/"+id, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("call %s: %d", id, res.StatusCode)
		}
		return text(t, res)
	}
	saoPaulo, err := time.LoadLocation(domain.DefaultTimeZone)
	if err != nil {
		t.Fatal(err)
	}
	due := t0.In(saoPaulo).Format("02/01/2006 15:04") // the environment's zone, as Brazilians write it
	silent := page("silent")
	for _, want := range []string{`<span class="badge badge-no_result">sem retorno</span>`, `<li class="ev-no_result">`,
		"<strong>Sem retorno</strong>", "não tinha enviado resultado 2h depois de aceitar a ligação", "<dt>Prazo do resultado</dt>"} {
		if !strings.Contains(silent, want) {
			t.Errorf("the overdue call's page lacks %q:\n%s", want, silent)
		}
	}
	if i := strings.Index(silent, `<li class="ev-no_result">`); i < 0 || !strings.Contains(silent[i:], due) {
		t.Errorf("the deadline's entry does not say when it passed (%s)", due)
	}
	if strings.Contains(page("waiting"), "ev-no_result") || strings.Contains(page("prompt"), "ev-no_result") {
		t.Error("a deadline entry for a call within its deadline, or whose result came in time")
	}
	late := page("late")
	noResult, res := strings.Index(late, `<li class="ev-no_result">`), strings.Index(late, `<li class="ev-result">`)
	if noResult < 0 || res < noResult || !strings.Contains(late, `badge-not_completed`) {
		t.Errorf("a late result: the deadline's entry must come before the result's:\n%s", late)
	}
}
