# The contract's other consumers and its hygiene.
#   make contract-lint       buf lint on protos/ (STANDARD rules)
#   make contract-breaking   buf breaking against the contract at CONTRACT_AGAINST (HEAD~1)
#   make contract-stubs      generate the Go and Java stubs per buf.gen.yaml (a check: into a
#                            temporary folder)
#   make node-client-deps    npm ci for the Node.js client (client/node), run by `make test`

CONTRACT_AGAINST ?= HEAD~1
BUF := tools/buf/node_modules/.bin/buf
BUF_INSTALLED := tools/buf/node_modules/.package-lock.json
NODE_CLIENT_INSTALLED := client/node/node_modules/.package-lock.json

# Local protoc plugins for buf.gen.yaml.
SYSTEM_PACKAGES += protobuf-compiler protoc-gen-go protoc-gen-go-grpc \
	protobuf-compiler-grpc-java-plugin
CI_TARGETS += contract-lint contract-breaking contract-stubs
test-deps: node-client-deps

.PHONY: node-client-deps buf-deps contract-lint contract-breaking contract-stubs

$(NODE_CLIENT_INSTALLED): client/node/package.json client/node/package-lock.json
	cd client/node && npm ci --no-audit --no-fund --loglevel=error

$(BUF_INSTALLED): tools/buf/package.json tools/buf/package-lock.json
	cd tools/buf && npm ci --no-audit --no-fund --loglevel=error

## npm ci for the Node.js client (client/node).
node-client-deps: $(NODE_CLIENT_INSTALLED)

## npm ci for buf (tools/buf).
buf-deps: $(BUF_INSTALLED)

## buf lint on protos/.
contract-lint: buf-deps
	$(BUF) lint
	@echo "contract-lint: protos/ passes buf lint"

## buf breaking against CONTRACT_AGAINST (default HEAD~1).
contract-breaking: buf-deps
	bash tools/buf/breaking.sh $(CONTRACT_AGAINST)

## The Go and Java stubs generate from buf.gen.yaml (into a temporary folder).
contract-stubs: buf-deps system-deps
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && \
	$(BUF) generate --output "$$out" && \
	test -f "$$out/gen/go/diabetes/v1/prediction_grpc.pb.go" && \
	test -f "$$out/gen/java/com/example/diabetes/v1/PredictionServiceGrpc.java" && \
	echo "contract-stubs: Go and Java stubs generate from buf.gen.yaml"
