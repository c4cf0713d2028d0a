module github.com/mesosgot/mesosgot

go 1.26

require (
	github.com/gogo/protobuf v1.3.2
	github.com/golang/glog v1.2.5
	github.com/mesos/mesos-go v0.0.11
	github.com/samuel/go-zookeeper v0.0.0-20190923202752-2cc03de413da
	github.com/stretchr/testify v1.12.1
	golang.org/x/net v0.0.0-20201021035429-f5854403a974
)

require (
	github.com/google/uuid v1.0.0 // indirect
	github.com/pborman/uuid v1.2.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
