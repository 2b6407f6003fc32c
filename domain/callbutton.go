package domain

// ButtonReason says why the call button is hidden or disabled.
type ButtonReason string

// The reason codes of rule 5, in the order they are evaluated.
const (
	ReasonNone                ButtonReason = ""
	ReasonNotOwner            ButtonReason = "not_owner"
	ReasonIntegrationInactive ButtonReason = "integration_inactive"
	ReasonMissingPhone        ButtonReason = "missing_phone"
	ReasonMissingExtension    ButtonReason = "missing_extension"
)

// CallButton is the decision for one (lead, user) pair.
type CallButton struct {
	Visible bool
	Enabled bool
	Reason  ButtonReason
}

// CallConnectLive reports whether calls of env go out through callConnect:
// it is env's Call Connect integration, active, and support keeps the
// feature enabled for env (rule 3). callConnect may be nil.
func CallConnectLive(env Environment, callConnect *Integration) bool {
	return callConnect != nil && callConnect.active && callConnect.IsCallConnect() &&
		env.callConnectEnabled && callConnect.envID == env.id
}

// DecideCallButton applies rule 5 (docs/rules.md), in its order:
//  1. a user who is not an owner and not a manager does not see the button;
//  2. a manager who is not linked to the lead sees it disabled;
//  3. without an active Call Connect integration it is disabled;
//  4. dialing by phone, a user without a phone has it disabled;
//  5. dialing by extension, a user without an extension has it disabled;
//  6. otherwise it is enabled.
//
// callConnect is the environment's Call Connect integration, nil when there
// is none. It only counts as active while support keeps the feature enabled.
func DecideCallButton(env Environment, lead Lead, user User, callConnect *Integration) CallButton {
	if !lead.IsOwnedBy(user) {
		return CallButton{Visible: user.role == RoleManager && user.envID == lead.envID, Reason: ReasonNotOwner}
	}
	if !CallConnectLive(env, callConnect) {
		return CallButton{Visible: true, Reason: ReasonIntegrationInactive}
	}
	switch callConnect.dialMode {
	case DialByPhone:
		if user.phone.IsZero() {
			return CallButton{Visible: true, Reason: ReasonMissingPhone}
		}
	case DialByExtension:
		if user.extension.IsZero() {
			return CallButton{Visible: true, Reason: ReasonMissingExtension}
		}
	default:
		// Only RestoreIntegration can produce an active integration without a
		// valid mode; it cannot dial, so it is treated as not active rather
		// than enabling a button whose call would carry no number.
		return CallButton{Visible: true, Reason: ReasonIntegrationInactive}
	}
	return CallButton{Visible: true, Enabled: true}
}

// Err maps a disabled button to the error a dial attempt
// gets (rule 6): the same reason code.
func (b CallButton) Err() error {
	if b.Enabled {
		return nil
	}
	kind := KindConflict
	if b.Reason == ReasonNotOwner {
		kind = KindForbidden
	}
	return &Error{Kind: kind, Code: string(b.Reason), Field: "user_id", Message: "the call button is disabled: " + string(b.Reason)}
}
