package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"pgregory.net/rapid"

	"callconnect/adapters/postgres/pgtest"
	"callconnect/domain"
	"callconnect/migrations"
	"callconnect/ports"
)

// phoneKeyVersion is the migration that adds leads.phone_key.
const phoneKeyVersion = 10

// goPhoneKey is the key the service computes for digits read from the phone
// column (no '+': the column has none).
func goPhoneKey(t testing.TB, digits string) string {
	t.Helper()
	p, err := domain.ParsePhone("phone", digits)
	if err != nil {
		t.Fatalf("ParsePhone(%q): %v", digits, err)
	}
	return p.MatchKey()
}

// storedDigits draws what the phone column may hold: any 8 to 15 digits,
// and, more often, the shapes the key rules tell apart (trunk and carrier
// prefixes, 55, area codes with a 0, mobiles with and without their ninth
// digit).
func storedDigits() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.StringMatching(`[0-9]{8,15}`),
		rapid.StringMatching(`(55|0|0[0-9]{2}|550|550[0-9]{2})?[0-9]{2}9?[0-9]{8}`).Filter(func(s string) bool {
			return len(s) >= 8 && len(s) <= 15
		}),
		rapid.StringMatching(`0[0-9]{7,14}`),
		rapid.StringMatching(`55[0-9]{6,13}`),
	)
}

// TestLeadPhoneKeyInSQLIsMatchKey: the migration's lead_phone_key, which
// fills in the keys of rows the service did not write, computes what
// domain.Phone.MatchKey does.
func TestLeadPhoneKeyInSQLIsMatchKey(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	rapid.Check(t, func(rt *rapid.T) {
		phones := rapid.SliceOfN(storedDigits(), 1, 50).Draw(rt, "phones")
		got := sqlPhoneKeys(t, pool, phones)
		for i, d := range phones {
			if want := goPhoneKey(t, d); got[i] != want {
				rt.Fatalf("lead_phone_key(%q) = %q, MatchKey = %q", d, got[i], want)
			}
		}
	})
	// The forms the rules name, each on its own.
	for _, d := range []string{
		"48999476359", "4899476359", "5548999476359", "554899476359", "048999476359", "04899476359",
		"02148999476359", "0214899476359", "55048999476359", "550214899476359", "4833334444",
		"08001234567", "0800123456", "0048999476359", "14155550100", "442079460958", "99476359",
		"5512345678", "555548999476359", "123456789012345", "01148999476359", "02048999476359",
	} {
		if got, want := sqlPhoneKeys(t, pool, []string{d})[0], goPhoneKey(t, d); got != want {
			t.Errorf("lead_phone_key(%q) = %q, MatchKey = %q", d, got, want)
		}
	}
}

func sqlPhoneKeys(t testing.TB, pool *pgxpool.Pool, phones []string) []string {
	t.Helper()
	keys := pgtest.Strings(t, pool, `SELECT lead_phone_key(d) FROM unnest($1::text[]) WITH ORDINALITY AS p(d, n) ORDER BY n`, phones)
	if len(keys) != len(phones) {
		t.Fatalf("lead_phone_key of %d phones: %d keys", len(phones), len(keys))
	}
	return keys
}

