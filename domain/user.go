package domain

// Role is what a user is in the environment.
type Role string

const (
	RoleManager    Role = "manager"     // gestor
	RoleBroker     Role = "broker"      // corretor
	RoleAgency     Role = "agency"      // imobiliária (the agency's own login)
	RoleAgencyUser Role = "agency_user" // usuário da imobiliária: acts for its agency
)

// Roles lists every role, in the order the API documents them.
var Roles = []Role{RoleManager, RoleBroker, RoleAgency, RoleAgencyUser}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", invalid("role", "must be one of manager, broker, agency, agency_user")
}

// User is a person (or agency) of an environment who may press Ligar.
type User struct {
	envID                 string
	id                    string
	name                  string
	role                  Role
	phone                 Phone
	extension             Extension
	agencyID              string
	canManageIntegrations bool
}

// UserInput is what the CRM sends to create or replace a user.
type UserInput struct {
	EnvID                 string
	ID                    string
	Name                  string
	Role                  string
	Phone                 string // empty: no phone
	Extension             string // empty: no extension
	AgencyID              string // the agency an agency_user (required) or a broker (optional) belongs to
	CanManageIntegrations bool
}

// NewUser validates in and returns the user.
func NewUser(in UserInput) (User, error) {
	if err := checkID("env", in.EnvID); err != nil {
		return User{}, err
	}
	if err := checkID("user_id", in.ID); err != nil {
		return User{}, err
	}
	if err := checkText("name", in.Name, true, 200); err != nil {
		return User{}, err
	}
	role, err := ParseRole(in.Role)
	if err != nil {
		return User{}, err
	}
	phone, err := ParsePhone("phone", in.Phone)
	if err != nil {
		return User{}, err
	}
	ext, err := ParseExtension("extension", in.Extension)
	if err != nil {
		return User{}, err
	}
	agencyID := in.AgencyID
	switch role {
	case RoleAgencyUser:
		if agencyID == "" {
			return User{}, invalid("agency_id", "is required for an agency_user")
		}
	case RoleAgency:
		// An agency is its own agency; accept its own id or nothing.
		if agencyID != "" && agencyID != in.ID {
			return User{}, invalid("agency_id", "an agency user's agency_id must be empty or its own id")
		}
		agencyID = in.ID
	case RoleBroker:
		// A broker may work for an agency. It is recorded, but it does not
		// make the broker an owner of the agency's leads: only agency_user
		// users act for their agency (rule 5).
	default:
		if agencyID != "" {
			return User{}, invalid("agency_id", "only agency, agency_user and broker users belong to an agency")
		}
	}
	if err := checkOptionalID("agency_id", agencyID); err != nil {
		return User{}, err
	}
	return User{envID: in.EnvID, id: in.ID, name: in.Name, role: role, phone: phone, extension: ext,
		agencyID: agencyID, canManageIntegrations: in.CanManageIntegrations}, nil
}

func (u User) EnvID() string               { return u.envID }
func (u User) ID() string                  { return u.id }
func (u User) Name() string                { return u.name }
func (u User) Role() Role                  { return u.role }
func (u User) Phone() Phone                { return u.phone }
func (u User) Extension() Extension        { return u.extension }
func (u User) AgencyID() string            { return u.agencyID }
func (u User) CanManageIntegrations() bool { return u.canManageIntegrations }

// Input returns the values u was built from (normalised).
func (u User) Input() UserInput {
	agency := u.agencyID
	return UserInput{EnvID: u.envID, ID: u.id, Name: u.name, Role: string(u.role), Phone: u.phone.String(),
		Extension: u.extension.String(), AgencyID: agency, CanManageIntegrations: u.canManageIntegrations}
}
