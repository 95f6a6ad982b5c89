package serve

import "net/http"

// selfCheckState: the self-check API's secret, limits and counters.
type selfCheckState struct{}

func newSelfCheckState(s *Server) (*selfCheckState, error) { return &selfCheckState{}, nil }

func (s *Server) selfCheckHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not built yet", http.StatusNotImplemented)
	})
}
