# The bridge as a small non-root image. Config, registration (and a SQLite database, if used)
# live in the /data volume; the first run writes them (bridge/entrypoint.py, README.md "Running
# with Docker").

# Build: a wheel of the bridge, installed (not editable) with its pinned dependencies into a
# virtualenv that the runtime stage copies whole.
FROM python:3.11-slim AS build
WORKDIR /src
# config.example.yaml: bridge/config/config.example.yaml is a symlink to it; the wheel gets
# its content.
COPY pyproject.toml constraints.txt README.md config.example.yaml ./
COPY bridge ./bridge
COPY portals ./portals
COPY connectors ./connectors
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/bridge \
    && /opt/bridge/bin/pip install --no-cache-dir --constraint constraints.txt /wheels/*.whl

FROM python:3.11-slim
# A fixed uid (the data volume's files belong to it) and gid 991: the group the official
# Synapse image runs as, so a Synapse sharing the volume can read the registration (0640).
RUN groupadd --gid 991 matrix \
    && useradd --uid 1337 --gid 991 --no-create-home --home-dir /data --shell /usr/sbin/nologin bridge \
    && mkdir /data && chown 1337:991 /data && chmod 750 /data
COPY --from=build /opt/bridge /opt/bridge
ENV PATH=/opt/bridge/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    BRIDGE_DATA_DIR=/data \
    BRIDGE_APPSERVICE_HOSTNAME=0.0.0.0
USER 1337:991
WORKDIR /data
VOLUME /data
EXPOSE 29317
ENTRYPOINT ["python", "-m", "bridge.entrypoint"]
