# The two commands of the README: `make dev` runs the whole system locally, `make test` runs
# every test. Both install what they need (a project-local Python virtualenv with moto's server,
# cfn-lint and Schemathesis; cargo-deny) on first use.

SHELL := /bin/bash
VENV  := .venv

.PHONY: dev dev-clean city test venv venv-package lint bench release package coldstart crypto-bench clean web deploy-web

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## The whole system on 127.0.0.1:3000 (local DynamoDB on .local/, moto for S3/SQS/SES, demo
## data synced and relabelled, every function's routes). Data survives a restart.
dev: venv web
	cargo run -p local

## The H5 client (web/: Vue 3 + Vant 4), built into web/dist, which the local stack serves at `/`.
web:
	bash scripts/web_setup.sh
	cd web && npm run --silent build

## The same with a city slice (200 enterprises, 51,750 people, a day of PCR results),
## kept in a file of its own.
city: venv web
	LOCAL_CITY=1 LOCAL_DATA=.local/city.sqlite cargo run -p local

## Upload the H5 client to a deployed stack (STACK=<name>; the AWS CLI and credentials needed).
deploy-web:
	bash scripts/deploy_web.sh $(STACK)

## Forget the local data: the next `make dev` starts from an empty table.
dev-clean:
	rm -rf .local

## Every test: template lint; fmt, clippy and cargo-deny gates; unit tests; integration tests on
## the local engine and moto; events; and the API contract (Schemathesis over the local stack).
test: venv lint
	bash scripts/test.sh

lint: venv
	$(VENV)/bin/cfn-lint template.yaml

## Benchmarks (figures recorded in docs/bench.md): each command at 10,000, 100,000 and
## 1,000,000 employees or records, against the local engine. About half an hour on 2 cores.
BENCH := cargo run --quiet --profile bench-fast -p local --bin bench --
bench: venv
	$(BENCH) parse 1000000
	for n in 10000 100000 1000000; do $(BENCH) sync $$n || exit 1; done
	for n in 10000 100000 1000000; do $(BENCH) relabel $$n 50 || exit 1; done
	$(BENCH) relabel 10000 1000
	for n in 10000 100000 1000000; do $(BENCH) pages $$n || exit 1; done
	for n in 10000 100000; do $(BENCH) export $$n || exit 1; done
	$(BENCH) load
	$(BENCH) sunset 100000
	$(BENCH) rekey 100000

## Release builds of the Lambda binaries for this machine (x86_64; `make package` builds the
## deployed ones).
FUNCTIONS := authorize query-nucleic query-vaccine query-sites invite-join export export-worker sync relabel sunset rekey
release:
	cargo build --release $(addprefix -p ,$(FUNCTIONS))

## The deployment artefacts: `sam validate --lint`, then `sam build` (cargo-lambda with zig, no
## Docker) of every function for provided.al2023 on arm64 into .aws-sam/build, each one's size
## and zipped size printed. Its own target directory (target/lambda-build), so it never waits on
## another build's lock. Not part of `make test`: from a clean clone it took 13 min here
## (docs/build.md).
venv-package: $(VENV)/.installed-package

$(VENV)/.installed-package: $(VENV)/.installed requirements-package.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-package.txt
	touch $@

PACKAGE_ENV := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" CARGO_TARGET_DIR="$(CURDIR)/target/lambda-build" \
	AWS_DEFAULT_REGION=ap-southeast-1 SAM_CLI_TELEMETRY=0
package: venv-package
	rustup target add aarch64-unknown-linux-gnu
	$(PACKAGE_ENV) sam validate --lint
	@# One cargo-lambda build of every function first: cargo then links two at a time (SAM builds
	@# them one by one), and SAM's per-function builds below find them fresh.
	time $(PACKAGE_ENV) cargo lambda build --release --arm64 $(addprefix --bin ,$(FUNCTIONS))
	time $(PACKAGE_ENV) sam build --beta-features
	python3 scripts/package-sizes.py .aws-sam/build

## The crypto provider, measured (docs/build.md, "TLS and crypto provider"): the client's CPU per TLS 1.3
## handshake with each provider the SDK can use, and a token's signature check with each library.
crypto-bench:
	cargo run --release --quiet -p crypto-bench -- 2000

## Cold starts of every function and the baseline under a Runtime API emulator on loopback,
## against the local stack (figures and how to read them: docs/build.md). Builds the release
## binaries first (for this machine, x86_64); the harness is built with the same profile, so it
## shares their dependencies.
COLDSTART_RUNS ?= 30
coldstart: venv
	cargo build --release $(addprefix -p ,$(FUNCTIONS)) -p coldstart-baseline
	cargo build --release -p local --bin coldstart
	target/release/coldstart $(COLDSTART_RUNS)

clean:
	cargo clean
	rm -rf $(VENV) .aws-sam
