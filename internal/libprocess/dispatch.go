package libprocess

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	"github.com/mesos/mesos-go/api/v0/messenger"
	"github.com/mesos/mesos-go/api/v0/upid"
)

// dispatcher is a Process' messenger: the handlers installed on it, and
// the loop that decodes the messages the transport received and runs their
// handlers one at a time, in arrival order (as mesos-go's messenger does).
// Unlike mesos-go's, it knows each message's body: a message type that
// keeps its body (bodyKeeper) gets it, and the buffer goes back to its pool
// once the handler and every message written from it are done.
type dispatcher struct {
	p *Process

	mu       sync.RWMutex
	types    map[string]reflect.Type
	handlers map[string]messenger.MessageHandler

	stop     chan struct{}
	stopOnce sync.Once
}

// bodyKeeper is a message type whose decoded value refers to its body
// (FrameworkFields): it is given the body's reference while its handler
// runs.
type bodyKeeper interface {
	keepBody(b *Body)
}

func newDispatcher(p *Process) *dispatcher {
	return &dispatcher{p: p, types: map[string]reflect.Type{}, handlers: map[string]messenger.MessageHandler{},
		stop: make(chan struct{})}
}

// messageName is the libprocess name of msg, as mesos-go names it.
func messageName(msg proto.Message) string {
	return "mesos.internal." + reflect.TypeOf(msg).Elem().Name()
}

// Install implements messenger.Messenger.
func (d *dispatcher) Install(handler messenger.MessageHandler, msg proto.Message) error {
	t := reflect.TypeOf(msg)
	if t.Kind() != reflect.Ptr {
		return fmt.Errorf("message %T is not a pointer", msg)
	}
	name := messageName(msg)
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.types[name]; ok {
		return fmt.Errorf("message %s is already installed", name)
	}
	d.types[name], d.handlers[name] = t.Elem(), handler
	if _, ok := msg.(bodyKeeper); ok {
		d.p.tr.setPooled(name)
	}
	d.p.tr.Install(name)
	return nil
}

// Send implements messenger.Messenger: msg is queued for to (Process.Send).
func (d *dispatcher) Send(_ context.Context, to *upid.UPID, msg proto.Message) error {
	if to == nil {
		return errors.New("send to no pid")
	}
	d.p.Send(to, msg)
	return nil
}

// Route implements messenger.Messenger: a message to this process goes to
// its handler on a goroutine of its own (as mesos-go's messenger does), any
// other is sent.
func (d *dispatcher) Route(ctx context.Context, from *upid.UPID, msg proto.Message) error {
	if from == nil {
		return errors.New("route from no pid")
	}
	if *from != d.UPID() {
		return d.Send(ctx, from, msg)
	}
	d.mu.RLock()
	h, ok := d.handlers[messageName(msg)]
	d.mu.RUnlock()
	if !ok {
		return fmt.Errorf("no handler for %s", messageName(msg))
	}
	go h(from, msg)
	return nil
}

// Start implements messenger.Messenger: the transport listens, and the
// loop runs.
func (d *dispatcher) Start() error {
	pid, errc := d.p.tr.Start()
	if pid == (upid.UPID{}) {
		return fmt.Errorf("starting the transport: %w", <-errc)
	}
	go d.loop()
	go func() {
		select {
		case err := <-errc:
			if err != nil {
				log.Errorf("libprocess: %s: transport stopped: %v", pid, err)
			}
		case <-d.stop:
		}
	}()
	return nil
}

// Stop implements messenger.Messenger: the transport stops, and so does
// the loop, after the handler it runs, if any. Stop does not wait for it
// (as mesos-go's messenger does not): that handler may wait for a lock the
// caller of Stop holds.
func (d *dispatcher) Stop() error {
	var err error
	d.stopOnce.Do(func() {
		close(d.stop)
		err = d.p.tr.Stop(true)
	})
	return err
}

// UPID implements messenger.Messenger.
func (d *dispatcher) UPID() upid.UPID { return d.p.tr.UPID() }

// loop decodes and dispatches the received messages, one at a time.
func (d *dispatcher) loop() {
	for {
		m, body, ok := d.p.tr.recvBody()
		if !ok {
			return
		}
		select {
		case <-d.stop:
			return
		default:
		}
		d.dispatch(m, body)
		if body != nil {
			body.unref()
		}
	}
}

func (d *dispatcher) dispatch(m *messenger.Message, body *Body) {
	d.mu.RLock()
	t, ok := d.types[m.Name]
	h := d.handlers[m.Name]
	d.mu.RUnlock()
	if !ok {
		log.Warningf("libprocess: %s: no handler for %s", d.p.pid, m.Name)
		return
	}
	msg := reflect.New(t).Interface().(proto.Message)
	if err := proto.Unmarshal(m.Bytes, msg); err != nil {
		log.Errorf("libprocess: %s: undecodable %s from %s: %v", d.p.pid, m.Name, m.UPID, err)
		return
	}
	if bk, ok := msg.(bodyKeeper); ok && body != nil {
		bk.keepBody(body)
	}
	h(m.UPID, msg)
}
