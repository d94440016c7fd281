package awsint

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/killswitch/killswitch/actions"
)

// ghostUser makes IAM answer NoSuchEntity to one user's ListAccessKeys, as
// AWS does once an intruder has deleted the user after ListUsers saw it. It
// is SDK middleware on the bot's real clients: the Initialize step matches
// the operation's input by user name, and the innermost Deserialize step
// answers, instead of moto, with the error document IAM sends (HTTP 404),
// which the SDK's own deserializer turns into *iamtypes.NoSuchEntityException.
type ghostUser struct {
	name string
	on   atomic.Bool
	hits atomic.Int64
}

type ghostKey struct{}

func (g *ghostUser) option() func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		match := middleware.InitializeMiddlewareFunc("awsint.GhostUserMatch",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if p, ok := in.Parameters.(*iam.ListAccessKeysInput); ok && g.on.Load() && aws.ToString(p.UserName) == g.name {
					ctx = context.WithValue(ctx, ghostKey{}, true)
				}
				return next.HandleInitialize(ctx, in)
			})
		if err := s.Initialize.Add(match, middleware.After); err != nil {
			return err
		}
		answer := middleware.DeserializeMiddlewareFunc("awsint.GhostUserAnswer",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				if ctx.Value(ghostKey{}) == nil {
					return next.HandleDeserialize(ctx, in)
				}
				g.hits.Add(1)
				body := `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>` +
					`<Message>The user with name ` + g.name + ` cannot be found.</Message></Error><RequestId>awsint-ghost-user</RequestId></ErrorResponse>`
				return middleware.DeserializeOutput{RawResponse: &smithyhttp.Response{Response: &http.Response{
					StatusCode:    http.StatusNotFound,
					Status:        "404 Not Found",
					Header:        http.Header{"Content-Type": {"text/xml"}, "X-Amzn-Requestid": {"awsint-ghost-user"}, "Content-Length": {strconv.Itoa(len(body))}},
					ContentLength: int64(len(body)),
					Body:          io.NopCloser(strings.NewReader(body)),
				}}}, middleware.Metadata{}, nil
			})
		return s.Deserialize.Add(answer, middleware.After)
	}
}

// TestGhostUserIsReportedOthersDisabled is the ghost-user case: in one
// member account the intruder's throwaway user (console password, access
// key) is listed by ListUsers, but its ListAccessKeys answers NoSuchEntity.
// disable-users still disables every other user of that account and of the
// others (read back through the SDK); the ghost is named in the plan's and
// the result's failures as deleted while killswitch worked, the account is
// partial, and rerunning the same request once AWS answers disables it and
// changes nothing else.
func TestGhostUserIsReportedOthersDisabled(t *testing.T) {
	org := reseed(t, defaultSeed)
	victim := org.Members[0]
	ctx := context.Background()
	g := &ghostUser{name: "tmp-svc-7f3a"}
	admin := iam.NewFromConfig(AccountConfig(motoConfig(), org.Management, victim))
	cu, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(g.name)})
	if err != nil {
		t.Fatal(err)
	}
	ghost := aws.ToString(cu.User.Arn)
	if _, err := admin.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(g.name), Password: aws.String(SeedPassword)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(g.name)}); err != nil {
		t.Fatal(err)
	}
	g.on.Store(true)

	e := newEngine(t, newFactory(t, g.option()), nil)
	rb := time.Now().UTC().Truncate(time.Second)
	opt := actions.Options{RequestID: "ks-it-ghost", RevokeBefore: rb}
	x := NewExpect(t, org, e, rb)
	before := readState(t, org, nil)

	checkGhost := func(what, account string, fs []actions.PrincipalFailure) {
		t.Helper()
		if account != victim {
			if len(fs) > 0 {
				t.Errorf("%s: %s reports failures: %+v", what, account, fs)
			}
			return
		}
		if len(fs) != 1 {
			t.Fatalf("%s: %s failures %+v, want the ghost user alone", what, account, fs)
		}
		f := fs[0]
		if f.Principal != ghost || f.Action != actions.DisableUsers || !f.Deleted ||
			!strings.HasPrefix(f.Error, "deleted while killswitch worked (NoSuchEntity): ") || !strings.Contains(f.Error, "ListAccessKeys") || !strings.Contains(f.Error, g.name) {
			t.Errorf("%s: failure %+v, want %s deleted while killswitch worked (NoSuchEntity) on ListAccessKeys", what, f, ghost)
		}
	}

	plan, err := e.Plan(ctx, actions.DisableUsers, org.IDs(), opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, ap := range plan.Accounts {
		if ap.Error != "" || len(ap.Targets) == 0 {
			t.Errorf("plan of %s: error %q, %d targets", ap.Account, ap.Error, len(ap.Targets))
		}
		checkGhost("plan", ap.Account, ap.Failures)
	}

	res, err := e.Apply(ctx, actions.DisableUsers, org.IDs(), opt, &stepRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	if g.hits.Load() == 0 {
		t.Fatal("the ghost user's ListAccessKeys was never answered")
	}
	if res.Status != actions.StatusPartial {
		t.Errorf("status %s, want partial:\n%s", res.Status, mustJSON(t, res))
	}
	for _, ar := range res.Accounts {
		want := actions.StatusSucceeded
		if ar.Account == victim {
			want = actions.StatusPartial
		}
		if ar.Status != want || ar.Error != "" {
			t.Errorf("%s: status %s, error %q, want %s", ar.Account, ar.Status, ar.Error, want)
		}
		checkGhost("result", ar.Account, ar.Failures)
		for _, s := range ar.Steps {
			if s.Status != actions.StepDone || s.Principal == ghost {
				t.Errorf("step %s: %s %s", s.Key, s.Status, s.Error)
			}
		}
	}
	named := false
	for _, p := range res.Problems() {
		named = named || strings.Contains(p, ghost)
	}
	if !named {
		t.Errorf("Problems() does not name the ghost user: %v", res.Problems())
	}

	// Through the SDK: every user disabled but the ghost, left as it was.
	contained := x.Applied(t, actions.DisableUsers, opt.RequestID, before, nil)
	want := contained.Clone()
	want.Accounts[victim].Principals[ghost] = before.Clone().Accounts[victim].Principals[ghost]
	after := readState(t, org, nil)
	AssertState(t, "after disable-users with a ghost user", want, after)
	disabled, users := 0, 0
	for arn, p := range after.Accounts[victim].Principals {
		if p.Kind == "user" && !x.exempt(victim, arn) {
			users++
			off := !p.LoginProfile
			for _, st := range p.Keys {
				off = off && st == "Inactive"
			}
			if off {
				disabled++
			}
		}
	}
	t.Logf("in %s, %d of %d non-exempt users disabled; the ghost user is reported", victim, disabled, users)

	// AWS answers again: the same request disables the ghost and nothing else.
	g.on.Store(false)
	res2, err := e.Apply(ctx, actions.DisableUsers, org.IDs(), opt, &stepRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	if p := res2.Problems(); len(p) > 0 || res2.Status != actions.StatusSucceeded {
		t.Fatalf("rerun: status %s: %v", res2.Status, p)
	}
	if len(res2.Steps()) == 0 {
		t.Error("the rerun changed nothing")
	}
	for _, s := range res2.Steps() {
		if s.Principal != ghost {
			t.Errorf("rerun redid %s: %s", s.Key, s.Change)
		}
	}
	AssertState(t, "after the rerun", contained, readState(t, org, nil))
}
