package serve

import (
	"errors"
	"net/http"
	"strings"

	"github.com/breachctl/breachctl/incident/store"
)

type accountsView struct {
	Accounts []store.Staff
	Roles    []string
	Me       string
	Error    string
	Done     string
	// Name and Role refill the add form after a refusal.
	Name, Role string
}

func (s *Server) accountsPage(w http.ResponseWriter, r *http.Request) {
	s.showAccounts(w, r, http.StatusOK, accountsView{Done: doneMessage(r.URL.Query().Get("done"))})
}

func doneMessage(code string) string {
	switch code {
	case "added":
		return "Account added."
	case "updated":
		return "Account updated (its sessions were ended)."
	}
	return ""
}

func (s *Server) showAccounts(w http.ResponseWriter, r *http.Request, status int, v accountsView) {
	as, err := s.st.ListStaff(r.Context())
	if err != nil {
		s.dataError(w, r, "the accounts", err)
		return
	}
	v.Accounts, v.Roles, v.Me = as, store.Roles, sessionOf(r).Staff
	s.render(w, r, status, "accounts", "Accounts", v)
}

// accountAdd creates an account (name, role, password).
func (s *Server) accountAdd(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	role := r.PostForm.Get("role")
	refuse := func(msg string) {
		v := accountsView{Error: msg, Role: role}
		if store.ValidStaffName(name) {
			v.Name = name
		}
		s.showAccounts(w, r, http.StatusBadRequest, v)
	}
	if !store.ValidStaffName(name) {
		refuse("An account name is 1 to 64 letters, digits and . _ @ -.")
		return
	}
	if store.RoleRank(role) == 0 {
		refuse("Choose a role: support, analyst or admin.")
		return
	}
	hash, err := HashPassword(r.PostForm.Get("password"))
	if err != nil {
		refuse(err.Error())
		return
	}
	if err := s.st.AddStaff(r.Context(), name, role, hash); err != nil {
		if errors.Is(err, store.ErrExists) {
			refuse("There is an account of that name already.")
			return
		}
		s.dataError(w, r, "the accounts", err)
		return
	}
	s.log.Info("account added", "staff", sessionOf(r).Staff, "account", name, "role", role)
	http.Redirect(w, r, "/admin/accounts?done=added", http.StatusSeeOther)
}

// accountUpdate changes an account's role and disabled flag and, when a
// new password is given, resets it. The store ends the account's sessions.
func (s *Server) accountUpdate(w http.ResponseWriter, r *http.Request) {
	me := sessionOf(r).Staff
	name := r.PostForm.Get("name")
	role := r.PostForm.Get("role")
	disabled := r.PostForm.Get("disabled") == "on"
	if !store.ValidStaffName(name) || store.RoleRank(role) == 0 {
		s.showAccounts(w, r, http.StatusBadRequest, accountsView{Error: "Choose an account and a role."})
		return
	}
	if name == me && (disabled || role != store.RoleAdmin) {
		s.showAccounts(w, r, http.StatusBadRequest, accountsView{Error: "You cannot disable your own account or take away your own admin role: ask another admin."})
		return
	}
	var hash string
	if pw := r.PostForm.Get("password"); pw != "" {
		var err error
		if hash, err = HashPassword(pw); err != nil {
			s.showAccounts(w, r, http.StatusBadRequest, accountsView{Error: err.Error()})
			return
		}
	}
	err := s.st.UpdateStaff(r.Context(), name, role, disabled, hash)
	s.staff.sessions.dropStaff(name)
	if errors.Is(err, store.ErrNotFound) {
		s.showAccounts(w, r, http.StatusNotFound, accountsView{Error: "There is no such account."})
		return
	}
	if err != nil {
		s.dataError(w, r, "the accounts", err)
		return
	}
	s.log.Info("account updated", "staff", me, "account", name, "role", role, "disabled", disabled, "password_reset", hash != "")
	http.Redirect(w, r, "/admin/accounts?done=updated", http.StatusSeeOther)
}
