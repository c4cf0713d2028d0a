package mesosgot

// TEMPORARY stand-in for link.go while it is written on its own branch:
// passes messages through one frame each, with no reliability. Removed when
// link.go lands.

import "errors"

type linkConfig struct{ TaskQueue int }

type linkStats struct{}

var errStreamFull = errors.New("mesosgot: stream full")
var errPeerRestarted = errors.New("mesosgot: peer restarted")

func defaultLinkConfig() linkConfig { return linkConfig{TaskQueue: DefTaskChanLen} }

type link struct {
	frames  []string
	deliver []GoTaskMsg
}

func newLink(cfg linkConfig, epoch uint64) *link { return &link{} }
func (l *link) Send(m GoTaskMsg) error {
	s, _ := EncodeMsg(m)
	l.frames = append(l.frames, s)
	return nil
}
func (l *link) CanSend(stream string) bool { return true }
func (l *link) Recv(frame string) error {
	m, err := DecodeMsg(frame)
	if err != nil {
		return err
	}
	l.deliver = append(l.deliver, m)
	return nil
}
func (l *link) Consumed(stream string, n int) {}
func (l *link) Tick()                         {}
func (l *link) Ready() ([]string, []GoTaskMsg) {
	f, d := l.frames, l.deliver
	l.frames, l.deliver = nil, nil
	return f, d
}
func (l *link) Unacked(stream string) int { return 0 }
func (l *link) Idle() bool                { return len(l.frames) == 0 && len(l.deliver) == 0 }
func (l *link) Stats() linkStats          { return linkStats{} }
