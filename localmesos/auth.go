package localmesos

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// mechCRAMMD5 is the only SASL mechanism the master offers, as Mesos' default
// authenticator does.
const mechCRAMMD5 = "CRAM-MD5"

// authSession is the server side of one SASL CRAM-MD5 exchange, keyed by the
// authenticatee's pid (mesos-go runs it as a separate process).
type authSession struct {
	client    string // pid of the scheduler being authenticated
	challenge string // sent in the step; empty until the start message
}

// authenticate begins an exchange: AuthenticateMessage{pid} ->
// AuthenticationMechanismsMessage.
func (m *master) authenticate(from *upid.UPID, msg *mesos.AuthenticateMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	client := msg.GetPid()
	// A new attempt revokes an earlier authentication of the same client.
	delete(m.authn, client)
	m.sessions[from.String()] = &authSession{client: client}
	m.send(from, &mesos.AuthenticationMechanismsMessage{Mechanisms: []string{mechCRAMMD5}})
}

// authenticationStart answers the client's choice of mechanism with the
// CRAM-MD5 challenge.
func (m *master) authenticationStart(from *upid.UPID, msg *mesos.AuthenticationStartMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sessions[from.String()]
	if s == nil || s.challenge != "" {
		m.send(from, &mesos.AuthenticationErrorMessage{Error: proto.String("unexpected authentication start")})
		return
	}
	if msg.GetMechanism() != mechCRAMMD5 {
		delete(m.sessions, from.String())
		m.send(from, &mesos.AuthenticationErrorMessage{Error: proto.String("unsupported mechanism " + msg.GetMechanism())})
		return
	}
	s.challenge = fmt.Sprintf("<%x.%d@%s>", newUUID()[:8], time.Now().UnixNano(), m.c.cfg.IP)
	m.send(from, &mesos.AuthenticationStepMessage{Data: []byte(s.challenge)})
}

// authenticationStep checks the response "principal hex(HMAC-MD5(secret,
// challenge))" and completes or fails the exchange.
func (m *master) authenticationStep(from *upid.UPID, msg *mesos.AuthenticationStepMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sessions[from.String()]
	if s == nil || s.challenge == "" {
		m.send(from, &mesos.AuthenticationErrorMessage{Error: proto.String("unexpected authentication step")})
		return
	}
	delete(m.sessions, from.String())
	principal, digest, ok := strings.Cut(string(msg.GetData()), " ")
	if ok && verifyCRAMMD5(m.c.cfg.Credentials, principal, digest, s.challenge) {
		m.authn[s.client] = principal
		m.c.stats.authOK.Add(1)
		m.c.logf("authenticated principal %q for %s", principal, s.client)
		m.send(from, &mesos.AuthenticationCompletedMessage{})
		return
	}
	m.c.stats.authFailed.Add(1)
	log.Warningf("localmesos: authentication of %s as %q failed", s.client, principal)
	m.c.logf("authentication of %s as principal %q failed", s.client, principal)
	m.send(from, &mesos.AuthenticationFailedMessage{})
}

// verifyCRAMMD5 reports whether digest is the hex HMAC-MD5 of challenge keyed
// with principal's secret.
func verifyCRAMMD5(creds map[string]string, principal, digest, challenge string) bool {
	secret, ok := creds[principal]
	if !ok {
		return false
	}
	mac := hmac.New(md5.New, []byte(secret))
	mac.Write([]byte(challenge))
	want := hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(strings.ToLower(strings.TrimSpace(digest))))
}
