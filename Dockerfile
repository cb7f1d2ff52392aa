# syntax=docker/dockerfile:1.7
# Blueberry: one image for every role (`--role api|worker|all`). Templates and static assets
# are compiled into the binary, so the runtime image holds the binary and nothing else.
#
#   docker build -t blueberry .
#   docker run -p 8080:8080 blueberry          # embedded default: SQLite + simulated cluster

ARG RUST_VERSION=1.95

# Dependencies are compiled in their own layer (cargo-chef): a change to the code rebuilds
# only the crate itself.
FROM rust:${RUST_VERSION}-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.71
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    cargo build --release --locked --bin blueberry \
    && install -D -m 0755 target/release/blueberry /out/blueberry \
    && install -d -o 65532 -g 65532 /out/data

# Distroless: glibc, CA certificates, tzdata, a non-root user; no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="blueberry" \
      org.opencontainers.image.description="Per-merge-request Kubernetes environments delivered through Argo CD" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://gitlab.example.com/platform/blueberry"
COPY --from=builder /out/blueberry /usr/local/bin/blueberry
COPY --from=builder --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
ENV BLUEBERRY_LISTEN=0.0.0.0:8080 \
    BLUEBERRY_DATA_DIR=/data \
    BLUEBERRY_LOG_FORMAT=json
EXPOSE 8080
# Kubernetes probes /healthz (liveness) and /readyz (readiness) itself (helm/blueberry); this
# is for `docker run` and Compose.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/blueberry", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/blueberry"]
CMD ["serve"]
