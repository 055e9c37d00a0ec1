# fog in a container: docker build -t fog . && see docs/deploy.md.
# Stage 1 builds a static binary (no cgo) with Go alone: the dashboard's
# assets are committed in web/dist, so no Node.js is needed.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/fog ./cmd/fog

# Stage 2: a small base with a shell for the entrypoint (which creates the
# node on first start), the binary, and an unprivileged user.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin fog \
 && mkdir -p /data && chown fog:fog /data && chmod 0700 /data
COPY --from=build /out/fog /usr/local/bin/fog
COPY deploy/docker-entrypoint.sh /usr/local/bin/fog-entrypoint
ENV FOG_PATH=/data
# The identity key, API token and store live here: keep it on a volume.
VOLUME ["/data"]
# 4001: libp2p (TCP and QUIC); 5151: the API, dashboard and /metrics.
EXPOSE 4001/tcp 4001/udp 5151/tcp
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/fog-entrypoint"]
