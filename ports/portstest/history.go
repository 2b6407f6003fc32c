package portstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// historyAt has a microsecond part and a zone other than UTC.
var historyAt = time.Date(2026, 3, 19, 14, 5, 0, 654321000, saoPaulo)

const (
	audioA = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b"
	audioB = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	audioC = "0000000000000000000000000000000000000000000000000000000000000001"
)

func newInteraction(t *testing.T, in domain.InteractionInput) domain.Interaction {
	t.Helper()
	if in.Type == "" {
		in.Type = domain.InteractionTypeCall
	}
	i, err := domain.NewInteraction(in)
	if err != nil {
		t.Fatalf("NewInteraction(%+v): %v", in, err)
	}
	return i
}

// fullInteraction has a task with every field, a call and a recording.
func fullInteraction(t *testing.T, envID, leadID, id string, at time.Time) domain.Interaction {
	t.Helper()
	due := time.Date(2026, 3, 20, 9, 0, 0, 1000, manaus)
	return newInteraction(t, domain.InteractionInput{ID: id, EnvID: envID, LeadID: leadID,
		Description: "Cliente atendeu.\nPediu retorno amanhã às 9h\t(manhã).",
		Task: &domain.Task{Name: "Retornar ligação", DueAt: &due, Status: domain.TaskStatusDone, Priority: "A",
			ResponsibleType: "C", ResponsibleID: "2", Reminder: true},
		CallID: "c1", RecordingID: "rec-1", RecordingSHA256: audioA, OccurredAt: at})
}

// bareTask is a task with nothing set: not the same as no task.
func bareTaskInteraction(t *testing.T, envID, leadID, id string, at time.Time) domain.Interaction {
	t.Helper()
	return newInteraction(t, domain.InteractionInput{ID: id, EnvID: envID, LeadID: leadID,
		Description: "Sem resposta", Task: &domain.Task{}, OccurredAt: at})
}

// plainInteraction has no description, task, call or recording.
func plainInteraction(t *testing.T, envID, leadID, id string, at time.Time) domain.Interaction {
	t.Helper()
	return newInteraction(t, domain.InteractionInput{ID: id, EnvID: envID, LeadID: leadID, OccurredAt: at})
}

func interactionString(i domain.Interaction) string {
	in := i.Input()
	var b strings.Builder
	fmt.Fprintf(&b, "{env:%q id:%q lead:%q type:%q description:%q task:", in.EnvID, in.ID, in.LeadID, in.Type, in.Description)
	if t := in.Task; t == nil {
		b.WriteString("nil")
	} else {
		fmt.Fprintf(&b, "{name:%q due:%s status:%q priority:%q responsible:%q/%q reminder:%t}",
			t.Name, timeString(t.DueAt), t.Status, t.Priority, t.ResponsibleType, t.ResponsibleID, t.Reminder)
	}
	fmt.Fprintf(&b, " call:%q recording:%q sha256:%q occurred_at:%s}", in.CallID, in.RecordingID, in.RecordingSHA256, instant(in.OccurredAt))
	return b.String()
}

func wantInteractions(t *testing.T, what string, got []domain.Interaction, want ...domain.Interaction) {
	t.Helper()
	wantList(t, what, interactionString, got, want)
}

func listInteractions(t *testing.T, s ports.Store, envID, leadID string) []domain.Interaction {
	t.Helper()
	var list []domain.Interaction
	read(t, s, func(ctx context.Context, r ports.Repositories) (err error) {
		list, err = r.ListInteractions(ctx, envID, leadID)
		return err
	})
	return list
}

func hasInteraction(t *testing.T, s ports.Store, envID, leadID, fingerprint string) bool {
	t.Helper()
	var ok bool
	read(t, s, func(ctx context.Context, r ports.Repositories) (err error) {
		ok, err = r.HasInteraction(ctx, envID, leadID, fingerprint)
		return err
	})
	return ok
}

