# The irisha-manager image, for those who build with a container engine.
# `make image` builds the same image without one (hack/image): a static
# binary alone on an empty base, user 65532:65532, entrypoint /irisha-manager.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=v0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     -t ghcr.io/irisha/irisha-manager:v0.1.0 --push .

# The builder runs on the build machine's platform and cross-compiles:
# no emulation, the way hack/image does it.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS TARGETARCH
ARG VERSION=dev
ARG REVISION=
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
      -ldflags "-s -w -X github.com/irisha/irisha/internal/version.Version=${VERSION} -X github.com/irisha/irisha/internal/version.Revision=${REVISION}" \
      -o /out/irisha-manager ./cmd/irisha-manager

FROM scratch
ARG VERSION=dev
ARG REVISION=
LABEL org.opencontainers.image.title="irisha-manager" \
      org.opencontainers.image.description="irisha: InterSystems IRIS highly available on Kubernetes without mirroring (operator, in-pod agent, node witness)" \
      org.opencontainers.image.source="https://github.com/irisha/irisha" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
# Owned by root, mode 0755 (the build's): the user below can run it, not replace it.
COPY --from=build /out/irisha-manager /irisha-manager
# Numeric, so runAsNonRoot can be checked without a passwd file.
USER 65532:65532
ENTRYPOINT ["/irisha-manager"]
