package console

// actorField is a select of the users who may manage integrations: every
// integration change is made on behalf of one of them, as the API's are.
type actorField struct {
	ID       string
	Managers []userView
	Selected string
}
