package awsint

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// Centralised root access on moto. moto 5.2.1 answers sts:AssumeRoot and
// iam:ListOrganizationsFeatures with HTTP 500 and models no root user
// credentials (GetLoginProfile, ListAccessKeys, ListMFADevices and
// ListSigningCertificates without a UserName answer NoSuchEntity for a user
// "None"). So that the bot's real SDK path runs (factory → sts:AssumeRoot
// through the management account's responder session → IAM calls signed
// with the root session's credentials), the shim stands in:
//   - AssumeRoot, when moto answers 500: it assumes the responder role
//     (ResponderRole) in the target account on moto and returns those
//     credentials as the root session's. The target and task policy are
//     checked (a member account id, a root-task policy ARN) but moto
//     evaluates no policy, so the task policy's limits are not enforced:
//     the simulation proves them (actions TestRemoveRootCredentials).
//   - IAM calls signed with such credentials and no UserName: the root user
//     of a moto account has no credentials, so the answer is AWS's for a
//     root user with none: GetLoginProfile and every deletion NoSuchEntity,
//     the lists empty. They never reach moto (which would answer for the
//     responder role instead) and are counted as awsapi.RootSessionService
//     operations, which the least-privilege check holds to the task policy.

const iamNS = "https://iam.amazonaws.com/doc/2010-05-08/"

// assumeRoot answers an AssumeRoot moto could not.
func (s *Shim) assumeRoot(resp *http.Response, form url.Values) error {
	target, task := form.Get("TargetPrincipal"), form.Get("TaskPolicyArn.arn")
	target = strings.TrimSuffix(strings.TrimPrefix(target, "arn:aws:iam::"), ":root")
	if awsapi.ValidateAccountID(target) != nil || !strings.HasPrefix(task, "arn:aws:iam::aws:policy/root-task/") {
		return s.answer(resp, http.StatusBadRequest, errorXML("https://sts.amazonaws.com/doc/2011-06-15/", "ValidationError", "shim: bad TargetPrincipal or TaskPolicyArn"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.target),
		Credentials: credentials.NewStaticCredentialsProvider("AKIASHIMROOTSTANDIN0", "shim", "")})
	out, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(awsapi.RoleARN("us-east-1", target, ResponderRole)), RoleSessionName: aws.String("killswitch-root-standin")})
	if err != nil {
		return s.answer(resp, http.StatusInternalServerError, errorXML("https://sts.amazonaws.com/doc/2011-06-15/", "ServiceFailure", "shim: stand-in AssumeRole: "+err.Error()))
	}
	cr := out.Credentials
	s.mu.Lock()
	s.rootKeys[aws.ToString(cr.AccessKeyId)] = struct{}{}
	s.stoodIn["AssumeRoot"]++
	s.mu.Unlock()
	body := `<AssumeRootResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRootResult><Credentials>` +
		"<AccessKeyId>" + esc(aws.ToString(cr.AccessKeyId)) + "</AccessKeyId><SecretAccessKey>" + esc(aws.ToString(cr.SecretAccessKey)) +
		"</SecretAccessKey><SessionToken>" + esc(aws.ToString(cr.SessionToken)) + "</SessionToken><Expiration>" +
		time.Now().Add(awsapi.RootSessionSeconds*time.Second).UTC().Format(time.RFC3339) + "</Expiration></Credentials></AssumeRootResult>" +
		"<ResponseMetadata><RequestId>killswitch-shim</RequestId></ResponseMetadata></AssumeRootResponse>"
	return s.answer(resp, http.StatusOK, body)
}

// rootSession answers an IAM call of a root session it stood in for; it
// reports whether it did.
func (s *Shim) rootSession(w http.ResponseWriter, r *http.Request, action string, form url.Values) bool {
	key := accessKeyOf(r.Header.Get("Authorization"))
	s.mu.Lock()
	_, root := s.rootKeys[key]
	s.mu.Unlock()
	if !root || signingName(r.Header.Get("Authorization")) != "iam" || form.Get("UserName") != "" {
		return false
	}
	s.mu.Lock()
	s.ops[awsapi.RootSessionService+":"+action]++
	s.stoodIn["root session "+action]++
	s.mu.Unlock()
	status, body := http.StatusOK, ""
	switch action {
	case "ListAccessKeys":
		body = okXML(action, "<AccessKeyMetadata/><IsTruncated>false</IsTruncated>")
	case "ListMFADevices":
		body = okXML(action, "<MFADevices/><IsTruncated>false</IsTruncated>")
	case "ListSigningCertificates":
		body = okXML(action, "<Certificates/><IsTruncated>false</IsTruncated>")
	case "GetLoginProfile", "DeleteLoginProfile", "DeleteAccessKey", "DeleteSigningCertificate", "DeactivateMFADevice", "DeleteVirtualMFADevice":
		status, body = http.StatusNotFound, errorXML(iamNS, "NoSuchEntity", "The root user has no such credential.")
	default:
		status, body = http.StatusForbidden, errorXML(iamNS, "AccessDenied", "shim: the root session's task policy does not allow "+action)
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", "killswitch-shim")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
	return true
}

func (s *Shim) answer(resp *http.Response, status int, body string) error {
	_ = resp.Body.Close()
	resp.StatusCode, resp.Status = status, fmt.Sprintf("%d %s", status, http.StatusText(status))
	resp.Body = io.NopCloser(strings.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header = http.Header{}
	resp.Header.Set("Content-Type", "text/xml")
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	resp.Header.Set("X-Amzn-Requestid", "killswitch-shim")
	return nil
}

func okXML(action, result string) string {
	return "<" + action + `Response xmlns="` + iamNS + `"><` + action + "Result>" + result + "</" + action + "Result>" +
		"<ResponseMetadata><RequestId>killswitch-shim</RequestId></ResponseMetadata></" + action + "Response>"
}

func errorXML(ns, code, msg string) string {
	return `<ErrorResponse xmlns="` + ns + `"><Error><Type>Sender</Type><Code>` + code + "</Code><Message>" + esc(msg) +
		"</Message></Error><RequestId>killswitch-shim</RequestId></ErrorResponse>"
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// accessKeyOf is the access key id of a SigV4 Authorization header.
func accessKeyOf(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(cred, "/")
	return id
}
