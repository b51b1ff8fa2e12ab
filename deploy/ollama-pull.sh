#!/bin/sh
# ollama-pull.sh: the one-shot `ollama-pull` service of docker-compose.yml.
# Waits for the Ollama server at OLLAMA_HOST, pulls OLLAMA_MODEL unless the
# server has it already (so a restart needs no internet), and exits 0 when
# the model is there; dozor starts only then. OLLAMA_PULL_ALWAYS=1 pulls
# anyway, which updates the model. POSIX sh: the ollama image has no bash.
set -eu

model=${OLLAMA_MODEL:-qwen2.5:7b-instruct}
OLLAMA_HOST=${OLLAMA_HOST:-http://ollama:11434}
export OLLAMA_HOST
wait_seconds=${OLLAMA_WAIT_SECONDS:-120}
attempts=${OLLAMA_PULL_ATTEMPTS:-5}

say() { echo "ollama-pull: $*" >&2; }

waited=0
until ollama list >/dev/null 2>&1; do
	if [ "$waited" -ge "$wait_seconds" ]; then
		say "no Ollama server answers at $OLLAMA_HOST after ${wait_seconds}s"
		exit 1
	fi
	sleep 2
	waited=$((waited + 2))
done

if [ "${OLLAMA_PULL_ALWAYS:-0}" != 1 ] && ollama show "$model" >/dev/null 2>&1; then
	say "$model is already there"
	exit 0
fi

n=1
while :; do
	say "pulling $model (attempt $n of $attempts)"
	if ollama pull "$model"; then
		break
	fi
	if [ "$n" -ge "$attempts" ]; then
		say "could not pull $model; is the name right (see ollama.com/library) and the internet reachable?"
		exit 1
	fi
	sleep $((n * 10))
	n=$((n + 1))
done

# Check what the server itself has: dozor must not start without the model.
if ! ollama show "$model" >/dev/null 2>&1; then
	say "pulled $model, but the server does not show it"
	exit 1
fi
say "$model is ready"
