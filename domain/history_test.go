package domain_test

import (
	"strings"
	"testing"
	"time"

	"callconnect/domain"
)

const sampleSHA = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

func validInteraction() domain.InteractionInput {
	due := time.Date(2024, 3, 19, 14, 0, 0, 0, time.FixedZone("BRT", -3*3600))
	return domain.InteractionInput{
		ID: "i1", EnvID: "acme", LeadID: "lead1", Type: "L", Description: "Ligação realizada\ncom sucesso",
		Task: &domain.Task{Name: "Ligação externa", DueAt: &due, Status: "C", Priority: "A", ResponsibleType: "G",
			ResponsibleID: "6065", Reminder: true},
		CallID: "c1", RecordingID: "r1", RecordingSHA256: sampleSHA,
		OccurredAt: time.Date(2024, 3, 19, 17, 5, 0, 0, time.UTC),
	}
}

func TestNewInteraction(t *testing.T) {
	in := validInteraction()
	it, err := domain.NewInteraction(in)
	if err != nil {
		t.Fatal(err)
	}
	if it.ID() != "i1" || it.EnvID() != "acme" || it.LeadID() != "lead1" || it.Type() != "L" ||
		it.Description() != in.Description || it.CallID() != "c1" || it.RecordingID() != "r1" ||
		it.RecordingSHA256() != sampleSHA || !it.OccurredAt().Equal(in.OccurredAt) {
		t.Errorf("accessors: %+v", it)
	}
	// The task is copied in and out.
	*in.Task.DueAt = time.Time{}
	in.Task.Name = "changed"
	task := it.Task()
	if task.Name != "Ligação externa" || task.DueAt.IsZero() {
		t.Fatalf("the interaction shares the caller's task: %+v", task)
	}
	task.Name = "changed"
	*task.DueAt = time.Time{}
	if it.Task().Name != "Ligação externa" || it.Task().DueAt.IsZero() {
		t.Fatal("Task() exposes the interaction's task")
	}
	back, err := domain.NewInteraction(it.Input())
	if err != nil || back.Fingerprint() != it.Fingerprint() {
		t.Errorf("Input round trip: %v", err)
	}

	minimal := domain.InteractionInput{ID: "i2", EnvID: "acme", LeadID: "lead1", Type: "L", OccurredAt: time.Unix(1, 0)}
	if it, err := domain.NewInteraction(minimal); err != nil || it.Task() != nil {
		t.Errorf("minimal interaction: %v", err)
	}

	refusals := []struct {
		field  string
		change func(*domain.InteractionInput)
	}{
		{"id", func(in *domain.InteractionInput) { in.ID = "" }},
		{"env", func(in *domain.InteractionInput) { in.EnvID = "a b" }},
		{"lead_id", func(in *domain.InteractionInput) { in.LeadID = "" }},
		{"type", func(in *domain.InteractionInput) { in.Type = "E" }},
		{"type", func(in *domain.InteractionInput) { in.Type = "" }},
		{"description", func(in *domain.InteractionInput) { in.Description = strings.Repeat("d", 10001) }},
		{"description", func(in *domain.InteractionInput) { in.Description = "a\x00" }},
		{"task.name", func(in *domain.InteractionInput) { in.Task.Name = strings.Repeat("n", 201) }},
		{"task.status", func(in *domain.InteractionInput) { in.Task.Status = "CCC" }},
		{"task.priority", func(in *domain.InteractionInput) { in.Task.Priority = "1" }},
		{"task.responsible_type", func(in *domain.InteractionInput) { in.Task.ResponsibleType = "é" }},
		{"task.responsible_id", func(in *domain.InteractionInput) { in.Task.ResponsibleID = "a/b" }},
		{"call_id", func(in *domain.InteractionInput) { in.CallID = "a b" }},
		{"recording_id", func(in *domain.InteractionInput) { in.RecordingID = "a/b" }},
		{"recording_sha256", func(in *domain.InteractionInput) { in.RecordingSHA256 = "" }},
		{"recording_sha256", func(in *domain.InteractionInput) { in.RecordingID = "" }},
		{"recording_sha256", func(in *domain.InteractionInput) { in.RecordingSHA256 = strings.ToUpper(sampleSHA) }},
		{"recording_sha256", func(in *domain.InteractionInput) { in.RecordingSHA256 = sampleSHA[:63] }},
		{"occurred_at", func(in *domain.InteractionInput) { in.OccurredAt = time.Time{} }},
	}
	for _, tt := range refusals {
		in := validInteraction()
		tt.change(&in)
		_, err := domain.NewInteraction(in)
		wantInvalid(t, err, tt.field)
	}
}

