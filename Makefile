# ctrgate — the project's commands. The Podman bindings (package podmanapi,
# and the CLI that imports it) need TAGS on every build, vet and test.
TAGS := containers_image_openpgp,exclude_graphdriver_btrfs
GO   ?= go

.PHONY: demo test unit vet mock engines-up engines-down build

# The main job: start a container, await its readiness marker, show its logs,
# remove it — on the engine found (auto), or, when no engine answers, on the
# in-memory fake, chosen explicitly and said so (auto itself never falls
# back). Where the project's Podman/Docker were provisioned (scripts/*.sh up),
# their configuration is used, since a system podman may not run here as is.
demo:
	@if scripts/podman.sh env >/dev/null 2>&1; then eval "$$(scripts/podman.sh env)"; fi; \
	if scripts/docker.sh status >/dev/null 2>&1; then eval "$$(scripts/docker.sh env)"; fi; \
	CGO_ENABLED=0 $(GO) build -tags $(TAGS) -o bin/ctrgate ./cmd/ctrgate || exit 1; \
	b=auto; if ! bin/ctrgate --backend auto --timeout 30s info >/dev/null 2>&1; then \
		echo "make demo: no container engine answers; running on the in-memory fake (--backend fake)" >&2; b=fake; fi; \
	bin/ctrgate --backend $$b run --rm -a --ready READY testimage marker READY 500ms

# Every test, on real engines that this target installs and starts (Debian, root).
test:
	scripts/test.sh

# Unit tests and the fake's conformance run only; engine tests skip loudly.
unit:
	$(GO) test -race -tags $(TAGS) ./...

# The same benchmarks on every backend (fake, podman-cli, podman-api, docker),
# as a table of ms/op; starts the engines and stops only those it started.
.PHONY: bench
bench:
	scripts/bench.sh

# Mutation check of the conformance suite against the fake (not in CI):
# applies each mutant of mutation/mutants.txt and prints the score.
.PHONY: mutation
mutation:
	python3 scripts/mutation.py

build:
	CGO_ENABLED=0 $(GO) build -tags $(TAGS) -o bin/ctrgate ./cmd/ctrgate

vet:
	$(GO) vet -tags $(TAGS) ./...

mock:
	$(GO) generate ./...

engines-up:
	scripts/podman.sh up && scripts/docker.sh up

engines-down:
	scripts/docker.sh down; scripts/podman.sh down
