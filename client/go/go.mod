// The Go client of the diabetes prediction service. Built here in GOPATH mode against
// Debian's packages (make go-client); elsewhere `go mod tidy && go build ./...` with the
// module proxy. The generated package (gen/go/diabetes/v1) comes from `make go-stubs`
// or `buf generate` (see README.md).
module example.com/diabetes

go 1.19

require (
	google.golang.org/genproto v0.0.0-20200526211855-cb27e3aa2013
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)
