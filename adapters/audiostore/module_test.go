package audiostore_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"callconnect/adapters/audiostore"
	"callconnect/ports"
)

func TestModuleChoosesTheFilesystemByDefault(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "recordings")
	var store ports.AudioStore
	app := fxtest.New(t, fx.Supply(audiostore.Config{Dir: dir}, slog.New(slog.DiscardHandler)), audiostore.Module, fx.Populate(&store))
	app.RequireStart()
	defer app.RequireStop()
	fs, ok := store.(*audiostore.FS)
	if !ok || fs.Root() != dir {
		t.Fatalf("store = %#v; want *audiostore.FS under %s", store, dir)
	}
	b := content(1000, 1)
	put(t, store, b)
	wantStored(t, store, b)
}

func TestModuleChoosesS3WhenConfigured(t *testing.T) {
	var store ports.AudioStore
	cfg := audiostore.Config{Dir: t.TempDir(), S3: s3Config(newFakeS3(t, nil), "recordings")}
	app := fxtest.New(t, fx.Supply(cfg, slog.New(slog.DiscardHandler)), audiostore.Module, fx.Populate(&store))
	app.RequireStart() // creates the bucket
	defer app.RequireStop()
	if _, ok := store.(*audiostore.S3); !ok {
		t.Fatalf("store = %T; want *audiostore.S3", store)
	}
	var upkeep audiostore.Store
	app2 := fxtest.New(t, fx.Supply(cfg, slog.New(slog.DiscardHandler)), audiostore.Module, fx.Populate(&upkeep))
	app2.RequireStart()
	defer app2.RequireStop()
	if err := upkeep.Check(t.Context()); err != nil {
		t.Errorf("Check: %v", err)
	}
	b := content(1000, 2)
	put(t, store, b)
	wantStored(t, store, b)
}

// A bucket that is not there, and may not be created, stops the service
// from starting rather than failing the first recording.
func TestModuleFailsToStartWithoutTheBucket(t *testing.T) {
	cfg := audiostore.Config{S3: s3Config(newFakeS3(t, nil), "")}
	cfg.S3.CreateBucket = false
	app := fx.New(fx.Supply(cfg, slog.New(slog.DiscardHandler)), audiostore.Module, fx.Invoke(func(ports.AudioStore) {}), fx.NopLogger)
	if err := app.Start(t.Context()); err == nil {
		app.Stop(t.Context())
		t.Fatal("started without the bucket")
	}
}

func TestNewRefusesHalfAnS3Config(t *testing.T) {
	for _, cfg := range []audiostore.Config{
		{S3: audiostore.S3Config{Endpoint: "s3.example.com"}},
		{S3: audiostore.S3Config{Bucket: "recordings"}},
	} {
		if _, err := audiostore.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded; want an error, not the filesystem", cfg)
		}
	}
	if s, err := audiostore.New(audiostore.Config{Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	} else if _, ok := s.(*audiostore.FS); !ok {
		t.Fatalf("New without S3 = %T", s)
	}
}