func testInteractionRoundTrip(t *testing.T, s ports.Store) {
	full := fullInteraction(t, "env-1", "l1", "i1", historyAt.Add(2*time.Second))
	bare := bareTaskInteraction(t, "env-1", "l1", "i2", historyAt.Add(time.Second))
	plain := plainInteraction(t, "env-1", "l1", "i3", historyAt)
	put(t, s, environment(t, "env-1"), plain, full, bare)
	got := listInteractions(t, s, "env-1", "l1")
	wantInteractions(t, "ListInteractions", got, full, bare, plain)
	if len(got) == 3 {
		if task := got[1].Task(); task == nil || task.DueAt != nil {
			t.Errorf("a task without fields came back as %+v, want a task with no due time", task)
		}
		if got[2].Task() != nil {
			t.Errorf("an interaction without a task came back with %+v", got[2].Task())
		}
		// What comes back says the same thing: the same fingerprint.
		for n, want := range []domain.Interaction{full, bare, plain} {
			if got[n].Fingerprint() != want.Fingerprint() {
				t.Errorf("interaction %s: the fingerprint changed in storage", want.ID())
			}
		}
	}
}

func testInteractionOrder(t *testing.T, s ports.Store) {
	// Ties in time are broken by id descending, in byte order: "c", "a", "B".
	at := historyAt
	tieA := plainInteraction(t, "env-1", "l1", "a", at.In(time.UTC))
	tieB := plainInteraction(t, "env-1", "l1", "B", at.In(manaus))
	tieC := plainInteraction(t, "env-1", "l1", "c", at)
	later := plainInteraction(t, "env-1", "l1", "0", at.Add(time.Microsecond))
	earlier := fullInteraction(t, "env-1", "l1", "z", at.Add(-time.Hour))
	put(t, s, environment(t, "env-1"), tieA, earlier, tieC, later, tieB)
	wantInteractions(t, "ListInteractions, newest first, then by id descending", listInteractions(t, s, "env-1", "l1"),
		later, tieC, tieA, tieB, earlier)
}

func testInteractionIsolation(t *testing.T, s ports.Store) {
	a1 := fullInteraction(t, "env-a", "l1", "i1", historyAt)
	a2 := plainInteraction(t, "env-a", "l2", "i2", historyAt)
	b1 := bareTaskInteraction(t, "env-b", "l1", "i1", historyAt) // same ids as a1, in another environment
	put(t, s, environment(t, "env-a"), environment(t, "env-b"), a1, a2, b1)
	wantInteractions(t, "ListInteractions(env-a, l1)", listInteractions(t, s, "env-a", "l1"), a1)
	wantInteractions(t, "ListInteractions(env-a, l2)", listInteractions(t, s, "env-a", "l2"), a2)
	wantInteractions(t, "ListInteractions(env-b, l1)", listInteractions(t, s, "env-b", "l1"), b1)
	wantInteractions(t, "ListInteractions of a lead without history", listInteractions(t, s, "env-a", "l3"))
	wantInteractions(t, "ListInteractions of a missing environment", listInteractions(t, s, "env-missing", "l1"))

	// An id the environment already has is refused, and changes nothing.
	dup := plainInteraction(t, "env-a", "l1", "i1", historyAt.Add(time.Hour))
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.AddInteraction(ctx, dup) })
	if err == nil {
		t.Error("AddInteraction with an id the environment already has succeeded")
	}
	wantInteractions(t, "ListInteractions(env-a, l1) after the refused duplicate", listInteractions(t, s, "env-a", "l1"), a1)

	orphan := plainInteraction(t, "env-missing", "l1", "i1", historyAt)
	err = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.AddInteraction(ctx, orphan) })
	wantNotFound(t, "AddInteraction in a missing environment", err)
}

