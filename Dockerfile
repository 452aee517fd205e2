# syntax=docker/dockerfile:1
#
# Cowrite: one static binary with the browser editor embedded, running as a
# non-root user in a distroless image. Data lives in the /data volume.
#
#   docker build -t cowrite .
#   docker run -d -p 3000:3000 -v cowrite-data:/data cowrite
#
# See docs/self-hosting.md.

ARG NODE_IMAGE=node:22-bookworm-slim
ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

# 1. The browser editor: frontend/ → frontend/dist/app.
FROM ${NODE_IMAGE} AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
# The editor builds the client package from source (vite alias ../clients/js/src).
COPY clients/js/ /src/clients/js/
RUN npm run build && test -f dist/app/index.html

# 2. The server, with the editor embedded by go:embed.
FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=frontend /src/frontend/dist/app ./frontend/dist/app
# The build context has no .git: pass what `cowrite --version` prints, e.g.
#   docker build --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse HEAD) .
ARG VERSION=docker
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
      -o /out/cowrite . \
 && mkdir -p /out/data

# 3. Runtime: no shell, no package manager, uid/gid 65532 (nonroot).
FROM ${RUNTIME_IMAGE}
COPY --from=build /out/cowrite /cowrite
# A named volume mounted on /data starts as a copy of this directory, owner included.
COPY --from=build --chown=65532:65532 /out/data /data
ENV COWRITE_ADDR=:3000 \
    COWRITE_DATA=/data
USER 65532:65532
EXPOSE 3000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/cowrite", "healthcheck"]
ENTRYPOINT ["/cowrite"]
