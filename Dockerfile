# syntax=docker/dockerfile:1

# dozor in a container: a static Go binary on distroless, run as non-root,
# its database and search index in the /data volume.
#
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" -t dozor .
#   docker run -d --name dozor --restart unless-stopped --stop-timeout 45 \
#     --env-file .env -e DOZOR_DB=/data/dozor.db -e METRICS_ADDR=:9090 \
#     -v dozor-data:/data dozor
#
# (-e wins over --env-file: a .env copied from .env.example would otherwise
# put the database at /data/data/dozor.db and turn METRICS_ADDR off.)
#
# deploy/docker-compose.yml runs it next to Ollama; see deploy/README.md.

ARG GO_VERSION=1.26

# --- build ------------------------------------------------------------------
# Built on the builder's own platform and cross-compiled for the target one
# (pure Go, CGO_ENABLED=0), so `docker buildx build --platform linux/arm64`
# needs no emulation.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src

# Modules first, so editing the source does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .

ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
# -trimpath: no build paths in the binary; -s -w: no symbol table or DWARF;
# -X sets `dozor version` (the variable lives in dozor/internal/cli).
# Time zone data needs no package in the image: main.go imports time/tzdata.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath \
      -ldflags "-s -w -X dozor/internal/cli.Version=${VERSION}" \
      -o /out/dozor . \
 && mkdir -p /out/data

# --- runtime ----------------------------------------------------------------
# distroless/static: CA certificates, /etc/passwd with nonroot (65532), no
# shell, no package manager, no libc (none needed: the binary is static).
FROM gcr.io/distroless/static-debian12:nonroot

ARG VERSION=dev
LABEL org.opencontainers.image.title="dozor" \
      org.opencontainers.image.description="News watcher that alerts analysts in Telegram" \
      org.opencontainers.image.version="${VERSION}"

COPY --from=build /out/dozor /usr/local/bin/dozor
# A named volume starts as a copy of this directory, owner included, so
# nonroot can write to it. A bind mount keeps the host's owner instead:
# `chown 65532:65532` the host directory first.
COPY --from=build --chown=65532:65532 /out/data /data

# Settings that belong to the image; everything else comes from --env-file
# or `environment:` (real environment variables win over ./.env).
# METRICS_ADDR serves /healthz and /metrics; the HEALTHCHECK below needs it.
ENV DOZOR_DB=/data/dozor.db \
    METRICS_ADDR=:9090

# The working directory is the volume too, so a relative DOZOR_DB copied from
# .env.example (data/dozor.db) still lands on the volume.
WORKDIR /data
VOLUME ["/data"]
# Numeric, so Kubernetes' runAsNonRoot can check it: 65532 is distroless' nonroot.
USER 65532:65532

# 9090: /metrics and /healthz (METRICS_ADDR). 8443: webhook mode only
# (WEBHOOK_URL set; WEBHOOK_LISTEN). Long polling, the default, needs no port.
EXPOSE 9090 8443

# Distroless has no curl or wget: the binary checks itself. `dozor healthcheck`
# GETs http://127.0.0.1<METRICS_ADDR>/healthz and exits 0 on a 2xx, 1 otherwise.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/dozor", "healthcheck"]

# dozor stops cleanly on SIGTERM, finishing the pass in flight within
# SHUTDOWN_TIMEOUT (30s by default): give `docker stop` more than that,
# e.g. `docker stop -t 45` or `stop_grace_period: 45s` in compose.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/dozor"]
CMD ["run"]