func testHasInteraction(t *testing.T, s ports.Store) {
	full := fullInteraction(t, "env-a", "l1", "i1", historyAt)
	put(t, s, environment(t, "env-a"), environment(t, "env-b"), full)
	// The same result posted again later, under another id: the same fingerprint.
	repeat := fullInteraction(t, "env-a", "l1", "i-repeat", historyAt.Add(time.Hour))
	if repeat.Fingerprint() != full.Fingerprint() {
		t.Fatal("fixture: a repeat has another fingerprint")
	}
	if !hasInteraction(t, s, "env-a", "l1", repeat.Fingerprint()) {
		t.Error("HasInteraction of a recorded result: false")
	}
	for _, c := range []struct{ env, lead, fp, what string }{
		{"env-a", "l1", plainInteraction(t, "env-a", "l1", "x", historyAt).Fingerprint(), "another result"},
		{"env-a", "l2", fullInteraction(t, "env-a", "l2", "x", historyAt).Fingerprint(), "another lead"},
		{"env-a", "l2", full.Fingerprint(), "the fingerprint asked of another lead"},
		{"env-b", "l1", full.Fingerprint(), "the fingerprint asked in another environment"},
		{"env-a", "l1", "", "an empty fingerprint"},
	} {
		if hasInteraction(t, s, c.env, c.lead, c.fp) {
			t.Errorf("HasInteraction of %s: true", c.what)
		}
	}

	// A rolled-back interaction is neither listed nor found.
	gone := bareTaskInteraction(t, "env-a", "l1", "i-gone", historyAt)
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.AddInteraction(ctx, gone); err != nil {
			return err
		}
		if ok, err := r.HasInteraction(ctx, "env-a", "l1", gone.Fingerprint()); err != nil || !ok {
			t.Errorf("HasInteraction in the writing Tx: %t, %v; want its own write found", ok, err)
		}
		return errAbort
	})
	if err == nil {
		t.Fatal("the aborted Tx committed")
	}
	if hasInteraction(t, s, "env-a", "l1", gone.Fingerprint()) {
		t.Error("HasInteraction finds a rolled-back interaction")
	}
	wantInteractions(t, "ListInteractions after a rollback", listInteractions(t, s, "env-a", "l1"), full)
}

// callInteraction belongs to callID ("" for none) and has recordingID as its
// recording ("" for none).
func callInteraction(t *testing.T, envID, leadID, id, callID, recordingID string, at time.Time) domain.Interaction {
	t.Helper()
	in := domain.InteractionInput{ID: id, EnvID: envID, LeadID: leadID, CallID: callID, RecordingID: recordingID, OccurredAt: at}
	if recordingID != "" {
		in.RecordingSHA256 = audioA
	}
	return newInteraction(t, in)
}

func latestCallRecording(t *testing.T, s ports.Store, envID, leadID, callID string) (id string, err error) {
	t.Helper()
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		id, err = r.LatestCallRecording(ctx, envID, leadID, callID)
		return nil
	})
	return id, err
}

