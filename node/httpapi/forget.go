package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/geocache/geocache/node"
)

// forgetMember serves DELETE /v1/members/{peer}: forget an unreachable member now (see
// node.Node.Forget). 200 when forgotten, 400 for this node itself, 409 for a connected member,
// 404 for an unknown peer id, 501 when the backend has no cluster.
func (s *Server) forgetMember(w http.ResponseWriter, r *http.Request) {
	f, ok := s.b.(Forgetter)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this node has no cluster")
		return
	}
	id := r.PathValue("peer")
	err := f.Forget(r.Context(), id)
	msg := func() string { return strings.TrimPrefix(err.Error(), "node: ") }
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]any{"forgotten": id})
	case errors.Is(err, node.ErrForgetSelf):
		writeError(w, http.StatusBadRequest, msg())
	case errors.Is(err, node.ErrMemberConnected):
		writeError(w, http.StatusConflict, msg())
	case errors.Is(err, node.ErrUnknownMember):
		writeError(w, http.StatusNotFound, msg())
	default:
		s.backendError(w, err)
	}
}