func TestInteractionFingerprint(t *testing.T) {
	base, err := domain.NewInteraction(validInteraction())
	if err != nil {
		t.Fatal(err)
	}
	fp := base.Fingerprint()
	if len(fp) != 64 {
		t.Fatalf("fingerprint %q", fp)
	}
	same := []func(*domain.InteractionInput){
		func(in *domain.InteractionInput) { in.ID = "another-id" },
		func(in *domain.InteractionInput) { in.OccurredAt = in.OccurredAt.Add(time.Hour) },
		func(in *domain.InteractionInput) { d := in.Task.DueAt.UTC(); in.Task.DueAt = &d }, // same instant
	}
	for i, change := range same {
		in := validInteraction()
		change(&in)
		if it, _ := domain.NewInteraction(in); it.Fingerprint() != fp {
			t.Errorf("same result %d has another fingerprint", i)
		}
	}
	different := map[string]func(*domain.InteractionInput){
		"env":              func(in *domain.InteractionInput) { in.EnvID = "other" },
		"lead":             func(in *domain.InteractionInput) { in.LeadID = "lead2" },
		"description":      func(in *domain.InteractionInput) { in.Description += "." },
		"no task":          func(in *domain.InteractionInput) { in.Task = nil },
		"empty task":       func(in *domain.InteractionInput) { in.Task = &domain.Task{} },
		"task name":        func(in *domain.InteractionInput) { in.Task.Name = "Outra" },
		"due":              func(in *domain.InteractionInput) { d := in.Task.DueAt.Add(time.Minute); in.Task.DueAt = &d },
		"no due":           func(in *domain.InteractionInput) { in.Task.DueAt = nil },
		"status":           func(in *domain.InteractionInput) { in.Task.Status = "P" },
		"priority":         func(in *domain.InteractionInput) { in.Task.Priority = "B" },
		"responsible type": func(in *domain.InteractionInput) { in.Task.ResponsibleType = "C" },
		"responsible":      func(in *domain.InteractionInput) { in.Task.ResponsibleID = "6066" },
		"reminder":         func(in *domain.InteractionInput) { in.Task.Reminder = false },
		"call":             func(in *domain.InteractionInput) { in.CallID = "c2" },
		"no call":          func(in *domain.InteractionInput) { in.CallID = "" },
		"recording":        func(in *domain.InteractionInput) { in.RecordingSHA256 = strings.Repeat("0", 64) },
		"no recording":     func(in *domain.InteractionInput) { in.RecordingID, in.RecordingSHA256 = "", "" },
		// Length-prefixed fields: moving text from one field to the next changes the fingerprint.
		"shifted text": func(in *domain.InteractionInput) {
			in.LeadID, in.Description = "lead1L", "igação realizada\ncom sucesso"
		},
	}
	seen := map[string]string{fp: "base"}
	for name, change := range different {
		in := validInteraction()
		change(&in)
		it, err := domain.NewInteraction(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if other, dup := seen[it.Fingerprint()]; dup {
			t.Errorf("%s has the fingerprint of %s", name, other)
		}
		seen[it.Fingerprint()] = name
	}
}

func TestNewRecording(t *testing.T) {
	in := domain.RecordingInput{ID: "r1", EnvID: "acme", LeadID: "lead1", CallID: "c1", SHA256: sampleSHA, Size: 1234,
		ContentType: domain.AudioMPEG, CreatedAt: time.Unix(100, 0)}
	r, err := domain.NewRecording(in)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID() != "r1" || r.EnvID() != "acme" || r.LeadID() != "lead1" || r.CallID() != "c1" || r.SHA256() != sampleSHA ||
		r.Size() != 1234 || r.ContentType() != "audio/mpeg" || !r.CreatedAt().Equal(time.Unix(100, 0)) || r.Input() != in {
		t.Errorf("accessors: %+v", r)
	}
	noCall := in
	noCall.CallID = ""
	if _, err := domain.NewRecording(noCall); err != nil {
		t.Errorf("a recording without a call: %v", err)
	}
	refusals := []struct {
		field  string
		change func(*domain.RecordingInput)
	}{
		{"id", func(in *domain.RecordingInput) { in.ID = "" }},
		{"env", func(in *domain.RecordingInput) { in.EnvID = "" }},
		{"lead_id", func(in *domain.RecordingInput) { in.LeadID = "" }},
		{"call_id", func(in *domain.RecordingInput) { in.CallID = "a b" }},
		{"sha256", func(in *domain.RecordingInput) { in.SHA256 = "abc" }},
		{"sha256", func(in *domain.RecordingInput) { in.SHA256 = strings.Repeat("g", 64) }},
		{"size", func(in *domain.RecordingInput) { in.Size = 0 }},
		{"content_type", func(in *domain.RecordingInput) { in.ContentType = "text/plain" }},
		{"content_type", func(in *domain.RecordingInput) { in.ContentType = "" }},
		{"created_at", func(in *domain.RecordingInput) { in.CreatedAt = time.Time{} }},
	}
	for _, tt := range refusals {
		bad := in
		tt.change(&bad)
		_, err := domain.NewRecording(bad)
		wantInvalid(t, err, tt.field)
	}
}