// testLatestCallRecording: the recording of the newest interaction of the
// call that has one, in ListInteractions' order, on the lead asked only.
func testLatestCallRecording(t *testing.T, s ports.Store) {
	at := historyAt
	put(t, s, environment(t, "env-a"), environment(t, "env-b"),
		// Call c1 on lead l1: two recordings at the same instant (the id
		// breaks the tie, descending in byte order: "a" before "B"), an
		// older one, and a newer entry without a recording.
		callInteraction(t, "env-a", "l1", "B", "c1", "rec-tie-B", at.In(manaus)),
		callInteraction(t, "env-a", "l1", "a", "c1", "rec-tie-a", at.In(time.UTC)),
		callInteraction(t, "env-a", "l1", "z", "c1", "rec-old", at.Add(-time.Hour)),
		callInteraction(t, "env-a", "l1", "i-later", "c1", "", at.Add(time.Minute)),
		// Newer recordings that are not c1's on l1: another call of the
		// lead, no call at all, c1's id on another lead, another environment.
		callInteraction(t, "env-a", "l1", "i-c2", "c2", "rec-c2", at.Add(2*time.Hour)),
		callInteraction(t, "env-a", "l1", "i-none", "", "rec-none", at.Add(2*time.Hour)),
		callInteraction(t, "env-a", "l2", "i-l2", "c1", "rec-l2", at.Add(2*time.Hour)),
		callInteraction(t, "env-b", "l1", "i-b", "c1", "rec-b", at.Add(2*time.Hour)),
		// Call c3 on lead l1 has entries, none with a recording.
		callInteraction(t, "env-a", "l1", "i-c3", "c3", "", at.Add(3*time.Hour)),
	)
	for _, c := range []struct{ env, lead, call, want string }{
		{"env-a", "l1", "c1", "rec-tie-a"},
		{"env-a", "l1", "c2", "rec-c2"},
		{"env-a", "l2", "c1", "rec-l2"},
		{"env-b", "l1", "c1", "rec-b"},
	} {
		got, err := latestCallRecording(t, s, c.env, c.lead, c.call)
		if err != nil || got != c.want {
			t.Errorf("LatestCallRecording(%s, %s, %s): %q, %v; want %q", c.env, c.lead, c.call, got, err, c.want)
		}
	}
	for _, c := range []struct{ env, lead, call, what string }{
		{"env-a", "l1", "c3", "a call whose entries have no recording"},
		{"env-a", "l1", "c9", "a call without entries"},
		{"env-a", "l1", "", "no call"},
		{"env-a", "l2", "c2", "a call of another lead"},
		{"env-b", "l2", "c1", "a lead of another environment"},
		{"env-missing", "l1", "c1", "a missing environment"},
	} {
		got, err := latestCallRecording(t, s, c.env, c.lead, c.call)
		if got != "" {
			t.Errorf("LatestCallRecording of %s: %q, want none", c.what, got)
		}
		wantNotFound(t, "LatestCallRecording of "+c.what, err)
	}

	// A newer recording of the call is found in the Tx that adds it, and
	// not once that Tx rolled back.
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.AddInteraction(ctx, callInteraction(t, "env-a", "l1", "i-gone", "c1", "rec-gone", at.Add(time.Hour))); err != nil {
			return err
		}
		if got, err := r.LatestCallRecording(ctx, "env-a", "l1", "c1"); err != nil || got != "rec-gone" {
			t.Errorf("LatestCallRecording in the writing Tx: %q, %v; want its own write rec-gone", got, err)
		}
		return errAbort
	})
	if err == nil {
		t.Fatal("the aborted Tx committed")
	}
	if got, err := latestCallRecording(t, s, "env-a", "l1", "c1"); err != nil || got != "rec-tie-a" {
		t.Errorf("LatestCallRecording after a rollback: %q, %v; want rec-tie-a", got, err)
	}
}

func newRecording(t *testing.T, in domain.RecordingInput) domain.Recording {
	t.Helper()
	if in.ContentType == "" {
		in.ContentType = domain.AudioMPEG
	}
	if in.Size == 0 {
		in.Size = 20 << 20
	}
	if in.CreatedAt.IsZero() {
		in.CreatedAt = historyAt
	}
	r, err := domain.NewRecording(in)
	if err != nil {
		t.Fatalf("NewRecording(%+v): %v", in, err)
	}
	return r
}

func wantRecording(t *testing.T, what string, got, want domain.Recording) {
	t.Helper()
	str := func(r domain.Recording) string {
		in := r.Input()
		in.CreatedAt = time.Time{}
		return fmt.Sprintf("%+v created at %s", in, instant(r.CreatedAt()))
	}
	if g, w := str(got), str(want); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func getRecording(t *testing.T, s ports.Store, envID, id string) (rec domain.Recording, err error) {
	t.Helper()
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		rec, err = r.GetRecording(ctx, envID, id)
		return nil
	})
	return rec, err
}

