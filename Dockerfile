# Multi-stage build of the geocache daemon: a static binary on a distroless base.
#   docker build -t geocache .
#   docker run -p 6379:6379 -p 8080:8080 -p 7379:7379 -e GEOCACHE_PASSWORD=... \
#     -e GEOCACHE_HTTP_TOKEN=... -e GEOCACHE_CLUSTER_KEY=... geocache
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/geocache ./cmd/geocache

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/geocache /usr/local/bin/geocache
# Inside a container the listeners must bind every interface; credentials and a cluster key
# are then required (see docs/operations.md).
ENV GEOCACHE_RESP_LISTEN=0.0.0.0:6379 \
    GEOCACHE_HTTP_LISTEN=0.0.0.0:8080 \
    GEOCACHE_P2P_LISTEN=/ip4/0.0.0.0/tcp/7379 \
    GEOCACHE_DATA_DIR=/var/lib/geocache
VOLUME /var/lib/geocache
EXPOSE 6379 8080 7379
USER nonroot
ENTRYPOINT ["/usr/local/bin/geocache"]
