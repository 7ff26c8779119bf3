# patchcore-cpp in a container: `docker build -t patchcore-trainer .`, then
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD/data:/workspace/data:ro" \
#     -v "$PWD/out:/workspace/output" -v "$HOME/.cache/patchcore:/cache" \
#     patchcore-trainer --pattern-name my_model [train options]
# or docker/docker_run_with_data.sh DATA_DIR OUTPUT_DIR (README, "Docker").
ARG BASE_IMAGE=debian:bookworm-slim

# ---- build stage: the project's own dependency script, a Release build, `cmake --install` --------
FROM ${BASE_IMAGE} AS build
# Dependencies first (their own layer: cached while only the sources change). Test-only packages skipped.
COPY scripts/install-deps.sh scripts/install-onnxruntime.sh /src/scripts/
RUN bash /src/scripts/install-deps.sh --no-test-deps && rm -rf /var/lib/apt/lists/*
COPY . /src
# One RUN for configure, build, install (every step is a full copy of the file system under the vfs
# storage driver). Tests and benchmarks are not built.
RUN cmake -S /src -B /tmp/build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DPATCHCORE_BUILD_TESTS=OFF -DPATCHCORE_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX=/opt/patchcore \
 && cmake --build /tmp/build -j "$(nproc)" \
 && cmake --install /tmp/build --strip \
 && bash /src/docker/runtime-packages.sh /opt/patchcore/bin/patchcore > /opt/patchcore/runtime-packages.txt \
 && rm -rf /tmp/build

# ---- runtime stage: the installed CLI and the Debian packages of the libraries it loads ------------
# The small steps first and the package installation last: each step copies the whole file system
# under the vfs storage driver, which is cheap before the ~1.2 GB of libraries arrive.
FROM ${BASE_IMAGE}
# Weights cache: mount the host's (-v ~/.cache/patchcore:/cache); the image ships no weights.
ENV PATCHCORE_HOME=/cache
WORKDIR /workspace
# `docker run IMAGE [train options]` trains (--data-dir /workspace/data --output /workspace/output
# unless given); `docker run IMAGE predict|export|fetch-weights|make-demo-data|... ARGS` runs that command.
ENTRYPOINT ["/usr/local/bin/patchcore-entrypoint"]
COPY docker/entrypoint.sh /usr/local/bin/patchcore-entrypoint
COPY --from=build /opt/patchcore/runtime-packages.txt /usr/local/share/patchcore/runtime-packages.txt
COPY --from=build /opt/patchcore/bin/patchcore /usr/local/bin/patchcore
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ca-certificates \
      $(cat /usr/local/share/patchcore/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /workspace/data /workspace/output /cache && chmod 1777 /workspace/output /cache \
 && patchcore --version >/dev/null
