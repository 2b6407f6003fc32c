-- The web origins whose pages may embed the call button element
-- (<call-connect-button>) and call the API with its short-lived widget
-- tokens: the API answers their CORS preflights, and no other origin's.
-- Normalised as browsers send an Origin header; none by default, so that no
-- page may use a widget token until the CRM names its own.
-- +goose Up
ALTER TABLE environments ADD COLUMN widget_origins text[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE environments DROP COLUMN widget_origins;