// TestPhoneKeyMigrationFillsExistingLeads: the leads stored before the
// migration get the key the service would have written, across several of
// the migration's batches, and the index the lookup needs is ready.
func TestPhoneKeyMigrationFillsExistingLeads(t *testing.T) {
	t.Parallel()
	pool, p := migratedTo(t, versionBefore(t, phoneKeyVersion))
	ctx := t.Context()
	execSQL(t, pool, `INSERT INTO environments (id, name, public_base_url, time_zone)
		VALUES ('env-a', 'A', 'https://a.example.com', 'America/Sao_Paulo'), ('env-b', 'B', 'https://b.example.com', 'America/Sao_Paulo')`)
	// 12 000 leads: 5 000 a batch makes three. Their phones run through
	// every length and prefix: digits of i spread over 8 to 15 digits, some
	// with a leading 0 or 55; every seventh has none.
	execSQL(t, pool, `INSERT INTO leads (env_id, id, name, phone)
		SELECT CASE WHEN i % 2 = 0 THEN 'env-a' ELSE 'env-b' END, 'l' || i, 'Lead ' || i,
		       CASE WHEN i % 7 = 0 THEN NULL
		            ELSE left((CASE i % 5 WHEN 0 THEN '0' WHEN 1 THEN '55' WHEN 2 THEN '0' || (i % 100) ELSE '' END)
		                      || lpad(((i::bigint * 2654435761) % 1000000000000000)::text, 15, '9'), 8 + i % 8)
		       END
		FROM generate_series(1, 12000) AS i`)
	if _, err := p.UpTo(ctx, phoneKeyVersion); err != nil {
		t.Fatalf("up to %d: %v", phoneKeyVersion, err)
	}
	rows, err := pool.Query(ctx, `SELECT id, phone, phone_key FROM leads ORDER BY env_id, id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n, shapes := 0, map[string]bool{}
	for rows.Next() {
		var id string
		var phone, key *string
		if err := rows.Scan(&id, &phone, &key); err != nil {
			t.Fatal(err)
		}
		n++
		switch {
		case phone == nil && key != nil:
			t.Errorf("lead %s without a phone has the key %q", id, *key)
		case phone == nil:
		case key == nil:
			t.Errorf("lead %s (phone %s) has no key", id, *phone)
		default:
			if want := goPhoneKey(t, *phone); *key != want {
				t.Errorf("lead %s (phone %s): key %q, want %q", id, *phone, *key, want)
			}
			shapes[keyShape(*phone, *key)] = true
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 12000 {
		t.Errorf("%d leads after the migration, want 12000", n)
	}
	// The rows did cover the rules, or the comparison says little.
	for _, shape := range []string{"national", "trunk stripped", "55 stripped", "foreign", "as given", "ninth digit added"} {
		if !shapes[shape] {
			t.Errorf("no lead's key was %s", shape)
		}
	}
	if valid := pgtest.Strings(t, pool, `SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'leads_env_phone_key'::regclass`); len(valid) != 1 || valid[0] != "true" {
		t.Errorf("index leads_env_phone_key: valid %q, want true", valid)
	}
}

// keyShape says which rule made key from phone, roughly.
func keyShape(phone, key string) string {
	switch {
	case strings.HasPrefix(key, "+"):
		return "foreign"
	case key == phone && (len(phone) == 10 || len(phone) == 11):
		return "national"
	case key == phone:
		return "as given"
	case len(key) == 11 && key[2] == '9' && strings.HasSuffix(phone, key[:2]+key[3:]):
		return "ninth digit added"
	case strings.HasPrefix(phone, "55"):
		return "55 stripped"
	case strings.HasPrefix(phone, "0"):
		return "trunk stripped"
	}
	return "other"
}

// TestPhoneKeyOfLeadsWrittenWithoutIt: a writer that knows nothing of
// phone_key (a release before it, a hand-written statement) leaves no lead
// without its key or with a stale one; the key the service writes, a
// foreign number's above all, stands.
func TestPhoneKeyOfLeadsWrittenWithoutIt(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	s := newStore(t, pool, testKey)
	ctx := t.Context()
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "env-a", Name: "A", PublicBaseURL: "https://a.example.com", TimeZone: "America/Sao_Paulo"})
	if err != nil {
		t.Fatal(err)
	}
	us, err := domain.NewLead(domain.LeadInput{EnvID: "env-a", ID: "us", Name: "US", Phone: "+1 (415) 555-0100"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutEnvironment(ctx, env); err != nil {
			return err
		}
		return r.PutLead(ctx, us)
	}); err != nil {
		t.Fatal(err)
	}
	key := func(id string) string {
		t.Helper()
		got := pgtest.Strings(t, pool, `SELECT coalesce(phone_key, 'NULL') FROM leads WHERE env_id = 'env-a' AND id = $1`, id)
		if len(got) != 1 {
			t.Fatalf("lead %s: %d rows", id, len(got))
		}
		return got[0]
	}
	for _, step := range []struct {
		what, sql, id, want string
	}{
		{"the service's key of a foreign number", ``, "us", "+14155550100"},
		{"another column changed", `UPDATE leads SET name = 'United States' WHERE id = 'us'`, "us", "+14155550100"},
		{"the phone written again, unchanged, as an older release does",
			`INSERT INTO leads (env_id, id, name, phone) VALUES ('env-a', 'us', 'US', '14155550100')
			 ON CONFLICT (env_id, id) DO UPDATE SET name = excluded.name, phone = excluded.phone`, "us", "+14155550100"},
		{"inserted without a key", `INSERT INTO leads (env_id, id, name, phone) VALUES ('env-a', 'old', 'Old', '048999476359')`, "old", "48999476359"},
		{"the phone changed, the key not", `UPDATE leads SET phone = '4833334444' WHERE id = 'old'`, "old", "4833334444"},
		{"changed by an upsert that sets no key",
			`INSERT INTO leads (env_id, id, name, phone) VALUES ('env-a', 'old', 'Old', '4899476359')
			 ON CONFLICT (env_id, id) DO UPDATE SET phone = excluded.phone`, "old", "48999476359"},
		{"the phone removed", `UPDATE leads SET phone = NULL WHERE id = 'old'`, "old", "NULL"},
		{"a key without a phone", `UPDATE leads SET phone_key = '48999476359' WHERE id = 'old'`, "old", "NULL"},
	} {
		if step.sql != "" {
			execSQL(t, pool, step.sql)
		}
		if got := key(step.id); got != step.want {
			t.Errorf("%s: lead %s has the key %q, want %q", step.what, step.id, got, step.want)
		}
	}
}

func execSQL(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// versionBefore is the newest migration older than version.
func versionBefore(t testing.TB, version int64) int64 {
	t.Helper()
	files, err := migrations.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var before int64
	for _, f := range files {
		var v int64
		if _, err := fmt.Sscanf(f.Name(), "%05d_", &v); err == nil && v < version && v > before {
			before = v
		}
	}
	if before == 0 {
		t.Fatalf("no migration before %d", version)
	}
	return before
}