func recordingsWithSHA256(t *testing.T, s ports.Store, sha string) int {
	t.Helper()
	var n int
	read(t, s, func(ctx context.Context, r ports.Repositories) (err error) {
		n, err = r.RecordingsWithSHA256(ctx, sha)
		return err
	})
	return n
}

func testRecordingRoundTrip(t *testing.T, s ports.Store) {
	withCall := newRecording(t, domain.RecordingInput{ID: "rec-1", EnvID: "env-1", LeadID: "l1", CallID: "c1",
		SHA256: audioA, Size: 50 << 20, ContentType: domain.AudioWAV, CreatedAt: historyAt.In(manaus)})
	without := newRecording(t, domain.RecordingInput{ID: "rec-2", EnvID: "env-1", LeadID: "l1", SHA256: audioB, Size: 1})
	put(t, s, environment(t, "env-1"), environment(t, "env-2"), withCall, without)
	for _, want := range []domain.Recording{withCall, without} {
		got, err := getRecording(t, s, "env-1", want.ID())
		if err != nil {
			t.Fatalf("GetRecording(%s): %v", want.ID(), err)
		}
		wantRecording(t, "GetRecording("+want.ID()+")", got, want)
	}
	for _, c := range []struct{ env, id, what string }{
		{"env-2", "rec-1", "another environment's recording"},
		{"env-1", "missing", "a missing recording"},
		{"env-missing", "rec-1", "a recording of a missing environment"},
	} {
		_, err := getRecording(t, s, c.env, c.id)
		wantNotFound(t, "GetRecording of "+c.what, err)
	}
	orphan := newRecording(t, domain.RecordingInput{ID: "rec-3", EnvID: "env-missing", LeadID: "l1", SHA256: audioA})
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutRecording(ctx, orphan) })
	wantNotFound(t, "PutRecording in a missing environment", err)
}

func testRecordingsWithSHA256(t *testing.T, s ports.Store) {
	put(t, s, environment(t, "env-a"), environment(t, "env-b"),
		newRecording(t, domain.RecordingInput{ID: "r1", EnvID: "env-a", LeadID: "l1", SHA256: audioA}),
		newRecording(t, domain.RecordingInput{ID: "r1", EnvID: "env-b", LeadID: "l9", SHA256: audioA}),
		newRecording(t, domain.RecordingInput{ID: "r2", EnvID: "env-b", LeadID: "l9", CallID: "c2", SHA256: audioA}),
		newRecording(t, domain.RecordingInput{ID: "r3", EnvID: "env-b", LeadID: "l9", SHA256: audioB}),
	)
	for sha, want := range map[string]int{audioA: 3, audioB: 1, audioC: 0, strings.ToUpper(audioA): 0} {
		if got := recordingsWithSHA256(t, s, sha); got != want {
			t.Errorf("RecordingsWithSHA256(%s…): got %d, want %d (across environments)", sha[:8], got, want)
		}
	}
	// A rolled-back recording does not count.
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutRecording(ctx, newRecording(t, domain.RecordingInput{ID: "r9", EnvID: "env-a", LeadID: "l1", SHA256: audioC})); err != nil {
			return err
		}
		return errAbort
	})
	if err == nil {
		t.Fatal("the aborted Tx committed")
	}
	if got := recordingsWithSHA256(t, s, audioC); got != 0 {
		t.Errorf("RecordingsWithSHA256 after a rollback: %d, want 0", got)
	}
}

func referencedAudio(t *testing.T, s ports.Store, shas ...string) []string {
	t.Helper()
	var refs []string
	read(t, s, func(ctx context.Context, r ports.Repositories) (err error) {
		refs, err = r.ReferencedAudio(ctx, shas)
		return err
	})
	slices.Sort(refs)
	return refs
}

