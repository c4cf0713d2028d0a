package localmesos_test

import (
	"context"
	"fmt"
	"net"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"

	"github.com/mesosgot/mesosgot/localmesos"
)

// A test starts a cluster, points an unmodified mesos-go scheduler driver at
// it and closes it at the end, like an httptest.Server.
func ExampleStart() {
	c, err := localmesos.Start(localmesos.Config{Agents: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	var scheduler sched.Scheduler // your framework's callbacks
	driver, err := sched.NewMesosSchedulerDriver(sched.DriverConfig{
		Scheduler:      scheduler,
		Framework:      &mesos.FrameworkInfo{User: proto.String(""), Name: proto.String("example")},
		Master:         c.MasterAddr(),
		BindingAddress: net.ParseIP("127.0.0.1"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = driver // driver.Run() ... then inspect c.Tasks(), c.Stats()
}

// A master and an agent run on their own, as the mesos-master and
// mesos-agent commands run them on different hosts.
func ExampleStartMaster() {
	m, err := localmesos.StartMaster(localmesos.MasterConfig{ClusterSecret: "s3cret"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	a, err := localmesos.StartAgent(localmesos.AgentConfig{Master: m.Addr(), ClusterSecret: "s3cret", Resources: "cpus:2;mem:1024"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	if err := a.WaitRegistered(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(m.Agents()), "agent registered")
	// Output: 1 agent registered
}
