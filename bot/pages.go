package bot

import (
	"context"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot/runbook"
	"github.com/killswitch/killswitch/bot/store"
)

// Pages for people: the runbooks (GET /runbooks, /runbooks/{action}) and
// the reports of drills run in Slack (GET /drills/{id}). Nothing a URL
// carries is written into a page: an unknown action or drill is a fixed
// 404 text.

// recentRequests is how many requests of an action a runbook lists, and
// recentScan how many of the newest requests are looked through for them.
const (
	recentRequests = 20
	recentScan     = 500
)

func (s *Service) pageRoutes(r *mux.Router) {
	r.HandleFunc("/runbooks", s.handleRunbookIndex).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/runbooks/", s.handleRunbookIndex).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/runbooks/style.css", handleStylesheet).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/runbooks/{action}", s.handleRunbook).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/drills/{id}", s.handleDrillPage).Methods(http.MethodGet, http.MethodHead)
	// any other path: the same fixed 404, with the pages' headers
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { notFound(w, runbook.CSP, "page") })
}

// pageHeaders are the security headers of every page: no script at all,
// styles from this origin only, never framed, no referrer.
func pageHeaders(w http.ResponseWriter, csp string) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

func notFound(w http.ResponseWriter, csp, what string) {
	pageHeaders(w, csp)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte("404: no such " + what + "; see /runbooks\n"))
}

func writePage(w http.ResponseWriter, csp string, page []byte) {
	pageHeaders(w, csp)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(page)
}

func handleStylesheet(w http.ResponseWriter, _ *http.Request) {
	pageHeaders(w, runbook.CSP)
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(runbook.Stylesheet)
}

func (s *Service) handleRunbookIndex(w http.ResponseWriter, _ *http.Request) {
	page, err := runbook.Index(s.runbookDeployment(), runbook.Served)
	if err != nil {
		s.log.WithError(err).Error("render the runbook index")
		http.Error(w, "cannot render the runbooks", http.StatusInternalServerError)
		return
	}
	writePage(w, runbook.CSP, page)
}

func (s *Service) handleRunbook(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["action"]
	if _, err := actions.Lookup(name); err != nil {
		notFound(w, runbook.CSP, "action")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	recent, err := s.recent(ctx, name)
	if err != nil {
		s.log.WithError(err).WithField("action", name).Warn("runbook: read the recent requests")
	}
	page, err := runbook.Action(s.runbookDeployment(), runbook.Served, name, recent, true)
	if err != nil {
		s.log.WithError(err).WithField("action", name).Error("render a runbook")
		http.Error(w, "cannot render the runbook", http.StatusInternalServerError)
		return
	}
	writePage(w, runbook.CSP, page)
}

func (s *Service) runbookDeployment() runbook.Deployment {
	if s.cfg.Runbooks != nil {
		return *s.cfg.Runbooks
	}
	d := runbook.Default()
	d.Required, d.Approvers, d.Expiry = s.cfg.Required, len(s.cfg.Approvers), s.cfg.Expiry
	return d
}

// recent returns the newest requests of action (and their undos): status,
// requester, approvers and times only.
func (s *Service) recent(ctx context.Context, action string) ([]runbook.Request, error) {
	reqs, err := s.d.Store.ListRequests(ctx, store.Filter{Limit: recentScan})
	if err != nil {
		return nil, err
	}
	var out []runbook.Request
	for _, r := range reqs {
		if r.Action != action {
			continue
		}
		rr := runbook.Request{ID: r.ID, Kind: r.Kind, State: string(r.State), Requester: r.Requester, Created: r.CreatedAt, Updated: r.UpdatedAt}
		apps, err := s.d.Store.Approvals(ctx, r.ID)
		if err != nil {
			return out, err
		}
		for _, a := range apps {
			rr.Approvers = append(rr.Approvers, a.Approver)
		}
		out = append(out, rr)
		if len(out) == recentRequests {
			break
		}
	}
	return out, nil
}

// DrillPages keeps the HTML reports of the drills run in Slack (newest
// maxDrillPages), by id, in memory: a drill is an exercise, its page need
// not outlive the process.
type drillPages struct {
	mu    sync.Mutex
	order []string
	pages map[string]drillPage
}

type drillPage struct {
	html []byte
	csp  string
}

const maxDrillPages = 20

var reDrillID = regexp.MustCompile(`^drill-[0-9a-f]{16}$`)

func (p *drillPages) put(id string, page drillPage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pages == nil {
		p.pages = map[string]drillPage{}
	}
	p.pages[id] = page
	p.order = append(p.order, id)
	for len(p.order) > maxDrillPages {
		delete(p.pages, p.order[0])
		p.order = p.order[1:]
	}
}

func (p *drillPages) get(id string) (drillPage, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pg, ok := p.pages[id]
	return pg, ok
}

func (s *Service) handleDrillPage(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	pg, ok := s.drillPages.get(id)
	if !reDrillID.MatchString(id) || !ok {
		notFound(w, runbook.CSP, "drill report")
		return
	}
	writePage(w, pg.csp, pg.html)
}