// testReferencedAudio: the contents of a batch that some recording has,
// across environments, each once; what a recording no longer has, or a
// rolled-back one never had, is not referenced.
func testReferencedAudio(t *testing.T, s ports.Store) {
	put(t, s, environment(t, "env-a"), environment(t, "env-b"),
		newRecording(t, domain.RecordingInput{ID: "r1", EnvID: "env-a", LeadID: "l1", SHA256: audioA}),
		newRecording(t, domain.RecordingInput{ID: "r1", EnvID: "env-b", LeadID: "l9", SHA256: audioA}),
		newRecording(t, domain.RecordingInput{ID: "r2", EnvID: "env-b", LeadID: "l9", CallID: "c2", SHA256: audioA}),
		newRecording(t, domain.RecordingInput{ID: "r3", EnvID: "env-b", LeadID: "l9", SHA256: audioB}),
	)
	wantRefs := func(what string, got []string, want ...string) {
		t.Helper()
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("ReferencedAudio %s: got %q, want %q", what, got, want)
		}
	}
	wantRefs("of a batch with duplicates and an unknown content",
		referencedAudio(t, s, audioA, audioC, audioB, audioA, strings.ToUpper(audioA)), audioA, audioB)
	wantRefs("of an unknown content", referencedAudio(t, s, audioC))
	wantRefs("of nothing", referencedAudio(t, s))

	// A batch the size of the sweep's, the one referenced content last.
	batch := make([]string, 0, 500)
	for i := range cap(batch) - 1 {
		batch = append(batch, fmt.Sprintf("%064x", i+2))
	}
	wantRefs("of a batch of 500", referencedAudio(t, s, append(batch, audioB)...), audioB)

	// A transaction sees its own recording; once rolled back, it is gone.
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutRecording(ctx, newRecording(t, domain.RecordingInput{ID: "r9", EnvID: "env-a", LeadID: "l1", SHA256: audioC})); err != nil {
			return err
		}
		refs, err := r.ReferencedAudio(ctx, []string{audioC, audioB})
		if err != nil {
			return err
		}
		slices.Sort(refs)
		wantRefs("inside the Tx that wrote a recording", refs, audioB, audioC)
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("the aborted Tx: %v", err)
	}
	wantRefs("after a rollback", referencedAudio(t, s, audioC))

	// A recording replaced with other content no longer refers to the old.
	put(t, s, newRecording(t, domain.RecordingInput{ID: "r3", EnvID: "env-b", LeadID: "l9", SHA256: audioC}))
	wantRefs("after its only recording changed content", referencedAudio(t, s, audioA, audioB, audioC), audioA, audioC)
}

// testLockRecordingContent: the content lock is taken in a transaction, is
// refused in a read, and makes a second holder wait for the first to end.
func testLockRecordingContent(t *testing.T, h Harness) {
	s := h.Store
	ctx := t.Context()
	if err := s.Read(ctx, func(ctx context.Context, r ports.Repositories) error { return r.LockRecordingContent(ctx, audioA) }); err == nil {
		t.Error("LockRecordingContent inside Read must be refused")
	}
	held := make(chan struct{})
	release := make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- s.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
			if err := r.LockRecordingContent(ctx, audioA); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	second := make(chan time.Time, 1)
	secondDone := make(chan error, 1)
	secondEnded := make(chan struct{})
	go func() {
		defer close(secondEnded)
		secondDone <- s.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
			err := r.LockRecordingContent(ctx, audioA)
			second <- time.Now()
			return err
		})
	}()
	awaitLockWaiter(t, h, "the second holder of the same content lock", secondEnded)
	released := time.Now()
	close(release)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	if got := <-second; got.Before(released) {
		t.Error("a second holder of the same content lock did not wait for the first")
	}
	if err := <-secondDone; err != nil {
		t.Fatalf("the second holder's transaction: %v", err)
	}
}
