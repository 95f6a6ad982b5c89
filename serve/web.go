package serve

import "net/http"

// staffState: sessions, login limits, page templates.
type staffState struct{}

func newStaffState(s *Server) (*staffState, error) { return &staffState{}, nil }

func (s *Server) staffRoutes(mux *http.ServeMux) {}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) }

func (s *Server) secure(h http.Handler) http.Handler { return h }
